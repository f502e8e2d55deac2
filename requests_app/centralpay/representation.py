"""Our payment requests as CentralPay's API shows them (``paymentRequest``, ``breakdowns``).

Field names, status words and the date format are CentralPay's, so that a client's existing
deserialisation keeps working: dates always carry six fractional digits and an offset
(``2026-12-31T17:00:00.000000+00:00``), the pattern such clients parse with.
"""

from collections.abc import Collection, Mapping
from datetime import UTC, datetime

from ..links import payment_url
from ..models import Participant, PaymentRequest

ACTIVE, CLOSED, CANCELED = "ACTIVE", "CLOSED", "CANCELED"
UNPAID, PARTIALLY_PAID, PAID = "UNPAID", "PARTIALLY_PAID", "PAID"


def centralpay_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def request_status(payment_request: PaymentRequest) -> str:
    """ACTIVE while payments are taken; CANCELED when the merchant stopped it; CLOSED once
    it is final otherwise, paid or not (paid, closed, expired, refunded)."""
    if payment_request.is_collecting:
        return ACTIVE
    if payment_request.status == PaymentRequest.Status.CANCELLED:
        return CANCELED
    return CLOSED


def payment_status(payment_request: PaymentRequest) -> str:
    """What was paid against what is due; a refund later does not unsay that it was paid."""
    paid = payment_request.amount_paid
    if paid <= 0:
        return UNPAID
    if payment_request.status == PaymentRequest.Status.PAID or (
        payment_request.total_amount is not None and paid >= payment_request.total_amount
    ):
        return PAID
    return PARTIALLY_PAID


def _names(participant: Participant, meta: Mapping) -> tuple[str | None, str | None]:
    """firstName and lastName as the client gave them: we store one name, and the creation
    recorded where the first name ends (-1: no name was given, the email stands in)."""
    lengths = meta.get("first_name_lengths")
    position = participant.position
    if isinstance(lengths, list) and position < len(lengths) and isinstance(lengths[position], int):
        length = lengths[position]
        if length < 0:
            return None, None
        return participant.name[:length] or None, participant.name[length:].strip() or None
    first, _, last = participant.name.partition(" ")
    return first or None, last or None


def breakdown(
    participant: Participant,
    *,
    meta: Mapping,
    checkouts: list[dict],
    taken: Collection[str],
) -> dict:
    """One participant; ``checkouts`` are theirs, newest first (as payments' selector gives
    them), ``taken`` the leg statuses of money taken: one ``payments[]`` entry per such leg."""
    first_name, last_name = _names(participant, meta)
    paid = participant.status in Participant.SETTLED
    legs = [leg for checkout in reversed(checkouts) for leg in checkout["legs"]]
    return {
        "paymentRequestBreakdownId": participant.public_id,
        "amount": participant.amount if participant.amount is not None else participant.amount_paid,
        "email": participant.email or None,
        "phone": participant.phone or None,
        "firstName": first_name,
        "lastName": last_name,
        "initiator": meta.get("initiator") == participant.position,
        "endpoint": payment_url(participant),
        "paid": paid,
        # Page views are not recorded: a payer has entered once they started paying.
        "entered": paid or bool(checkouts),
        "paymentAttempted": bool(checkouts),
        "lastPaymentAttempt": centralpay_datetime(checkouts[0]["created_at"])
        if checkouts
        else None,
        "payments": [
            {"uuid": leg["id"], "paymentMethod": "TRANSACTION"}
            for leg in legs
            if leg["status"] in taken
        ],
    }


def payment_request(
    payment_request: PaymentRequest,
    *,
    checkouts_by_participant: Mapping[str, list[dict]],
    taken: Collection[str],
) -> dict:
    metadata = payment_request.metadata if isinstance(payment_request.metadata, dict) else {}
    meta = metadata.get("centralpay")
    meta = meta if isinstance(meta, dict) else {}
    version = payment_request.form_version
    binding = getattr(payment_request, "scenario_binding", None)
    return {
        "paymentRequestId": payment_request.public_id,
        "creationDate": centralpay_datetime(payment_request.created_at),
        "merchantPaymentRequestId": payment_request.reference,
        "description": payment_request.description,
        "currency": payment_request.currency,
        "totalAmount": payment_request.total_amount,
        "deadline": centralpay_datetime(payment_request.deadline),
        "linkExpirationDate": centralpay_datetime(payment_request.expires_at),
        "endingDate": centralpay_datetime(payment_request.closed_at),
        "language": payment_request.language,
        "paymentRequestStatus": request_status(payment_request),
        "paymentStatus": payment_status(payment_request),
        "paymentFormTemplateId": version.form.public_id if version else None,
        "scenarioId": binding.scenario.public_id if binding else None,
        "redirectUrl": payment_request.return_url or None,
        "breakdowns": [
            breakdown(
                participant,
                meta=meta,
                checkouts=checkouts_by_participant.get(participant.public_id, []),
                taken=taken,
            )
            for participant in payment_request.participants.all()
        ],
    }
