"""The rules every use case of requests_app shares: limits, validation, the two transition
functions (the only code that assigns a status; each move leaves a StatusChange row), what a
participant may pay now, and how a request's status follows what was collected."""

import json
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from merchants.models import Merchant
from pushpay.contact import email_checked, phone_checked
from pushpay.errors import InvalidInput, StateConflict
from pushpay.history import record_many
from pushpay.i18n import language_checked

from ..events import event_record
from ..models import IllegalTransition, Participant, PaymentRequest, RequestEvent, StatusChange
from ..ports import installment_offer_check, payment_method_rules

MAX_PARTICIPANTS = 1000


MAX_AMOUNT = 10**13  # minor units; a hundred billion euros is not a payment request


METADATA_MAX_KEYS = 50


METADATA_MAX_KEY_LENGTH = 40


METADATA_MAX_BYTES = 8192


_UNSET: Any = object()


@dataclass(frozen=True)
class ParticipantData:
    name: str
    email: str = ""
    phone: str = ""
    language: str | None = None
    amount: int | None = None
    show_name: bool = False
    # Installment settings as received (payments.installments.offers reads them).
    installments: dict | None = None


def _transition_request(payment_request: PaymentRequest, target: str, reason: str = "") -> None:
    current = payment_request.status
    if target not in PaymentRequest.TRANSITIONS[current]:
        raise IllegalTransition("payment request", current, target)
    payment_request.status = target
    StatusChange.objects.create(
        merchant_id=payment_request.merchant_id,
        request=payment_request,
        from_status=current,
        to_status=target,
        reason=reason,
    )


def _transition_participants(
    payment_request: PaymentRequest, participants: list[Participant], target: str, reason: str
) -> None:
    """Move several participants at once; one UPDATE and one INSERT whatever their number."""
    changes = []
    for participant in participants:
        current = participant.status
        if current == target:
            continue
        if target not in Participant.TRANSITIONS[current]:
            raise IllegalTransition("participant", current, target)
        participant.status = target
        changes.append(
            StatusChange(
                merchant_id=payment_request.merchant_id,
                request=payment_request,
                participant=participant,
                from_status=current,
                to_status=target,
                reason=reason,
            )
        )
    if changes:
        now = timezone.now()
        Participant.objects.filter(pk__in=[c.participant.pk for c in changes]).update(
            status=target, updated_at=now
        )
        StatusChange.objects.bulk_create(changes)
        record_many((c.participant for c in changes), reason=reason, refresh=False)


def _refuse_illegal(exc: IllegalTransition) -> StateConflict:
    return StateConflict(str(exc), code="invalid_status_transition", field="status")


