"""The dispatcher: claims due rows of the outbox, sends them, records what happened.

Claiming is one short transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL) picks
rows no other worker holds, and they become ``sending`` with a lease before it commits. Sends
happen after that, outside any transaction, and each result is recorded with a conditional
UPDATE that only succeeds while this worker still holds the lease. A worker that dies leaves
its rows ``sending``; once the lease expires any worker claims them again. On SQLite
``select_for_update`` does nothing and the IMMEDIATE transaction (one writer at a time)
keeps two claims apart instead.

Within a worker, up to DISPATCH_CONCURRENCY sends are in flight at once in a thread pool,
which stays full from one claimed batch to the next; only the transport call runs there,
every read and write of the outbox stays on the worker's own thread, so the lease rules above
hold unchanged (sent rows are recorded in bulk, each only if its lease is still held). Email
and SMS go through per-process token buckets (notifications/ratelimit.py); a provider's 429
puts the row back to planned, uncounted.

A message whose transport accepted it but whose worker died before recording it is sent
again after the lease: delivery is at least once. The dispatch's public id travels with each
message (webhook-id, email metadata) so receivers can drop the duplicate.
"""

import logging
import os
import socket
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, Prefetch
from django.utils import timezone

from pushpay.errors import InvalidInput
from pushpay.ids import random_string

from .channels import OutgoingMessage, SendResult, TransportError, transport_for
from .kinds import outbox_kind_get, outbox_kinds
from .models import Channel, DeliveryAttempt, Dispatch
from .ratelimit import rate_limiter

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Wait after attempt n failed: 1 min, 5 min, 25 min, about 2 h.
BACKOFF_SECONDS = (60, 300, 1_500, 7_500)
# Channels sent through a provider account with documented limits; webhooks go to each
# integrator's own server, whose 429 is an ordinary retry on the webhook schedule.
RATE_LIMITED_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS})


def retry_policy(channel: str) -> tuple[int, tuple[int, ...]]:
    """How many attempts a message of this channel gets, and the waits between them.

    Webhook receivers are the integrator's own servers, which go down for maintenance: every
    webhook (subscribed endpoints and scenario steps alike) follows WEBHOOK_RETRY_SCHEDULE,
    about three days by default; email and SMS providers get a few hours."""
    if channel == Channel.WEBHOOK:
        schedule = tuple(settings.WEBHOOK_RETRY_SCHEDULE)
        return len(schedule) + 1, schedule
    return MAX_ATTEMPTS, BACKOFF_SECONDS


def lease_duration() -> timedelta:
    return timedelta(seconds=getattr(settings, "SCENARIOS_LEASE_SECONDS", 300))


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random_string(6)}"


