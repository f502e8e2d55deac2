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
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from notifications.channels import OutgoingMessage, TransportError, transport_for
from notifications.rendering import MessageData, render_message
from pushpay.errors import InvalidInput
from pushpay.ids import random_string
from requests_app.links import payment_url
from requests_app.models import Participant, PaymentRequest, RequestEvent

from .models import COLLECTING_TRIGGERS, Channel, Dispatch

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Wait after attempt n failed: 1 min, 5 min, 25 min, about 2 h.
BACKOFF_SECONDS = (60, 300, 1_500, 7_500)
# Webhook receivers are the integrator's own servers, which go down for maintenance: they get
# retries spread over about three days (ARCHITECTURE.md), email and SMS providers a few hours.
WEBHOOK_BACKOFF_SECONDS = (60, 300, 1_800, 7_200, 21_600, 43_200, 86_400, 86_400)


def retry_policy(channel: str) -> tuple[int, tuple[int, ...]]:
    """How many attempts a message of this channel gets, and the waits between them."""
    if channel == Channel.WEBHOOK:
        return len(WEBHOOK_BACKOFF_SECONDS) + 1, WEBHOOK_BACKOFF_SECONDS
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


def _skip_reason(dispatch: Dispatch, concerned: Participant | None) -> str:
    step = dispatch.step
    request: PaymentRequest = dispatch.request
    if step.scenario.is_paused or getattr(request, "notifications_paused", False):
        return "paused"
    if dispatch.resend_of_id is not None:
        return "" if dispatch.recipient else "no_recipient"  # an operator asked explicitly
    if step.trigger in COLLECTING_TRIGGERS and not request.is_collecting:
        return {
            PaymentRequest.Status.CANCELLED: "request_cancelled",
            PaymentRequest.Status.EXPIRED: "request_expired",
            PaymentRequest.Status.PAID: "already_paid",
        }.get(request.status, "request_closed")
    participant = dispatch.participant
    needs_unpaid = step.needs_unpaid or (step.repeat_until_paid and dispatch.repetition > 0)
    if participant is not None and needs_unpaid and participant.status not in Participant.UNPAID:
        return {
            Participant.Status.PAID: "already_paid",
            Participant.Status.REFUNDED: "already_paid",
            Participant.Status.CANCELLED: "participant_cancelled",
            Participant.Status.EXPIRED: "request_expired",
        }.get(participant.status, "not_due")
    if step.min_amount is not None and participant is not None:
        owed = participant.amount_due
        if owed is not None and owed < step.min_amount:
            return "condition_not_met"
    if dispatch.channel == Channel.WEBHOOK and not (
        step.webhook_endpoint and step.webhook_endpoint.is_active
    ):
        return "endpoint_disabled"
    if dispatch.channel == Channel.WEBHOOK and step.webhook_endpoint.livemode != dispatch.livemode:
        # Scenarios serve both modes, endpoints only one: test events never reach a live
        # endpoint (and the reverse), whatever the scenario says.
        return "endpoint_other_mode"
    if not dispatch.recipient:
        return "no_recipient"
    return ""


def _pay_url(participant: Participant | None) -> str:
    return payment_url(participant) if participant is not None else ""


def _message_data(dispatch: Dispatch, concerned: Participant | None) -> MessageData:
    request = dispatch.request
    merchant = request.merchant
    # Whom the message is about: the recipient, or for initiator/merchant notices of an
    # event (participant_paid), the participant concerned.
    payer = concerned if concerned is not None else dispatch.participant
    amount_due = None
    if payer is not None:
        amount_due = payer.amount_due
    elif request.total_amount is not None:
        amount_due = max(request.total_amount - request.amount_paid, 0)
    pay_url = _pay_url(payer)
    return MessageData(
        payer_name=payer.name if payer else "",
        payer_email=payer.email if payer else "",
        payer_phone=payer.phone if payer else "",
        merchant_name=merchant.name,
        reference=request.reference,
        description=request.description,
        amount_due=amount_due,
        currency=request.currency,
        deadline=request.deadline,
        time_zone=merchant.time_zone,
        pay_url=pay_url,
        retry_url=pay_url,
    )


