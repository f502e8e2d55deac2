"""The dispatcher: claims due rows of the outbox, sends them, records what happened.

Claiming is one short transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL) picks
rows no other worker holds, and they become ``sending`` with a lease before it commits. Sends
happen after that, outside any transaction, and each result is recorded with a conditional
UPDATE that only succeeds while this worker still holds the lease. A worker that dies leaves
its rows ``sending``; once the lease expires any worker claims them again. On SQLite
``select_for_update`` does nothing and the IMMEDIATE transaction (one writer at a time)
keeps two claims apart instead.

Within a worker, up to DISPATCH_CONCURRENCY sends are in flight at once in a thread pool;
only the transport call runs there, every read and write of the outbox stays on the
worker's own thread, so the lease rules above hold unchanged (sent rows are recorded in bulk,
each only if its lease is still held). Email and SMS go through per-process token buckets
(notifications/ratelimit.py); a provider's 429 puts the row back to planned, uncounted.

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
from django.db.models import F
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
    rate limit), otherwise what the send needs."""
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
    ids: list[int], *, worker_id: str, stop_at: datetime | None = None
) -> dict[str, int]:
    """Send rows this worker claimed, outside any transaction: DISPATCH_CONCURRENCY at a
    time through a thread pool, or one by one when it is 1.

    Slow transports could outlast the lease, and another worker would then send the same
    rows again: past four fifths of the lease (or ``stop_at``) the rest is given back.
    """
    started = timezone.now()
    stop = started + lease_duration() * 0.8
    if stop_at is not None:
        stop = min(stop, stop_at)
    related = {"request__merchant"}
    for kind in outbox_kinds():
        related.update(kind.batch_related)
    rows = list(
        Dispatch.objects.filter(pk__in=ids, leased_by=worker_id, status=Dispatch.Status.SENDING)
        .select_related(*sorted(related))
        .order_by("next_attempt_at", "id")
    )
    concurrency = dispatch_concurrency()
    if concurrency > 1:
        return _send_concurrently(rows, worker_id, stop, concurrency)
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


def _send_concurrently(
    rows: list[Dispatch], worker_id: str, stop: datetime, concurrency: int
) -> dict[str, int]:
    """Up to ``concurrency`` sends in flight in a thread pool; every database read and write
    stays on this thread, so the rows are prepared and their outcomes recorded exactly as one
    at a time (under the lease), sent rows in bulk."""
    outcomes: dict[str, int] = {}

    def count(outcome: str, n: int = 1) -> None:
        outcomes[outcome] = outcomes.get(outcome, 0) + n

    pending: dict[Future, _Ready] = {}
    sent: list[tuple[_Ready, SendResult, int]] = []

    def collect(done) -> None:
        for future in done:
            ready = pending.pop(future)
            try:
                result, error, duration_ms = future.result()
            except Exception:  # a transport bug: the row's lease will expire, as one by one
                logger.exception(
                    "Dispatch %s crashed; its lease will expire", ready.dispatch.public_id
                )
                count("crashed")
                continue
            if error is not None:
                try:
                    count(_record_error(ready, worker_id, error, 0.0, duration_ms))
                except Exception:
                    logger.exception("Recording %s failed", ready.dispatch.public_id)
                    count("crashed")
            else:
                sent.append((ready, result, duration_ms))
        if len(sent) >= RECORD_BATCH:
            flush()

    def flush() -> None:
        if sent:
            recorded = _record_sent_batch(sent, worker_id)
            count(Dispatch.Status.SENT, recorded)
            if len(sent) - recorded:
                count("lease_lost", len(sent) - recorded)
            sent.clear()

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="dispatch") as pool:
        for index, row in enumerate(rows):
            if timezone.now() >= stop:
                _release([r.pk for r in rows[index:]], worker_id)
                count("released", len(rows) - index)
                break
            if index % concurrency == 0:
                _prepare_chunk(rows[index : index + concurrency])
            try:
                ready = _prepare(row, worker_id)
            except Exception:
                logger.exception("Dispatch %s crashed; its lease will expire", row.public_id)
                count("crashed")
                continue
            if isinstance(ready, str):
                count(ready)
                continue
            pending[pool.submit(_send_in_thread, ready.transport, ready.message)] = ready
            if len(pending) >= concurrency:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                collect(done)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            collect(done)
    flush()
    return outcomes


def _record_sent_batch(sent: list[tuple[_Ready, SendResult, int]], worker_id: str) -> int:
    """Record sent rows in a few statements, each only while this worker holds its lease;
    returns how many were recorded. The attempts are logged either way, as one by one: the
    provider did take those messages."""
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
            Dispatch.objects.bulk_update(rows, _SENT_FIELDS)
    for ready, _result, _duration in sent:
        if ready.dispatch.pk in held:
            _after_attempt(ready.kind, ready.dispatch, None)
    return len(rows)


_SENT_FIELDS = (
    "status",
    "lease_until",
    "updated_at",
    "sent_at",
    "subject",
    "body_text",
    "body_html",
    "provider_message_id",
    "last_error",
)


def dispatch_due(
    *, batch_size: int = 100, worker_id: str | None = None, stop_at: datetime | None = None
) -> int:
    """Claim one batch of due rows and send it; return how many rows were claimed."""
    worker_id = worker_id or new_worker_id()
    ids = claim_due(batch_size=batch_size, worker_id=worker_id)
    if ids:
        send_claimed(ids, worker_id=worker_id, stop_at=stop_at)
    return len(ids)


def dispatch_until_empty(
    *, batch_size: int = 100, worker_id: str | None = None, max_seconds: float | None = None
) -> int:
    """Drain what is due now, batch after batch, within an optional time budget."""
    worker_id = worker_id or new_worker_id()
    stop_at = None
    if max_seconds is not None:
        stop_at = timezone.now() + timedelta(seconds=max_seconds)
    total = 0
    while True:
        handled = dispatch_due(batch_size=batch_size, worker_id=worker_id, stop_at=stop_at)
        total += handled
        if handled < batch_size or (stop_at is not None and timezone.now() >= stop_at):
            return total
