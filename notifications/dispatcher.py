"""The dispatcher: claims due rows of the outbox, sends them, records what happened.

Claiming is one short transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL) picks
rows no other worker holds, and they become ``sending`` with a lease before it commits. Sends
happen after that, outside any transaction, and each result is recorded with a conditional
UPDATE that only succeeds while this worker still holds the lease. A worker that dies leaves
its rows ``sending``; once the lease expires any worker claims them again. On SQLite
``select_for_update`` does nothing and the IMMEDIATE transaction (one writer at a time)
keeps two claims apart instead.

A message whose transport accepted it but whose worker died before recording it is sent
again after the lease: delivery is at least once. The dispatch's public id travels with each
message (webhook-id, email metadata) so receivers can drop the duplicate.
"""

import logging
import os
import socket
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from pushpay.errors import InvalidInput
from pushpay.ids import random_string

from .channels import OutgoingMessage, SendResult, TransportError, transport_for
from .kinds import outbox_kind_get, outbox_kinds
from .models import Channel, DeliveryAttempt, Dispatch

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Wait after attempt n failed: 1 min, 5 min, 25 min, about 2 h.
BACKOFF_SECONDS = (60, 300, 1_500, 7_500)


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


def _process(dispatch: Dispatch, worker_id: str) -> str:
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
    started = time.monotonic()
    try:
        if transport.is_local:
            # The local outbox is our own database: the message, its attempt and its "sent"
            # commit together, so a crash can neither lose it nor send it twice.
            with transaction.atomic():
                result = transport.send(message)
                if not _record_sent(dispatch, worker_id, message, result.provider_message_id):
                    raise _LeaseLost
                _attempt(dispatch, DeliveryAttempt.Outcome.SENT, started, result=result)
            return Dispatch.Status.SENT
        result = transport.send(message)
    except _LeaseLost:
        return "lease_lost"
    except TransportError as exc:
        final = exc.permanent or dispatch.attempts >= max_attempts
        outcome = DeliveryAttempt.Outcome.FAILED if final else DeliveryAttempt.Outcome.RETRY
        _attempt(dispatch, outcome, started, error=exc)
        if final:
            _finish(dispatch, worker_id, Dispatch.Status.FAILED, last_error=exc.message[:2000])
            _after_attempt(kind, dispatch, exc)
            return Dispatch.Status.FAILED
        wait = backoff[min(dispatch.attempts, len(backoff)) - 1]
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
    _attempt(dispatch, DeliveryAttempt.Outcome.SENT, started, result=result)
    _record_sent(dispatch, worker_id, message, result.provider_message_id)
    _after_attempt(kind, dispatch, None)
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
) -> None:
    DeliveryAttempt.objects.create(
        merchant_id=dispatch.merchant_id,
        dispatch=dispatch,
        number=dispatch.attempts,
        outcome=outcome,
        status_code=(result.status_code if result else error.status_code if error else None),
        provider_message_id=(result.provider_message_id if result else "")[:200],
        duration_ms=int((time.monotonic() - started) * 1000),
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
    """Send rows this worker claimed, one by one, outside any transaction.

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