def _webhook_payload(dispatch: Dispatch, concerned: Participant | None) -> dict:
    request = dispatch.request
    participant = concerned or dispatch.participant
    return {
        "type": f"notification.{dispatch.step.trigger}",
        "livemode": dispatch.livemode,
        "timestamp": timezone.now().isoformat(),
        "data": {
            "notification": dispatch.public_id,
            "scenario": dispatch.step.scenario.public_id,
            "step": dispatch.step.position,
            "repetition": dispatch.repetition,
            "payment_request": {
                "id": request.public_id,
                "livemode": request.livemode,
                "reference": request.reference,
                "status": request.status,
                "currency": request.currency,
                "total_amount": request.total_amount,
                "amount_paid": request.amount_paid,
                "deadline": request.deadline.isoformat() if request.deadline else None,
            },
            "participant": None
            if participant is None
            else {
                "id": participant.public_id,
                "name": participant.name,
                "status": participant.status,
                "amount_due": participant.amount_due,
            },
        },
    }


def _outgoing(dispatch: Dispatch, concerned: Participant | None) -> OutgoingMessage:
    merchant = dispatch.request.merchant
    if dispatch.channel == Channel.WEBHOOK:
        endpoint = dispatch.step.webhook_endpoint
        return OutgoingMessage(
            message_id=dispatch.public_id,
            merchant_id=merchant.pk,
            to=endpoint.url,
            payload=_webhook_payload(dispatch, concerned),
            secret=endpoint.secret,
            livemode=dispatch.livemode,
        )
    rendered = render_message(
        template=dispatch.step.template,
        language=dispatch.language,
        data=_message_data(dispatch, concerned),
    )
    return OutgoingMessage(
        message_id=dispatch.public_id,
        merchant_id=merchant.pk,
        to=dispatch.recipient,
        subject=rendered.subject or "",
        text=rendered.text,
        html=rendered.html or "",
        reply_to=merchant.contact_email,
        livemode=dispatch.livemode,
    )


def _process(dispatch: Dispatch, worker_id: str, events: dict[int, RequestEvent]) -> str:
    max_attempts, backoff = retry_policy(dispatch.channel)
    if dispatch.attempts > max_attempts:
        # Claimed again and again without an outcome: its sends keep killing workers.
        _finish(dispatch, worker_id, Dispatch.Status.FAILED, last_error="too many attempts")
        return Dispatch.Status.FAILED
    event = events.get(dispatch.event_id) if dispatch.event_id else None
    concerned = event.participant if event is not None else None
    reason = _skip_reason(dispatch, concerned)
    if reason:
        _finish(dispatch, worker_id, Dispatch.Status.SKIPPED, skip_reason=reason)
        return Dispatch.Status.SKIPPED
    try:
        message = _outgoing(dispatch, concerned)
    except InvalidInput as exc:  # a template that cannot render these values
        _finish(dispatch, worker_id, Dispatch.Status.FAILED, last_error=f"template: {exc.message}")
        return Dispatch.Status.FAILED
    transport = transport_for(dispatch.channel, livemode=dispatch.livemode)
    try:
        if transport.is_local:
            # The local outbox is our own database: the message and its "sent" commit
            # together, so a crash can neither lose it nor send it twice.
            with transaction.atomic():
                result = transport.send(message)
                if not _record_sent(dispatch, worker_id, message, result.provider_message_id):
                    raise _LeaseLost
            return Dispatch.Status.SENT
        result = transport.send(message)
    except _LeaseLost:
        return "lease_lost"
    except TransportError as exc:
        if exc.permanent or dispatch.attempts >= max_attempts:
            _finish(dispatch, worker_id, Dispatch.Status.FAILED, last_error=exc.message[:2000])
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
        return Dispatch.Status.PLANNED
    _record_sent(dispatch, worker_id, message, result.provider_message_id)
    return Dispatch.Status.SENT


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
    rows = list(
        Dispatch.objects.filter(pk__in=ids, leased_by=worker_id, status=Dispatch.Status.SENDING)
        .select_related(
            "request",
            "request__merchant",
            "participant",
            "step",
            "step__scenario",
            "step__template",
            "step__webhook_endpoint",
        )
        .order_by("next_attempt_at", "id")
    )
    event_ids = {row.event_id for row in rows if row.event_id}
    events = {
        event.pk: event
        for event in RequestEvent.objects.filter(pk__in=event_ids).select_related("participant")
    }
    outcomes: dict[str, int] = {}
    for index, row in enumerate(rows):
        if timezone.now() >= stop:
            _release([r.pk for r in rows[index:]], worker_id)
            outcomes["released"] = len(rows) - index
            break
        try:
            outcome = _process(row, worker_id, events)
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
