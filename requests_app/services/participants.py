"""Participants: adding and removing payers, and booking what they paid, were refunded or
failed to pay (called by payments once the provider has answered)."""

from django.db import transaction

from pushpay.errors import InvalidInput, StateConflict

from ..events import event_record
from ..locks import lock_participants, lock_request
from ..models import Participant, PaymentRequest, RequestEvent
from ..ports import payment_method_rules
from .rules import (
    MAX_PARTICIPANTS,
    ParticipantData,
    _record_updated,
    _refresh_refund_status,
    _refresh_request_status,
    _transition_participants,
    _validate_participant,
    check_payable_amount,
    participant_refund_status,
    validate_amount,
    validate_installment_offers,
)


@transaction.atomic
def participant_add(*, payment_request: PaymentRequest, data: ParticipantData) -> Participant:
    """Add a payer. In fixed mode their share raises the total by exactly that share: the
    other participants' shares never change behind the merchant's back."""
    payment_request = lock_request(payment_request.pk)
    if not payment_request.is_collecting:
        raise StateConflict(
            f"Participants cannot be added to a {payment_request.status} request.",
            code="request_not_editable",
            field="status",
        )
    data = _validate_participant(data, None, payment_request.amount_mode)
    existing = lock_participants(payment_request.pk)
    if len(existing) >= MAX_PARTICIPANTS:
        raise InvalidInput(
            "A request has at most %(count)s participants.",
            params={"count": MAX_PARTICIPANTS},
            code="too_many_participants",
            field="participants",
        )
    if payment_request.amount_mode == PaymentRequest.AmountMode.FIXED:
        if data.amount is None:
            raise InvalidInput(
                "In fixed mode the participant needs an amount.", code="required", field="amount"
            )
        payment_request.total_amount += data.amount
    # The request's own offer was checked when it was made; whether it still fits this
    # share is seen when the payer comes (payments.installments.offers).
    _none, (own_offer,) = validate_installment_offers(
        merchant=payment_request.merchant,
        currency=payment_request.currency,
        request_offer=None,
        participants=[data],
        shares=[data.amount],
        methods=payment_request.allowed_payment_methods
        or payment_method_rules().enabled(merchant=payment_request.merchant),
        indexes=[None],
    )
    if own_offer and payment_request.form_version_id is not None:
        raise InvalidInput(
            "Installment plans cannot be offered on a request with a smart form.",
            code="installments_with_form",
            field="installments",
        )
    participant = Participant.objects.create(
        merchant_id=payment_request.merchant_id,
        livemode=payment_request.livemode,
        request=payment_request,
        position=max((p.position for p in existing), default=-1) + 1,
        name=data.name.strip(),
        email=data.email,
        phone=data.phone,
        language=data.language or payment_request.language,
        amount=data.amount,
        show_name=data.show_name,
        installments=own_offer,
    )
    _refresh_request_status(payment_request, [*existing, participant], "participant added")
    payment_request.save()
    _record_updated(payment_request, ["participants"])
    return participant


@transaction.atomic
def participant_remove(
    *, payment_request: PaymentRequest, participant: Participant
) -> PaymentRequest:
    """Cancel an unpaid participant; in fixed mode the total drops by their share."""
    payment_request = lock_request(payment_request.pk)
    participants = lock_participants(payment_request.pk)
    participant = next((p for p in participants if p.pk == participant.pk), None)
    if participant is None:
        raise StateConflict(
            "This participant is not part of the request.",
            code="participant_not_in_request",
            field="participant",
        )
    if not payment_request.is_collecting:
        raise StateConflict(
            f"Participants cannot be removed from a {payment_request.status} request.",
            code="request_not_editable",
            field="status",
        )
    if participant.status not in Participant.UNPAID or participant.amount_paid > 0:
        raise StateConflict(
            f"A {participant.status} participant cannot be removed.",
            code="participant_not_removable",
            field="participant",
        )
    active = [p for p in participants if p.status != Participant.Status.CANCELLED]
    if len(active) == 1:
        raise StateConflict(
            "The last participant cannot be removed; cancel the request instead.",
            code="last_participant",
            field="participant",
        )
    _transition_participants(
        payment_request, [participant], Participant.Status.CANCELLED, "removed"
    )
    if payment_request.amount_mode == PaymentRequest.AmountMode.FIXED:
        payment_request.total_amount -= participant.amount
    _refresh_request_status(payment_request, participants, "participant removed")
    payment_request.save()
    _record_updated(payment_request, ["participants"], removed=participant.public_id)
    return payment_request


