"""Creating a payment request with all its participants, at once or not at all."""

from datetime import datetime
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from merchants.models import Merchant
from pushpay.errors import InvalidInput, StateConflict
from pushpay.history import bulk_create_with_snapshots
from pushpay.i18n import language_checked
from pushpay.money import is_currency, split_equally

from ..events import event_record
from ..models import Participant, PaymentRequest, RequestEvent
from ..ports import payment_method_rules
from ..selectors import participants_attach
from .rules import (
    MAX_PARTICIPANTS,
    ParticipantData,
    _validate_capture_mode,
    _validate_dates,
    _validate_live_methods,
    _validate_participant,
    _validate_payment_methods,
    has_control_characters,
    validate_amount,
    validate_installment_offers,
    validate_metadata,
    validate_return_url,
)

if TYPE_CHECKING:  # typing only: requests_app never imports smartforms at run time
    from smartforms.models import FormVersion


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
    return_url: str = "",
    cancel_url: str = "",
    installments: dict | None = None,
) -> PaymentRequest:
    """Create a request and all its participants at once, or nothing.

    ``livemode`` comes from the caller's key (or the back office's mode toggle), never from
    the request body: it decides whether real money can move at all. ``scenario`` is a
    scenario's public id and ``form_version`` the smart form's version payers fill: both
    are recorded with the ``request_created`` event, whose reactions (scenarios planning the
    messages, smartforms locking the version) run in this same transaction and can still
    refuse the whole creation.

    ``installments`` (and each participant's ``installments``) are the plan settings
    offered to payers, checked against every share they would spread (see
    ``validate_installment_offers``).
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
            "'%(currency)s' is not an ISO 4217 currency in use.",
            params={"currency": currency},
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
            "A request has at most %(count)s participants.",
            params={"count": MAX_PARTICIPANTS},
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
    return_url = validate_return_url(return_url, "return_url")
    cancel_url = validate_return_url(cancel_url, "cancel_url")
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
                    "The participants' amounts sum to %(sum)s, not to total_amount %(total)s.",
                    params={"sum": sum(shares), "total": total_amount},
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

    request_offer, own_offers = validate_installment_offers(
        merchant=merchant,
        currency=currency,
        request_offer=installments,
        participants=participants,
        shares=shares,
        methods=methods,
    )

    if form_version is not None and (request_offer or any(own_offers)):
        # A plan's first charge does not carry the form's answers: the payer page would
        # never offer the plan, so the merchant hears it now rather than the payer never.
        raise InvalidInput(
            "Installment plans cannot be offered on a request with a smart form.",
            code="installments_with_form",
            field="installments"
            if request_offer
            else f"participants[{next(i for i, o in enumerate(own_offers) if o)}].installments",
        )
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
                return_url=return_url,
                cancel_url=cancel_url,
                installments=request_offer,
            )
            created = bulk_create_with_snapshots(
                Participant,
                (
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
                        installments=offer,
                    )
                    for index, (data, share, offer) in enumerate(
                        zip(participants, shares, own_offers, strict=True)
                    )
                ),
            )
            # The request carries its participants as written: its creation's reactions
            # (planning the messages) and the API's answer use them without reading back.
            participants_attach(payment_request, created)
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
                "A payment request with reference '%(reference)s' already exists.",
                params={"reference": reference},
                code="duplicate_reference",
                field="reference",
            ) from exc
        raise
    return payment_request
