"""A request's life once created: changes while collecting, pausing its reminders, cancelling
and expiring (their reactions, e.g. releasing card holds, hang off the events)."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from pushpay.errors import InvalidInput, StateConflict

from ..events import event_record
from ..locks import lock_participants, lock_request
from ..models import IllegalTransition, Participant, PaymentRequest, RequestEvent
from ..ports import keeps_collecting
from .rules import (
    _UNSET,
    _record_updated,
    _refuse_illegal,
    _transition_participants,
    _transition_request,
    _validate_dates,
)


@transaction.atomic
def payment_request_update(
    *,
    payment_request: PaymentRequest,
    description: str = _UNSET,
    send_at: datetime | None = _UNSET,
    deadline: datetime | None = _UNSET,
    expires_at: datetime | None = _UNSET,
) -> PaymentRequest:
    """Change the wording and the dates of a request that is still collecting."""
    payment_request = lock_request(payment_request.pk)
    if not payment_request.is_collecting:
        raise StateConflict(
            f"A {payment_request.status} request can no longer be changed.",
            code="request_not_editable",
            field="status",
        )
    new_send_at = payment_request.send_at if send_at is _UNSET else send_at
    new_deadline = payment_request.deadline if deadline is _UNSET else deadline
    new_expires_at = payment_request.expires_at if expires_at is _UNSET else expires_at
    now = timezone.now()
    if deadline is not _UNSET and deadline is not None and deadline <= now:
        raise InvalidInput(
            "The deadline is in the past.", code="deadline_in_past", field="deadline"
        )
    if expires_at is not _UNSET and expires_at is not None and expires_at <= now:
        raise InvalidInput(
            "The expiry date is in the past.", code="expiry_in_past", field="expires_at"
        )
    _validate_dates(
        send_at=new_send_at, deadline=new_deadline, expires_at=new_expires_at, check_past=False
    )
    dates_changed = (new_send_at, new_deadline, new_expires_at) != (
        payment_request.send_at,
        payment_request.deadline,
        payment_request.expires_at,
    )
    if description is not _UNSET:
        payment_request.description = description
    payment_request.send_at = new_send_at
    payment_request.deadline = new_deadline
    payment_request.expires_at = new_expires_at
    payment_request.save()
    if dates_changed:
        _record_updated(payment_request, ["dates"])
    return payment_request


@transaction.atomic
def payment_request_set_notifications_paused(
    *, payment_request: PaymentRequest, paused: bool
) -> PaymentRequest:
    """Hold or release one request's reminders (a payer asked for time, a dispute…).

    Messages falling due while paused are skipped, not delayed: resuming never sends a
    burst of stale reminders.
    """
    payment_request = lock_request(payment_request.pk)
    if payment_request.notifications_paused != paused:
        payment_request.notifications_paused = paused
        payment_request.save(update_fields=["notifications_paused", "updated_at"])
    return payment_request


@transaction.atomic
def payment_request_cancel(*, payment_request: PaymentRequest, reason: str = "") -> PaymentRequest:
    """Stop collecting. Unpaid participants are cancelled; paid shares stay as they are."""
    payment_request = lock_request(payment_request.pk)
    try:
        _transition_request(payment_request, PaymentRequest.Status.CANCELLED, reason)
    except IllegalTransition as exc:
        raise _refuse_illegal(exc) from exc
    unpaid = [p for p in lock_participants(payment_request.pk) if p.status in Participant.UNPAID]
    _transition_participants(
        payment_request, unpaid, Participant.Status.CANCELLED, reason or "request cancelled"
    )
    payment_request.save(update_fields=["status", "updated_at"])
    event_record(
        type=RequestEvent.Type.REQUEST_CANCELLED,
        payment_request=payment_request,
        payload={"reason": reason},
    )
    return payment_request


@transaction.atomic
def payment_request_expire(*, payment_request: PaymentRequest) -> PaymentRequest:
    """Close a request at its expiry: unpaid participants expire.

    With nothing collected the request becomes expired; with some money in it becomes
    closed (``closed_at`` says when), and the merchant keeps or refunds what came in.
    """
    payment_request = lock_request(payment_request.pk)
    if not payment_request.is_collecting:
        raise _refuse_illegal(
            IllegalTransition("payment request", payment_request.status, "expired")
        )
    if keeps_collecting(payment_request=payment_request):
        raise StateConflict(
            "An installment plan still collects for this request; it closes once the plan is over.",
            code="installments_running",
            field="status",
        )
    unpaid = [p for p in lock_participants(payment_request.pk) if p.status in Participant.UNPAID]
    _transition_participants(payment_request, unpaid, Participant.Status.EXPIRED, "expired")
    if payment_request.amount_paid == 0:
        _transition_request(payment_request, PaymentRequest.Status.EXPIRED, "expired")
    else:
        _transition_request(payment_request, PaymentRequest.Status.CLOSED, "expired")
        payment_request.closed_at = timezone.now()
    payment_request.save(update_fields=["status", "closed_at", "updated_at"])
    event_record(
        type=RequestEvent.Type.REQUEST_EXPIRED,
        payment_request=payment_request,
        payload={"amount_paid": payment_request.amount_paid},
    )
    return payment_request
