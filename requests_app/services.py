"""requests_app owns payment requests and their participants: creation, changes, lifecycle.

Every state change of a request or a participant goes through a function here, in one
transaction, through the two transition functions that refuse illegal moves and leave an
audit row. Amounts are integer minor units (ARCHITECTURE.md guarantee 1).
"""

import json
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from merchants.models import Merchant
from pushpay.contact import email_checked, phone_checked
from pushpay.errors import InvalidInput, StateConflict
from pushpay.i18n import language_checked
from pushpay.money import is_currency, split_equally

from .events import event_record
from .locks import lock_participants, lock_request
from .models import IllegalTransition, Participant, PaymentRequest, RequestEvent, StatusChange
from .ports import payment_method_rules

MAX_PARTICIPANTS = 1000
MAX_AMOUNT = 10**13  # minor units; a hundred billion euros is not a payment request
METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LENGTH = 40
METADATA_MAX_BYTES = 8192

_UNSET: Any = object()

if TYPE_CHECKING:  # typing only: requests_app never imports smartforms at run time
    from smartforms.models import FormVersion


@dataclass(frozen=True)
class ParticipantData:
    name: str
    email: str = ""
    phone: str = ""
    language: str | None = None
    amount: int | None = None
    show_name: bool = False


# --- Transitions ----------------------------------------------------------------------------


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


def _refuse_illegal(exc: IllegalTransition) -> StateConflict:
    return StateConflict(str(exc), code="invalid_status_transition", field="status")


# --- Validation -----------------------------------------------------------------------------


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
            f"With capture_mode on_completion the request must expire within "
            f"{window.days} days: card authorisations lapse after that.",
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


# --- Use cases ------------------------------------------------------------------------------


def payment_request_create(
    *,
    merchant: Merchant,
    reference: str,
    currency: str,
    participants: list[ParticipantData],
    amount_mode: str = PaymentRequest.AmountMode.FIXED,
    total_amount: int | None = None,
    split: str | None = None,
    description: str = "",
    min_amount: int | None = None,
    max_amount: int | None = None,
    send_at: datetime | None = None,
    deadline: datetime | None = None,
    expires_at: datetime | None = None,
    language: str | None = None,
    allowed_payment_methods: list[str] | None = None,
    metadata: dict | None = None,
    form_version: "FormVersion | None" = None,
    capture_mode: str = PaymentRequest.CaptureMode.IMMEDIATE,
    public_progress: bool = False,
    scenario: str | None = None,
    livemode: bool = False,
) -> PaymentRequest:
    """Create a request and all its participants at once, or nothing.

    ``livemode`` comes from the caller's key (or the back office's mode toggle), never from
    the request body: it decides whether real money can move at all. ``scenario`` is a
    scenario's public id and ``form_version`` the smart form's version payers fill: both
    are recorded with the ``request_created`` event, whose reactions (scenarios planning the
    messages, smartforms locking the version) run in this same transaction and can still
    refuse the whole creation.
    """
    if not reference or not reference.strip():
        raise InvalidInput("A reference is required.", code="required", field="reference")
    if has_control_characters(reference):
        raise InvalidInput(
            "A reference is one line of text without control characters.",
            code="invalid_characters",
            field="reference",
        )
    if not is_currency(currency):
        raise InvalidInput(
            f"'{currency}' is not an ISO 4217 currency in use.",
            code="unknown_currency",
            field="currency",
        )
    if amount_mode not in PaymentRequest.AmountMode.values:
        raise InvalidInput(
            "amount_mode must be 'fixed' or 'free'.", code="invalid_choice", field="amount_mode"
        )
    if language is not None:
        language_checked(language, field="language")
    if not participants:
        raise InvalidInput(
            "A request needs at least one participant.",
            code="participants_required",
            field="participants",
        )
    if len(participants) > MAX_PARTICIPANTS:
        raise InvalidInput(
            f"A request has at most {MAX_PARTICIPANTS} participants.",
            code="too_many_participants",
            field="participants",
        )
    validate_amount(total_amount, "total_amount")
    validate_amount(min_amount, "min_amount")
    validate_amount(max_amount, "max_amount")
    participants = [
        _validate_participant(data, index, amount_mode) for index, data in enumerate(participants)
    ]
    metadata = validate_metadata(metadata)
    _validate_dates(send_at=send_at, deadline=deadline, expires_at=expires_at)
    allowed_payment_methods = _validate_payment_methods(merchant, allowed_payment_methods)
    methods = allowed_payment_methods or payment_method_rules().enabled(merchant=merchant)
    if livemode:
        _validate_live_methods(merchant, methods)
    _validate_capture_mode(
        capture_mode,
        expires_at=expires_at,
        total_amount=total_amount,
        methods=methods,
        livemode=livemode,
    )

    shares: list[int | None]
    if amount_mode == PaymentRequest.AmountMode.FIXED:
        if min_amount is not None or max_amount is not None:
            raise InvalidInput(
                "min_amount and max_amount apply to free mode only.",
                code="amount_bounds_not_allowed",
                field="min_amount",
            )
        if total_amount is None:
            raise InvalidInput(
                "A fixed-mode request needs total_amount.", code="required", field="total_amount"
            )
        if split is not None:
            if split != "equal":
                raise InvalidInput("split must be 'equal'.", code="invalid_choice", field="split")
            if any(p.amount is not None for p in participants):
                raise InvalidInput(
                    "With split 'equal', participants carry no amount.",
                    code="amount_not_allowed",
                    field="participants",
                )
            if total_amount < len(participants):
                raise InvalidInput(
                    "The total is too small to split among everyone.",
                    code="total_too_small",
                    field="total_amount",
                )
            shares = list(split_equally(total_amount, len(participants)))
        else:
            missing = next((i for i, p in enumerate(participants) if p.amount is None), None)
            if missing is not None:
                raise InvalidInput(
                    "In fixed mode every participant needs an amount.",
                    code="required",
                    field=f"participants[{missing}].amount",
                )
            shares = [p.amount for p in participants]
            if sum(shares) != total_amount:
                raise InvalidInput(
                    f"The participants' amounts sum to {sum(shares)}, "
                    f"not to total_amount {total_amount}.",
                    code="shares_do_not_sum_to_total",
                    field="participants",
                )
    else:
        if split is not None:
            raise InvalidInput(
                "split applies to fixed mode only.", code="invalid_choice", field="split"
            )
        if min_amount is not None and max_amount is not None and min_amount > max_amount:
            raise InvalidInput(
                "min_amount is above max_amount.", code="min_above_max", field="min_amount"
            )
        shares = [None] * len(participants)

    request_language = language or merchant.default_language
    try:
        with transaction.atomic():
            payment_request = PaymentRequest.objects.create(
                merchant=merchant,
                livemode=livemode,
                form_version=form_version,
                reference=reference.strip(),
                description=description,
                currency=currency,
                amount_mode=amount_mode,
                total_amount=total_amount,
                min_amount=min_amount,
                max_amount=max_amount,
                send_at=send_at,
                deadline=deadline,
                expires_at=expires_at,
                language=request_language,
                allowed_payment_methods=allowed_payment_methods,
                capture_mode=capture_mode,
                public_progress=public_progress,
                metadata=metadata,
            )
            Participant.objects.bulk_create(
                Participant(
                    merchant=merchant,
                    livemode=livemode,
                    request=payment_request,
                    position=index,
                    name=data.name.strip(),
                    email=data.email,
                    phone=data.phone,
                    language=data.language or request_language,
                    amount=share,
                    show_name=data.show_name,
                )
                for index, (data, share) in enumerate(zip(participants, shares, strict=True))
            )
            event_record(
                type=RequestEvent.Type.REQUEST_CREATED,
                payment_request=payment_request,
                payload={
                    "scenario": scenario,
                    "form_version": form_version.number if form_version else None,
                },
            )
    except IntegrityError as exc:
        if PaymentRequest.objects.filter(
            merchant=merchant, livemode=livemode, reference=reference.strip()
        ).exists():
            raise StateConflict(
                f"A payment request with reference '{reference}' already exists.",
                code="duplicate_reference",
                field="reference",
            ) from exc
        raise
    return payment_request


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