def claim_due(*, batch_size: int, worker_id: str) -> list[int]:
    """Take up to ``batch_size`` due rows for this worker; commits before returning.

    Two index-backed reads rather than one OR: rows whose lease ran out (a worker died),
    then planned rows in the order they fall due. ``next_attempt_at`` is ``due_at`` until a
    retry pushes it later, so it alone says whether a planned row is due.
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Dispatch.objects.select_for_update(skip_locked=True)
            .filter(status=Dispatch.Status.SENDING, lease_until__lt=now)
            .order_by("lease_until", "id")
            .values_list("pk", flat=True)[:batch_size]
        )
        if len(ids) < batch_size:
            ids += list(
                Dispatch.objects.select_for_update(skip_locked=True)
                .filter(status=Dispatch.Status.PLANNED, next_attempt_at__lte=now)
                .order_by("next_attempt_at", "id")
                .values_list("pk", flat=True)[: batch_size - len(ids)]
            )
        if ids:
            Dispatch.objects.filter(pk__in=ids).update(
                status=Dispatch.Status.SENDING,
                lease_until=now + lease_duration(),
                leased_by=worker_id,
                attempts=F("attempts") + 1,
                updated_at=now,
            )
    return ids


def _finish(dispatch: Dispatch, worker_id: str, target: str, **fields) -> bool:
    """Record the outcome, only if this worker still holds the row (its lease may have
    expired and another worker taken over)."""
    assert target in Dispatch.TRANSITIONS[Dispatch.Status.SENDING]
    updated = Dispatch.objects.filter(
        pk=dispatch.pk, status=Dispatch.Status.SENDING, leased_by=worker_id
    ).update(status=target, lease_until=None, updated_at=timezone.now(), **fields)
    if not updated:
        logger.warning("Lost the lease of %s before recording %s", dispatch.public_id, target)
    return bool(updated)


@dataclass(slots=True)
class _Ready:
    """A row whose message is built and whose remote transport is chosen: what a send needs."""

    dispatch: Dispatch
    kind: object
    message: OutgoingMessage
    transport: object
    max_attempts: int
    backoff: tuple[int, ...]


def _prepare(dispatch: Dispatch, worker_id: str) -> "_Ready | str":
    """Everything before the send, on the dispatcher's own thread and connection: an outcome
    when the row ends here (skipped, failed, sent through the local outbox, deferred by the
    rate limit), otherwise what the send needs.

    The message is rendered here too, not in the pool thread that sends it: measured with
    the 100 ms provider stand-in, rendering in the pool's 64 threads doubled the process's
    CPU time per message (they contend for the one interpreter lock) and cut its rate by a
    third."""
    max_attempts, backoff = retry_policy(dispatch.channel)
    if dispatch.attempts > max_attempts:
        # Claimed again and again without an outcome: its sends keep killing workers.
        _finish(dispatch, worker_id, Dispatch.Status.FAILED, last_error="too many attempts")
        return Dispatch.Status.FAILED
    try:
        kind = outbox_kind_get(dispatch.kind)
    except LookupError as exc:  # its producer was removed: no one can say what to send
        _finish(dispatch, worker_id, Dispatch.Status.FAILED, last_error=str(exc))
        return Dispatch.Status.FAILED
    # The producer re-reads what the send depends on now, not when the batch was claimed:
    # a payer who paid a second ago gets no reminder.
    reason = kind.prepare(dispatch)
    if reason:
        _finish(dispatch, worker_id, Dispatch.Status.SKIPPED, skip_reason=reason)
        return Dispatch.Status.SKIPPED
    try:
        message = kind.build(dispatch)
    except InvalidInput as exc:  # a template that cannot render these values
        _finish(dispatch, worker_id, Dispatch.Status.FAILED, last_error=f"template: {exc.message}")
        return Dispatch.Status.FAILED
    transport = transport_for(dispatch.channel, livemode=dispatch.livemode)
    dispatch.attempt_started_at = timezone.now()
    if transport.is_local:
        # The local outbox is our own database: the message, its attempt and its "sent"
        # commit together, so a crash can neither lose it nor send it twice.
        started = time.monotonic()
        try:
            with transaction.atomic():
                result = transport.send(message)
                if not _record_sent(dispatch, worker_id, message, result.provider_message_id):
                    raise _LeaseLost
                _attempt(dispatch, DeliveryAttempt.Outcome.SENT, started, result=result)
        except _LeaseLost:
            return "lease_lost"
        except TransportError as exc:
            return _record_error(
                _Ready(dispatch, kind, message, transport, max_attempts, backoff),
                worker_id,
                exc,
                started,
            )
        return Dispatch.Status.SENT
    if dispatch.channel in RATE_LIMITED_CHANNELS:
        wait = rate_limiter().acquire(
            dispatch.channel,
            dispatch.merchant_id,
            max_wait=float(getattr(settings, "DISPATCH_RATE_MAX_WAIT_SECONDS", 2.0)),
        )
        if wait:
            _defer(dispatch, worker_id, wait, reason="rate limit")
            return "deferred"
    return _Ready(dispatch, kind, message, transport, max_attempts, backoff)


def _defer(dispatch: Dispatch, worker_id: str, seconds: float, *, reason: str) -> bool:
    """Back to planned for later, the attempt not counted: waiting for a rate limit (ours or
    the provider's 429) is a delay, never a step towards failing the message."""
    return _finish(
        dispatch,
        worker_id,
        Dispatch.Status.PLANNED,
        last_error=reason[:2000],
        next_attempt_at=timezone.now() + timedelta(seconds=seconds),
        leased_by="",
        attempts=F("attempts") - 1,
    )


def _record_error(
    ready: _Ready,
    worker_id: str,
    exc: TransportError,
    started: float,
    duration_ms: int | None = None,
) -> str:
    dispatch, kind = ready.dispatch, ready.kind
    if exc.rate_limited and dispatch.channel in RATE_LIMITED_CHANNELS:
        wait = exc.retry_after or float(
            getattr(settings, "DISPATCH_RATE_LIMITED_BACKOFF_SECONDS", 30)
        )
        rate_limiter().pause(dispatch.channel, wait)
        _attempt(
            dispatch, DeliveryAttempt.Outcome.RETRY, started, error=exc, duration_ms=duration_ms
        )
        _defer(dispatch, worker_id, wait, reason=exc.message)
        return "deferred"
    final = exc.permanent or dispatch.attempts >= ready.max_attempts
    outcome = DeliveryAttempt.Outcome.FAILED if final else DeliveryAttempt.Outcome.RETRY
    _attempt(dispatch, outcome, started, error=exc, duration_ms=duration_ms)
    if final:
        _finish(dispatch, worker_id, Dispatch.Status.FAILED, last_error=exc.message[:2000])
        _after_attempt(kind, dispatch, exc)
        return Dispatch.Status.FAILED
    wait = ready.backoff[min(dispatch.attempts, len(ready.backoff)) - 1]
    _finish(
        dispatch,
        worker_id,
        Dispatch.Status.PLANNED,
        last_error=exc.message[:2000],
        next_attempt_at=timezone.now() + timedelta(seconds=wait),
        leased_by="",
    )
    _after_attempt(kind, dispatch, exc)
    return Dispatch.Status.PLANNED


def _process(dispatch: Dispatch, worker_id: str) -> str:
    """One row from start to end on this thread (DISPATCH_CONCURRENCY=1)."""
    ready = _prepare(dispatch, worker_id)
    if isinstance(ready, str):
        return ready
    started = time.monotonic()
    try:
        result = ready.transport.send(ready.message)
    except TransportError as exc:
        return _record_error(ready, worker_id, exc, started)
    _attempt(dispatch, DeliveryAttempt.Outcome.SENT, started, result=result)
    _record_sent(dispatch, worker_id, ready.message, result.provider_message_id)
    _after_attempt(ready.kind, dispatch, None)
    return Dispatch.Status.SENT


def _after_attempt(kind, dispatch: Dispatch, error: TransportError | None) -> None:
    if kind.after_attempt is None:
        return
    try:
        kind.after_attempt(dispatch, error)
    except Exception:  # bookkeeping about the receiver must not undo a recorded send
        logger.exception("after_attempt of %s failed for %s", kind.name, dispatch.public_id)


def _attempt(
    dispatch: Dispatch,
    outcome: str,
    started: float,
    *,
    result: SendResult | None = None,
    error: TransportError | None = None,
    duration_ms: int | None = None,
) -> None:
    _attempt_row(
        dispatch, outcome, started, result=result, error=error, duration_ms=duration_ms
    ).save(force_insert=True)


def _attempt_row(
    dispatch: Dispatch,
    outcome: str,
    started: float,
    *,
    result: SendResult | None = None,
    error: TransportError | None = None,
    duration_ms: int | None = None,
) -> DeliveryAttempt:
    if duration_ms is None:
        duration_ms = int((time.monotonic() - started) * 1000)
    return DeliveryAttempt(
        merchant_id=dispatch.merchant_id,
        dispatch=dispatch,
        number=dispatch.attempts,
        outcome=outcome,
        status_code=(result.status_code if result else error.status_code if error else None),
        provider_message_id=(result.provider_message_id if result else "")[:200],
        duration_ms=duration_ms,
        error=error.message[:2000] if error else "",
        response_excerpt=(
            result.response_excerpt if result else error.response_excerpt if error else ""
        )[:1024],
        started_at=getattr(dispatch, "attempt_started_at", None),
    )


class _LeaseLost(Exception):
    pass


def _record_sent(
    dispatch: Dispatch, worker_id: str, message: OutgoingMessage, provider_message_id: str
) -> bool:
    return _finish(
        dispatch,
        worker_id,
        Dispatch.Status.SENT,
        sent_at=timezone.now(),
        subject=message.subject[:300],
        body_text=message.text,
        body_html=message.html,
        provider_message_id=provider_message_id[:200],
        last_error="",
    )


def _release(ids: list[int], worker_id: str) -> None:
    """Give back claimed rows this worker will not get to; they were not attempted."""
    Dispatch.objects.filter(pk__in=ids, status=Dispatch.Status.SENDING, leased_by=worker_id).update(
        status=Dispatch.Status.PLANNED,
        attempts=F("attempts") - 1,
        lease_until=None,
        leased_by="",
        updated_at=timezone.now(),
    )


def send_claimed(
    ids: list[int],
    *,
    worker_id: str,
    stop_at: datetime | None = None,
    sender: "_PooledSender | None" = None,
) -> dict[str, int]:
    """Send rows this worker claimed, outside any transaction: DISPATCH_CONCURRENCY at a
    time through a thread pool, or one by one when it is 1.

    Slow transports could outlast the lease, and another worker would then send the same
    rows again: past four fifths of the lease (or ``stop_at``) the rest is given back.

    With ``sender`` (``dispatch_until_empty`` keeps one across batches) the rows join its
    pool and the sends still in flight when this returns are recorded by later calls or by
    ``sender.close()``; the outcomes returned are then those recorded so far.
    """
    started = timezone.now()
    stop = started + lease_duration() * 0.8
    if stop_at is not None:
        stop = min(stop, stop_at)
    rows = _claimed_rows(ids, worker_id)
    if sender is not None:
        sender.feed(rows, stop)
        return dict(sender.outcomes)
    concurrency = dispatch_concurrency()
    if concurrency > 1:
        sender = _PooledSender(worker_id, concurrency)
        try:
            sender.feed(rows, stop)
        finally:
            sender.close()
        return sender.outcomes
    outcomes: dict[str, int] = {}
    for index, row in enumerate(rows):
        if timezone.now() >= stop:
            _release([r.pk for r in rows[index:]], worker_id)
            outcomes["released"] = len(rows) - index
            break
        try:
            outcome = _process(row, worker_id)
        except Exception:  # one bad row must not strand the rest of the batch
            logger.exception("Dispatch %s crashed; its lease will expire", row.public_id)
            outcome = "crashed"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def _claimed_rows(ids: list[int], worker_id: str) -> list[Dispatch]:
    """The claimed rows, with what their kinds load once per batch."""
    paths = {"request__merchant"}
    for kind in outbox_kinds():
        paths.update(kind.batch_related)
    return list(
        Dispatch.objects.filter(pk__in=ids, leased_by=worker_id, status=Dispatch.Status.SENDING)
        .prefetch_related(*_batch_prefetches(paths))
        .order_by("next_attempt_at", "id")
    )


def _batch_prefetches(paths: set[str]) -> list[Prefetch]:
    """One read per relation of the row ("step", "request"), joining what lies beyond it
    ("step__template"): a campaign's batch shares one step, template, request and merchant,
    read once and shared by every row, where joining them to the rows would build (and
    decode the JSON of) one copy of each per row."""
    beyond: dict[str, set[str]] = {}
    for path in paths:
        root, _, rest = path.partition("__")
        beyond.setdefault(root, set())
        if rest:
            beyond[root].add(rest)
    prefetches = []
    for root, rest in sorted(beyond.items()):
        queryset = Dispatch._meta.get_field(root).related_model._base_manager.all()
        if rest:  # select_related() without names would follow every foreign key
            queryset = queryset.select_related(*sorted(rest))
        prefetches.append(Prefetch(root, queryset=queryset))
    return prefetches


def dispatch_concurrency() -> int:
    return max(1, int(getattr(settings, "DISPATCH_CONCURRENCY", 1)))


# Sent rows are recorded in one statement per this many (or when the batch ends).
RECORD_BATCH = 50


def _send_in_thread(transport, message: OutgoingMessage) -> tuple:
    """Runs in a pool thread: the transport call alone. Whatever database connection a
    transport opens here is this thread's own (Django's are per thread) and is closed before
    the thread takes the next message."""
    started = time.monotonic()
    try:
        try:
            result = transport.send(message)
        except TransportError as exc:
            return None, exc, int((time.monotonic() - started) * 1000)
        return result, None, int((time.monotonic() - started) * 1000)
    finally:
        connections.close_all()


def _prepare_chunk(rows: list[Dispatch]) -> None:
    """Let each kind read afresh, in one go, what its re-check needs for the next rows to be
    sent (as many as the pool holds); a kind without ``prepare_many``, or a failed read, leaves
    ``prepare`` to read row by row as before."""
    by_kind: dict[str, list[Dispatch]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row)
    for name, kind_rows in by_kind.items():
        try:
            kind = outbox_kind_get(name)
        except LookupError:
            continue
        if kind.prepare_many is None:
            continue
        try:
            kind.prepare_many(kind_rows)
        except Exception:
            logger.exception(
                "Reading %d %s rows at once failed; reading them one by one", len(kind_rows), name
            )


class _PooledSender:
    """Up to ``concurrency`` sends in flight in a thread pool; every database read and write
    stays on this thread, so the rows are prepared and their outcomes recorded exactly as one
    at a time (under the lease), sent rows in bulk.

    One sender can take batch after batch (``feed``): the next batch is claimed and its
    first rows prepared while the previous batch's last sends are in flight, instead of the
    pool running dry at the end of every batch (a batch of 100 at 64 in flight would
    otherwise take two full provider round trips, whatever the provider's capacity).
    ``close`` waits for what is in flight, records it and ends the pool's threads.
    """

    def __init__(self, worker_id: str, concurrency: int):
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.outcomes: dict[str, int] = {}
        self.pending: dict[Future, _Ready] = {}
        self.sent: list[tuple[_Ready, SendResult, int]] = []
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="dispatch")

    def count(self, outcome: str, n: int = 1) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + n

    def feed(self, rows: list[Dispatch], stop: datetime) -> None:
        """Prepare and submit ``rows`` in order, waiting for a free slot after each submit;
        the rows not started by ``stop`` are given back."""
        for index, row in enumerate(rows):
            if timezone.now() >= stop:
                _release([r.pk for r in rows[index:]], self.worker_id)
                self.count("released", len(rows) - index)
                break
            if index % self.concurrency == 0:
                _prepare_chunk(rows[index : index + self.concurrency])
            try:
                ready = _prepare(row, self.worker_id)
            except Exception:
                logger.exception("Dispatch %s crashed; its lease will expire", row.public_id)
                self.count("crashed")
                continue
            if isinstance(ready, str):
                self.count(ready)
                continue
            future = self.pool.submit(_send_in_thread, ready.transport, ready.message)
            self.pending[future] = ready
            if len(self.pending) >= self.concurrency:
                self._collect(wait(self.pending, return_when=FIRST_COMPLETED).done)

    def close(self) -> None:
        try:
            while self.pending:
                self._collect(wait(self.pending, return_when=FIRST_COMPLETED).done)
            self._flush()
        finally:
            self.pool.shutdown(wait=True)

    def _collect(self, done) -> None:
        for future in done:
            ready = self.pending.pop(future)
            try:
                result, error, duration_ms = future.result()
            except Exception:  # a transport bug: the row's lease will expire, as one by one
                logger.exception(
                    "Dispatch %s crashed; its lease will expire", ready.dispatch.public_id
                )
                self.count("crashed")
                continue
            if error is not None:
                try:
                    self.count(_record_error(ready, self.worker_id, error, 0.0, duration_ms))
                except Exception:
                    logger.exception("Recording %s failed", ready.dispatch.public_id)
                    self.count("crashed")
            else:
                self.sent.append((ready, result, duration_ms))
        if len(self.sent) >= RECORD_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self.sent:
            recorded = _record_sent_batch(self.sent, self.worker_id)
            self.count(Dispatch.Status.SENT, recorded)
            if len(self.sent) - recorded:
                self.count("lease_lost", len(self.sent) - recorded)
            self.sent.clear()