def validate_amount(value: int | None, field: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(
            "Amounts are integers in minor units (1050 for 10.50 EUR).",
            code="invalid_amount",
            field=field,
        )
    if value <= 0:
        raise InvalidInput(
            "The amount must be greater than zero.", code="amount_not_positive", field=field
        )
    if value > MAX_AMOUNT:
        raise InvalidInput("The amount is too large.", code="amount_too_large", field=field)


def has_control_characters(text: str) -> bool:
    """Line breaks, tabs, NUL, bidirectional overrides and the like: a reference travels into
    HTTP headers (the CSV's file name), spreadsheets and subjects, where they break or spoof."""
    return any(unicodedata.category(char) in _CONTROL_CATEGORIES for char in text)


_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


RETURN_URL_MAX_LENGTH = 500


def validate_return_url(url: str, field: str) -> str:
    """A URL the payer's browser is sent to: https only, since a payer leaving a payment page
    must not land on a downgraded or script URL; plain http only in development (DEBUG)."""
    url = (url or "").strip()
    if not url:
        return ""
    if len(url) > RETURN_URL_MAX_LENGTH:
        raise InvalidInput(
            f"{field} is at most {RETURN_URL_MAX_LENGTH} characters.",
            code="url_too_long",
            field=field,
        )
    schemes = ["https", "http"] if settings.DEBUG else ["https"]
    try:
        URLValidator(schemes=schemes)(url)
    except ValidationError as exc:
        raise InvalidInput(
            f"{field} must be an {' or '.join(schemes)} URL.", code="invalid_url", field=field
        ) from exc
    return url


def validate_metadata(metadata: Any) -> dict:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInput(
            "metadata must be a JSON object.", code="invalid_metadata", field="metadata"
        )
    if len(metadata) > METADATA_MAX_KEYS:
        raise InvalidInput(
            f"metadata may hold at most {METADATA_MAX_KEYS} keys.",
            code="metadata_too_large",
            field="metadata",
        )
    for key in metadata:
        if len(key) > METADATA_MAX_KEY_LENGTH:
            raise InvalidInput(
                f"metadata keys are at most {METADATA_MAX_KEY_LENGTH} characters.",
                code="metadata_too_large",
                field=f"metadata.{key[:METADATA_MAX_KEY_LENGTH]}",
            )
    size = len(json.dumps(metadata, separators=(",", ":")).encode())
    if size > METADATA_MAX_BYTES:
        raise InvalidInput(
            f"metadata is {size} bytes as JSON; the limit is {METADATA_MAX_BYTES}.",
            code="metadata_too_large",
            field="metadata",
        )
    return metadata


def _validate_dates(
    *,
    send_at: datetime | None,
    deadline: datetime | None,
    expires_at: datetime | None,
    check_past: bool = True,
) -> None:
    now = timezone.now()
    if check_past and deadline is not None and deadline <= now:
        raise InvalidInput(
            "The deadline is in the past.", code="deadline_in_past", field="deadline"
        )
    if check_past and expires_at is not None and expires_at <= now:
        raise InvalidInput(
            "The expiry date is in the past.", code="expiry_in_past", field="expires_at"
        )
    if deadline is not None and expires_at is not None and expires_at < deadline:
        raise InvalidInput(
            "The request cannot expire before its deadline.",
            code="expiry_before_deadline",
            field="expires_at",
        )
    if send_at is not None and deadline is not None and send_at >= deadline:
        raise InvalidInput(
            "The request must be sent before its deadline.",
            code="send_after_deadline",
            field="send_at",
        )


def _validate_participant(
    data: ParticipantData, index: int | None, amount_mode: str
) -> ParticipantData:
    """The participant as stored: every door (API, back office, seed, imports) comes here, so
    no raw email or phone reaches a row."""
    prefix = f"participants[{index}]." if index is not None else ""
    if not data.name or not data.name.strip():
        raise InvalidInput("Each participant needs a name.", code="required", field=f"{prefix}name")
    email, phone = (data.email or "").strip(), (data.phone or "").strip()
    if not email and not phone:
        raise InvalidInput(
            "Each participant needs an email or a phone number to be notified.",
            code="contact_required",
            field=f"{prefix}email",
        )
    email = email_checked(email, field=f"{prefix}email") if email else ""
    phone = phone_checked(phone, field=f"{prefix}phone") if phone else ""
    if data.language is not None:
        language_checked(data.language, field=f"{prefix}language")
    if amount_mode == PaymentRequest.AmountMode.FREE and data.amount is not None:
        raise InvalidInput(
            "In free mode participants choose their amount; give min_amount/max_amount instead.",
            code="amount_not_allowed",
            field=f"{prefix}amount",
        )
    validate_amount(data.amount, f"{prefix}amount")
    return replace(data, email=email, phone=phone)


def participants_refusals(
    participants: list[ParticipantData], amount_mode: str
) -> list[InvalidInput]:
    """Every participant's refusal at once (the rules ``payment_request_create`` applies one
    at a time), so that a form can flag each wrong row in one round trip."""
    refusals = []
    for index, data in enumerate(participants):
        try:
            _validate_participant(data, index, amount_mode)
        except InvalidInput as refusal:
            refusals.append(refusal)
    return refusals


def _validate_capture_mode(
    capture_mode: str,
    *,
    expires_at: datetime | None,
    total_amount: int | None,
    methods: list[str],
    livemode: bool,
) -> None:
    """on_completion holds every share until the last one is held, so the request must end
    before the shortest hold of the methods payers may use lapses."""
    if capture_mode not in PaymentRequest.CaptureMode.values:
        raise InvalidInput(
            "capture_mode must be 'immediate' or 'on_completion'.",
            code="invalid_choice",
            field="capture_mode",
        )
    if capture_mode == PaymentRequest.CaptureMode.IMMEDIATE:
        return
    if total_amount is None:
        raise InvalidInput(
            "on_completion needs a total_amount to complete.", code="required", field="total_amount"
        )
    if expires_at is None:
        raise InvalidInput(
            "on_completion needs an expires_at, when unfinished holds are released.",
            code="required",
            field="expires_at",
        )
    rules = payment_method_rules()
    windows = [rules.hold_window(method=code, livemode=livemode) for code in methods]
    window = min((w for w in windows if w is not None), default=None)
    if window is not None and expires_at > timezone.now() + window:
        raise InvalidInput(
            "With capture_mode on_completion the request must expire within "
            "%(days)s days: card authorisations lapse after that.",
            params={"days": window.days},
            code="expiry_beyond_hold_window",
            field="expires_at",
        )


def _validate_live_methods(merchant: Merchant, methods: list[str]) -> None:
    """A live request must be payable with real money: at least one of its methods needs a
    live provider. Refused here rather than leaving payers on a page with nothing to pay
    with; the methods without one are simply not offered on the payer page."""
    rules = payment_method_rules()
    if any(rules.available(merchant=merchant, method=code, livemode=True) for code in methods):
        return
    raise InvalidInput(
        f"No payment method of this request can take real money: "
        f"{', '.join(methods) or 'none'} (no live provider is configured for "
        f"{'it' if len(methods) == 1 else 'them'}). Configure a live provider for the "
        f"merchant, or create the request with a test key.",
        code="payment_methods_unavailable",
        field="allowed_payment_methods",
    )


def _validate_payment_methods(merchant: Merchant, methods: list[str] | None) -> list[str]:
    """An empty list means "every method the merchant offers", now and later."""
    if not methods:
        return []
    enabled = payment_method_rules().enabled(merchant=merchant)
    for index, code in enumerate(methods):
        if code not in enabled:
            raise InvalidInput(
                f"'{code}' is not a payment method this merchant offers "
                f"({', '.join(enabled) or 'none'}).",
                code="unknown_payment_method",
                field=f"allowed_payment_methods[{index}]",
            )
    return list(dict.fromkeys(methods))


def _record_updated(
    payment_request: PaymentRequest, changed: list[str], *, removed: str = ""
) -> None:
    # Reminders follow dates and participants (the planner reacts to this event); a removed
    # participant's card hold is released by payments' reaction, after commit.
    payload: dict[str, Any] = {"changed": changed}
    if removed:
        payload["removed"] = removed
    event_record(
        type=RequestEvent.Type.REQUEST_UPDATED, payment_request=payment_request, payload=payload
    )


def check_payable_amount(
    payment_request: PaymentRequest,
    participant: Participant,
    amount: int,
    *,
    reserved_by_participant: int = 0,
    reserved_by_request: int = 0,
) -> None:
    """Refuse an amount this participant may not pay now.

    The ``reserved_*`` amounts are what checkouts already in flight hold against the same
    dues. The caller must hold the request's row lock, so that two payers can never both see
    the same remainder (ARCHITECTURE.md guarantee 3).
    """
    validate_amount(amount, "amount")
    if payment_request.amount_mode == PaymentRequest.AmountMode.FIXED:
        available = participant.amount_due - reserved_by_participant
        if reserved_by_participant and available <= 0:
            raise StateConflict(
                "A payment for this share is already in progress.",
                code="payment_in_progress",
                field="amount",
            )
        if amount > available:
            raise InvalidInput(
                "At most %(available)s is due.",
                params={"available": available},
                code="amount_above_due",
                field="amount",
            )
    else:
        if payment_request.min_amount is not None and amount < payment_request.min_amount:
            raise InvalidInput(
                "The amount is below the minimum.", code="amount_below_minimum", field="amount"
            )
        if payment_request.max_amount is not None and amount > payment_request.max_amount:
            raise InvalidInput(
                "The amount is above the maximum.", code="amount_above_maximum", field="amount"
            )
        if payment_request.total_amount is not None:
            remaining = (
                payment_request.total_amount - payment_request.amount_paid - reserved_by_request
            )
            if amount > remaining:
                raise InvalidInput(
                    "Only %(remaining)s remains to be collected.",
                    params={"remaining": remaining},
                    code="amount_above_remaining",
                    field="amount",
                )


def _refresh_request_status(
    payment_request: PaymentRequest, participants: list[Participant], reason: str
) -> None:
    """Derive open / partially_paid / paid from what has been collected (no save)."""
    if not payment_request.is_collecting:
        return
    active = [p for p in participants if p.status != Participant.Status.CANCELLED]
    # A participant refunded while the request collects has settled: the refund never
    # reopens their share (docs/api.md, "Refunds").
    everyone_paid = bool(active) and all(p.status in Participant.SETTLED for p in active)
    target_reached = (
        payment_request.total_amount is not None
        and payment_request.amount_paid >= payment_request.total_amount
    )
    if everyone_paid or target_reached:
        target = PaymentRequest.Status.PAID
    elif payment_request.amount_paid > 0:
        target = PaymentRequest.Status.PARTIALLY_PAID
    else:
        target = PaymentRequest.Status.OPEN
    if target == payment_request.status or target == PaymentRequest.Status.OPEN:
        return  # money never flows back on its own: refunds are their own use case
    _transition_request(payment_request, target, reason)
    if target == PaymentRequest.Status.PAID:
        event_record(
            type=RequestEvent.Type.REQUEST_COMPLETED,
            payment_request=payment_request,
            payload={"amount_paid": payment_request.amount_paid},
        )
        _refresh_refund_status(payment_request, "refunded before completion")


def _refresh_refund_status(payment_request: PaymentRequest, reason: str) -> None:
    """A paid or closed request that gave money back becomes partially_refunded, then
    refunded once everything collected went back (no save). Collecting and cancelled
    requests keep their status; ``amount_refunded`` shows what went back."""
    if payment_request.status not in PaymentRequest.REFUND_FOLLOWS:
        return
    if payment_request.amount_refunded <= 0:
        return
    if payment_request.amount_refunded >= payment_request.amount_paid:
        target = PaymentRequest.Status.REFUNDED
    else:
        target = PaymentRequest.Status.PARTIALLY_REFUNDED
    if target != payment_request.status:
        _transition_request(payment_request, target, reason)


def participant_refund_status(participant: Participant) -> str:
    """What a participant's status becomes once part or all of what they paid went back.

    One still asked to pay keeps their status: the refund does not reopen their share."""
    if participant.status in Participant.UNPAID or participant.amount_refunded <= 0:
        return participant.status
    if participant.amount_refunded >= participant.amount_paid:
        return Participant.Status.REFUNDED
    return Participant.Status.PARTIALLY_REFUNDED


def validate_installment_offers(
    *,
    merchant: Merchant,
    currency: str,
    request_offer: Any,
    participants: list[ParticipantData],
    shares: list[int | None],
    methods: list[str],
    indexes: list[int | None] | None = None,
) -> tuple[dict | None, list[dict | None]]:
    """The request's installment offer and each participant's own, checked against every
    share they would spread and returned as stored.

    A participant without settings of their own is offered the request's, so the request's
    are checked against each such share. Plans are charged by card: an offer on a request
    whose payers cannot pay by card is refused. ``indexes`` names participants in error
    fields (``participants[1].installments.count``; None: a lone participant).
    """
    indexes = indexes if indexes is not None else list(range(len(participants)))
    today = timezone.localdate(timezone=ZoneInfo(merchant.time_zone))

    def prefix(index: int | None) -> str:
        return f"participants[{index}].installments" if index is not None else "installments"

    own = [
        installment_offer_check(
            data=data.installments,
            amount=share,
            currency=currency,
            today=today,
            field=prefix(index),
        )
        for data, share, index in zip(participants, shares, indexes, strict=True)
    ]
    checked_request_offer = None
    if request_offer is not None:
        inheriting = [
            (share, index)
            for data, share, index in zip(participants, shares, indexes, strict=True)
            if data.installments is None
        ]
        fixed = [share for share in shares if share is not None]
        for share, index in inheriting or [(min(fixed, default=None), None)]:
            try:
                checked_request_offer = installment_offer_check(
                    data=request_offer,
                    amount=share,
                    currency=currency,
                    today=today,
                    field="installments",
                )
            except InvalidInput as exc:
                if index is None or exc.code in ("unknown_field", "not_an_object"):
                    raise
                raise InvalidInput(
                    f"{exc.message} (for the share of participants[{index}])",
                    code=exc.code,
                    field=exc.field,
                ) from exc
    if "card" not in methods:
        offered = [prefix(i) for i, offer in zip(indexes, own, strict=True) if offer]
        if checked_request_offer:
            offered.insert(0, "installments")
        if offered:
            raise InvalidInput(
                "Installment plans are paid by card: allow the payment method 'card'.",
                code="installments_need_card",
                field=offered[0],
            )
    return checked_request_offer, own