def _record_updated(payment_request: PaymentRequest, changed: list[str]) -> None:
    # Reminders follow dates and participants: their planner reacts to this event.
    event_record(
        type=RequestEvent.Type.REQUEST_UPDATED,
        payment_request=payment_request,
        payload={"changed": changed},
    )


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

    With nothing collected the request becomes expired; with some money in it stays
    partially_paid so the merchant can decide to keep or refund what came in.
    """
    payment_request = lock_request(payment_request.pk)
    if not payment_request.is_collecting:
        raise _refuse_illegal(
            IllegalTransition("payment request", payment_request.status, "expired")
        )
    unpaid = [p for p in lock_participants(payment_request.pk) if p.status in Participant.UNPAID]
    _transition_participants(payment_request, unpaid, Participant.Status.EXPIRED, "expired")
    if payment_request.amount_paid == 0:
        _transition_request(payment_request, PaymentRequest.Status.EXPIRED, "expired")
    else:
        payment_request.closed_at = timezone.now()
    payment_request.save(update_fields=["status", "closed_at", "updated_at"])
    event_record(
        type=RequestEvent.Type.REQUEST_EXPIRED,
        payment_request=payment_request,
        payload={"amount_paid": payment_request.amount_paid},
    )
    return payment_request


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
            f"A request has at most {MAX_PARTICIPANTS} participants.",
            code="too_many_participants",
            field="participants",
        )
    if payment_request.amount_mode == PaymentRequest.AmountMode.FIXED:
        if data.amount is None:
            raise InvalidInput(
                "In fixed mode the participant needs an amount.", code="required", field="amount"
            )
        payment_request.total_amount += data.amount
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
    _record_updated(payment_request, ["participants"])
    return payment_request


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
                f"At most {available} is due.",
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
                    f"Only {remaining} remains to be collected.",
                    code="amount_above_remaining",
                    field="amount",
                )


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


def refund_allowed(payment_request: PaymentRequest) -> bool:
    """Refunds close a collection: only for a cancelled request or one its expiry closed."""
    return payment_request.status == PaymentRequest.Status.CANCELLED or (
        payment_request.closed_at is not None
    )


@transaction.atomic
def participant_record_refund(*, participant: Participant, amount: int) -> Participant:
    """Book money given back to a participant (the provider already refunded it)."""
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
    payment_request.save(update_fields=["amount_refunded", "updated_at"])
    if participant.amount_refunded == participant.amount_paid:
        _transition_participants(
            payment_request, [participant], Participant.Status.REFUNDED, "refunded"
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


def _refresh_request_status(
    payment_request: PaymentRequest, participants: list[Participant], reason: str
) -> None:
    """Derive open / partially_paid / paid from what has been collected (no save)."""
    if not payment_request.is_collecting:
        return
    active = [p for p in participants if p.status != Participant.Status.CANCELLED]
    everyone_paid = bool(active) and all(p.status == Participant.Status.PAID for p in active)
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