def _record_sent_batch(sent: list[tuple[_Ready, SendResult, int]], worker_id: str) -> int:
    """Record sent rows in a few statements, each only while this worker holds its lease;
    returns how many were recorded. The attempts are logged either way, as one by one: the
    provider did take those messages.

    The rows are locked first, so writing them by primary key afterwards cannot overwrite a
    row another worker took meanwhile. The write is one parameterised UPDATE run for every
    row (executemany, pipelined by psycopg): ``bulk_update`` builds a CASE of nine fields
    times fifty rows, whose construction cost more than everything else the dispatcher does
    for a row."""
    with transaction.atomic():
        held = set(
            Dispatch.objects.select_for_update()
            .filter(
                pk__in=[ready.dispatch.pk for ready, _r, _d in sent],
                status=Dispatch.Status.SENDING,
                leased_by=worker_id,
            )
            .values_list("pk", flat=True)
        )
        now = timezone.now()
        attempts, rows = [], []
        for ready, result, duration_ms in sent:
            dispatch, message = ready.dispatch, ready.message
            attempts.append(
                _attempt_row(
                    dispatch,
                    DeliveryAttempt.Outcome.SENT,
                    0.0,
                    result=result,
                    duration_ms=duration_ms,
                )
            )
            if dispatch.pk not in held:
                logger.warning("Lost the lease of %s before recording sent", dispatch.public_id)
                continue
            dispatch.status = Dispatch.Status.SENT
            dispatch.lease_until = None
            dispatch.updated_at = now
            dispatch.sent_at = now
            dispatch.subject = message.subject[:300]
            dispatch.body_text = message.text
            dispatch.body_html = message.html
            dispatch.provider_message_id = result.provider_message_id[:200]
            dispatch.last_error = ""
            rows.append(dispatch)
        DeliveryAttempt.objects.bulk_create(attempts)
        if rows:
            _write_sent(rows, now)
    for ready, _result, _duration in sent:
        if ready.dispatch.pk in held:
            _after_attempt(ready.kind, ready.dispatch, None)
    return len(rows)