@transaction.atomic
def participant_record_payment(
    *, participant: Participant, amount: int, payment: dict | None = None
) -> Participant:
    """Book money received from a participant and move the request forward.

    The request row is locked first, so concurrent payers of one request are serialised and
    can never book more than is due (ARCHITECTURE.md guarantee 3). ``payment`` describes the
    captured payment (checkout, method); its ``payment_succeeded`` event is recorded first,
    before ``participant_paid`` and ``request_completed``, so reactions see facts in order.
    """
    validate_amount(amount, "amount")
    payment_request = lock_request(participant.request_id)
    participants = lock_participants(payment_request.pk)
    participant = next(p for p in participants if p.pk == participant.pk)
    if not payment_request.is_collecting or participant.status not in Participant.UNPAID:
        raise StateConflict(
            "This payment is no longer expected.", code="payment_not_expected", field="amount"
        )
    check_payable_amount(payment_request, participant, amount)
    if payment is not None:
        event_record(
            type=RequestEvent.Type.PAYMENT_SUCCEEDED,
            payment_request=payment_request,
            participant=participant,
            payload={**payment, "amount": amount},
        )
    participant.amount_paid += amount
    participant.save(update_fields=["amount_paid", "updated_at"])
    payment_request.amount_paid += amount
    fully_paid = (
        payment_request.amount_mode == PaymentRequest.AmountMode.FREE
        or participant.amount_paid >= participant.amount
    )
    if fully_paid:
        _transition_participants(payment_request, [participant], Participant.Status.PAID, "paid")
        event_record(
            type=RequestEvent.Type.PARTICIPANT_PAID,
            payment_request=payment_request,
            participant=participant,
            payload={"amount": amount, "amount_paid": participant.amount_paid},
        )
    _refresh_request_status(payment_request, participants, "payment received")
    payment_request.save()
    return participant


@transaction.atomic
def participant_record_refund(
    *, participant: Participant, amount: int, checkouts: list[str] | None = None
) -> Participant:
    """Book money given back to a participant (the provider already refunded it).

    Records ``payment_refunded`` (its reactions plan the payer's refund notice) and moves
    the participant, and a paid or closed request, to partially_refunded or refunded.
    ``checkouts`` names the checkouts the money came back from.
    """
    validate_amount(amount, "amount")
    payment_request = lock_request(participant.request_id)
    participant = next(p for p in lock_participants(payment_request.pk) if p.pk == participant.pk)
    if amount > participant.amount_paid - participant.amount_refunded:
        raise StateConflict(
            "More than was paid cannot be refunded.", code="refund_exceeds_paid", field="amount"
        )
    participant.amount_refunded += amount
    participant.save(update_fields=["amount_refunded", "updated_at"])
    payment_request.amount_refunded += amount
    target = participant_refund_status(participant)
    if target != participant.status:
        _transition_participants(payment_request, [participant], target, "refunded")
    _refresh_refund_status(payment_request, "refunded")
    payment_request.save(update_fields=["amount_refunded", "status", "updated_at"])
    event_record(
        type=RequestEvent.Type.PAYMENT_REFUNDED,
        payment_request=payment_request,
        participant=participant,
        payload={
            "participant": participant.public_id,
            "amount": amount,
            "amount_refunded": participant.amount_refunded,
            "checkouts": list(checkouts or []),
        },
    )
    return participant


@transaction.atomic
def participant_record_failure(
    *, participant: Participant, reason: str, payload: dict | None = None
) -> Participant:
    """A payer's attempt failed: they stay asked to pay (status failed, retry allowed)."""
    payment_request = lock_request(participant.request_id)
    participant = next(p for p in lock_participants(payment_request.pk) if p.pk == participant.pk)
    if participant.status in Participant.UNPAID and payment_request.is_collecting:
        _transition_participants(payment_request, [participant], Participant.Status.FAILED, reason)
    event_record(
        type=RequestEvent.Type.PAYMENT_FAILED,
        payment_request=payment_request,
        participant=participant,
        payload={"reason": reason, **(payload or {})},
    )
    return participant