# The table and columns are Dispatch's (tests/scenarios/test_dispatch_pool.py checks).
_MARK_SENT = (
    'UPDATE "scenarios_dispatch" SET "status" = %s, "lease_until" = NULL, "updated_at" = %s,'
    ' "sent_at" = %s, "last_error" = %s, "subject" = %s, "body_text" = %s, "body_html" = %s,'
    ' "provider_message_id" = %s WHERE "id" = %s'
)


def _write_sent(rows: list[Dispatch], now: datetime) -> None:
    """Mark locked rows sent with what was sent: one statement, run once per row."""
    connection = connections[Dispatch.objects.db]
    stamp = Dispatch._meta.get_field("sent_at").get_db_prep_value(now, connection)
    params = [
        (
            Dispatch.Status.SENT.value,
            stamp,
            stamp,
            "",
            row.subject,
            row.body_text,
            row.body_html,
            row.provider_message_id,
            row.pk,
        )
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(_MARK_SENT, params)


def dispatch_due(
    *,
    batch_size: int = 100,
    worker_id: str | None = None,
    stop_at: datetime | None = None,
    sender: _PooledSender | None = None,
) -> int:
    """Claim one batch of due rows and send it; return how many rows were claimed."""
    worker_id = worker_id or new_worker_id()
    ids = claim_due(batch_size=batch_size, worker_id=worker_id)
    if ids:
        send_claimed(ids, worker_id=worker_id, stop_at=stop_at, sender=sender)
    return len(ids)


def dispatch_until_empty(
    *, batch_size: int = 100, worker_id: str | None = None, max_seconds: float | None = None
) -> int:
    """Drain what is due now, batch after batch, within an optional time budget; one pool
    serves every batch, so it stays full from one batch to the next."""
    worker_id = worker_id or new_worker_id()
    stop_at = None
    if max_seconds is not None:
        stop_at = timezone.now() + timedelta(seconds=max_seconds)
    concurrency = dispatch_concurrency()
    sender = _PooledSender(worker_id, concurrency) if concurrency > 1 else None
    total = 0
    try:
        while True:
            handled = dispatch_due(
                batch_size=batch_size, worker_id=worker_id, stop_at=stop_at, sender=sender
            )
            total += handled
            if handled < batch_size or (stop_at is not None and timezone.now() >= stop_at):
                return total
    finally:
        if sender is not None:
            sender.close()
