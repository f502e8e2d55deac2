"""Checkouts: one payer paying one amount, a saga over its legs (ARCHITECTURE.md guarantee 2).

The order of every checkout is the same: reserve under the request's row lock and save the
leg (transaction 1); ask the provider (no transaction: slow I/O never holds a lock); book
the outcome (transaction 2). A crash between two steps leaves a leg whose state and
idempotency keys say exactly what to retry. Holds still waiting are released here too
(cancellation, expiry, abandoned 3-D Secure)."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from pushpay.errors import DomainError, InvalidInput, StateConflict
from requests_app.locks import lock_participants, lock_request
from requests_app.models import Participant, PaymentRequest
from requests_app.ports import sends_own_message
from requests_app.services import (
    check_payable_amount,
    participant_record_failure,
    participant_record_payment,
    validate_amount,
)

from ..adapters.base import FailureReason, PaymentResult, PaymentStatus, ProviderError
from ..models import Checkout, Leg, LegOperation
from ..outbox import receipt_plan
from ..registry import (
    adapter_for,
    participant_source_check,
    payment_method_available,
    payment_method_get,
    sandbox_owns_source,
)
from ..selectors import payment_methods_enabled
from .combinations import combination_check
from .legs import checkout_sync, leg_call, leg_transition

logger = logging.getLogger(__name__)


IN_FLIGHT_STATUSES = Checkout.IN_FLIGHT


def _in_flight(participant: Participant, payment_request: PaymentRequest) -> tuple[int, int]:
    # What in-flight checkouts hold against the dues: an installment fee is paid on top of
    # the share, so it never counts against it.
    rows = Checkout.objects.filter(request=payment_request, status__in=IN_FLIGHT_STATUSES)
    share = Sum(F("amount") - F("fee_amount"))
    by_request = rows.aggregate(total=share)["total"] or 0
    by_participant = rows.filter(participant=participant).aggregate(total=share)["total"] or 0
    return by_participant, by_request


def _refuse_across_modes(payment_request: PaymentRequest, method: str, source: str) -> None:
    """Test and live never mix: a method with no adapter for the request's mode is not
    offered, and a sandbox's token (a public test card) never pays a live request, whatever
    adapter the live method has. Both are refused before any leg exists."""
    if not payment_method_available(
        merchant=payment_request.merchant, method=method, livemode=payment_request.livemode
    ):
        raise InvalidInput(
            "This payment method is not available.",
            code="payment_method_unavailable",
            field="method",
        )
    if payment_request.livemode and sandbox_owns_source(source):
        raise InvalidInput(
            "Test cards and sandbox tokens cannot pay a live request.",
            code="test_source_in_live_mode",
            field="source",
        )


@dataclass(frozen=True)
class LegRequest:
    """One method of a payment as the payer chose it: the provider's token for their
    details (``source``) and the amount in minor units (None: the rest of the share)."""

    method: str
    source: str
    amount: int | None = None


def checkout_start(
    *,
    participant: Participant,
    method: str,
    source: str,
    amount: int | None = None,
    language: str = "",
    return_url: Callable[[Checkout], str] | None = None,
    form_submission: str = "",
    installment: str = "",
    fee_amount: int = 0,
) -> Checkout:
    """Pay with one method: ``checkout_open`` with a single leg.

    ``amount`` may be omitted in fixed mode: the participant's remaining share is taken.
    """
    return checkout_open(
        participant=participant,
        legs=[LegRequest(method=method, source=source, amount=amount)],
        language=language,
        return_url=return_url,
        form_submission=form_submission,
        installment=installment,
        fee_amount=fee_amount,
    )


def checkout_open(
    *,
    participant: Participant,
    legs: list[LegRequest],
    language: str = "",
    return_url: Callable[[Checkout], str] | None = None,
    form_submission: str = "",
    installment: str = "",
    fee_amount: int = 0,
) -> Checkout:
    """Reserve the amount, save the checkout and every leg, then authorise the legs one
    after the other and capture them all once every one is held.

    Legs that authorise in place (holiday vouchers) go first, so a refusal there costs the
    payer no trip to 3-D Secure or PayPal. Returns the checkout as it stands afterwards:
    succeeded, failed, authorised (held until the collection completes), or
    requires_action (send the payer to the waiting leg's ``action_url``; their return goes
    on with ``checkout_resume``). A payer is never partially debited: a refusal of any leg
    releases or gives back every other.

    ``fee_amount`` (installments only) is the part of the legs' amounts that is the plan's
    fee: charged with the rest, never counted against the share nor booked on it.
    """
    if not legs:
        raise InvalidInput("Choose how to pay.", code="legs_invalid", field="legs")
    if isinstance(fee_amount, bool) or not isinstance(fee_amount, int) or fee_amount < 0:
        raise InvalidInput("The fee is not valid.", code="invalid_integer", field="fee_amount")
    if fee_amount and (not installment or len(legs) != 1 or legs[0].amount is None):
        # Only an installment charge carries a fee, on its one card leg of a known amount.
        raise InvalidInput(
            "Only an installment charge carries a fee.", code="fee_not_allowed", field="fee_amount"
        )
    for leg in legs:
        payment_method_get(leg.method)
    # A payer who starts again has left the 3-D Secure page of their earlier attempt.
    _release(
        list(
            Checkout.objects.filter(participant=participant, status=Checkout.Status.REQUIRES_ACTION)
            .select_related("merchant")
            .prefetch_related("legs")
        ),
        "abandoned",
    )
    for leg in legs:
        if not leg.source:
            raise InvalidInput(
                "The payment details are missing.", code="source_required", field="source"
            )
        if len(leg.source) > Leg._meta.get_field("source").max_length:
            # No provider token is this long; PostgreSQL would refuse the row (a 500).
            raise InvalidInput(
                "The payment details are not valid.", code="source_invalid", field="source"
            )
    with transaction.atomic():
        payment_request = lock_request(participant.request_id)
        participants = lock_participants(payment_request.pk)
        participant = next(p for p in participants if p.pk == participant.pk)
        # An installment plan goes on charging its share after the expiry: the expiry
        # waits for it (requests_app.ports.keeps_collecting).
        expired = payment_request.expires_at and payment_request.expires_at <= timezone.now()
        if expired and not installment:
            raise StateConflict("This request has expired.", code="request_expired", field="amount")
        if not payment_request.is_collecting or participant.status not in Participant.UNPAID:
            raise StateConflict(
                "This payment is no longer expected.",
                code="payment_not_expected",
                field="amount",
            )
        allowed = payment_request.allowed_payment_methods or payment_methods_enabled(
            merchant=payment_request.merchant
        )
        for leg in legs:
            if leg.method not in allowed:
                raise InvalidInput(
                    f"'{leg.method}' cannot be used for this request.",
                    code="payment_method_not_allowed",
                    field="method",
                )
            _refuse_across_modes(payment_request, leg.method, leg.source)
            participant_source_check(
                payment_request=payment_request,
                participant=participant,
                method=leg.method,
                source=leg.source,
            )
        by_participant, by_request = _in_flight(participant, payment_request)
        amounts = _leg_amounts(payment_request, participant, legs, by_participant)
        combination_check(
            merchant=payment_request.merchant,
            legs=[(leg.method, amount) for leg, amount in zip(legs, amounts, strict=True)],
            currency=payment_request.currency,
        )
        if fee_amount >= sum(amounts):
            raise InvalidInput(
                "The fee must be less than the charge.", code="out_of_range", field="fee_amount"
            )
        check_payable_amount(
            payment_request,
            participant,
            sum(amounts) - fee_amount,
            reserved_by_participant=by_participant,
            reserved_by_request=by_request,
        )
        checkout = Checkout.objects.create(
            merchant=payment_request.merchant,
            livemode=payment_request.livemode,
            request=payment_request,
            participant=participant,
            amount=sum(amounts),
            fee_amount=fee_amount,
            currency=payment_request.currency,
            language=language or participant.language,
            form_submission=form_submission,
            installment=installment,
        )
        if return_url is not None:
            checkout.return_url = return_url(checkout)[:500]
            checkout.save(update_fields=["return_url"])
        ordered = sorted(
            zip(legs, amounts, strict=True),
            key=lambda pair: not _authorises_in_place(payment_request, pair[0].method),
        )
        for leg, amount in ordered:
            Leg.objects.create(
                merchant=payment_request.merchant,
                livemode=payment_request.livemode,
                checkout=checkout,
                method=leg.method,
                provider=_provider_of(payment_request, leg.method),
                amount=amount,
                currency=payment_request.currency,
                source=leg.source,
            )
    return _proceed(checkout)


def _adapter_class(payment_request: PaymentRequest, method: str):
    return payment_method_get(method).adapter_class_for(
        livemode=payment_request.livemode, merchant=payment_request.merchant
    )


def _authorises_in_place(payment_request: PaymentRequest, method: str) -> bool:
    adapter_class = _adapter_class(payment_request, method)
    return bool(adapter_class and adapter_class.authorises_in_place)


def _provider_of(payment_request: PaymentRequest, method: str) -> str:
    adapter_class = _adapter_class(payment_request, method)
    return adapter_class.provider if adapter_class is not None else ""


def _leg_amounts(
    payment_request: PaymentRequest,
    participant: Participant,
    legs: list[LegRequest],
    by_participant: int,
) -> list[int]:
    """Each leg's amount. One leg may leave it out in fixed mode (the rest of the share);
    several legs each name theirs, and in fixed mode they must add up to exactly what is
    still due, so a combined payment settles the share in one go or not at all."""
    if len(legs) == 1 and legs[0].amount is None:
        if participant.amount is None:
            raise InvalidInput("Enter the amount you want to pay.", code="required", field="amount")
        amount = participant.amount_due - by_participant
        if by_participant and amount <= 0:
            amount = participant.amount_due  # let check_payable_amount name the conflict
        return [amount]
    if len({leg.method for leg in legs}) != len(legs):
        raise InvalidInput(
            "Use each payment method once.", code="duplicate_payment_method", field="legs"
        )
    amounts = []
    for leg in legs:
        if leg.amount is None:
            raise InvalidInput(
                "Give the amount paid with each method.", code="required", field="amount"
            )
        validate_amount(leg.amount, "amount")
        amounts.append(leg.amount)
    if len(legs) > 1 and payment_request.amount_mode == PaymentRequest.AmountMode.FIXED:
        due = participant.amount_due - by_participant
        if due > 0 and sum(amounts) != due:
            raise InvalidInput(
                f"The amounts must add up to {due}, what is still due.",
                code="legs_do_not_sum",
                field="legs",
            )
    return amounts


def checkout_resume(*, checkout: Checkout) -> Checkout:
    """The payer is back from 3-D Secure or PayPal: ask the provider how the waiting leg
    went, then go on with the next legs (or unwind them all)."""
    if checkout.status != Checkout.Status.REQUIRES_ACTION:
        return checkout
    leg = next(
        (
            leg
            for leg in checkout.legs.all()
            if leg.status == Leg.Status.REQUIRES_ACTION and leg.provider_reference
        ),
        None,
    )
    if leg is None:
        return checkout
    adapter = _adapter_of(checkout, leg)
    if adapter is None:
        return checkout  # the hold lapses at the provider; recovery keeps asking
    try:
        result = _retrieve(adapter, leg)
    except ProviderError:
        return checkout  # still unknown: the payer may come back, recovery will decide
    return _advance(checkout, leg, adapter, result)


def _adapter_of(checkout: Checkout, leg: Leg):
    """The adapter that served this leg, or None when its mode no longer has one (a live
    provider removed while money was held). Jobs then leave the leg for a later run and
    say so in the log, rather than failing every other checkout of the batch."""
    try:
        return adapter_for(
            merchant=checkout.merchant,
            method=leg.method,
            livemode=leg.livemode,
            provider=leg.provider,
        )
    except DomainError:
        logger.warning("No %s adapter for leg %s any more", leg.method, leg.public_id)
        return None


def _remember_source(leg: Leg, adapter, source: str) -> None:
    if leg.source_last4:
        return  # the provider's answer named the card already (leg_call kept it)
    brand, last4 = adapter.describe_source(source)
    Leg.objects.filter(pk=leg.pk).update(source_brand=brand, source_last4=last4)
    leg.source_brand, leg.source_last4 = brand, last4


def _authorise(adapter, checkout: Checkout, leg: Leg) -> PaymentResult:
    extra = {}
    if checkout.installment and adapter.saves_sources:
        # An installment's checkout keeps the card for the charges made later without
        # the payer, with the provider, for this participant (never on our side): under
        # the holder of a card saved for them before, if any, else a new one.
        saved_before = (
            Leg.objects.filter(
                merchant_id=leg.merchant_id,
                livemode=leg.livemode,
                provider=leg.provider,
                checkout__participant_id=checkout.participant_id,
            )
            .exclude(saved_source="")
            .order_by("-id")
            .values_list("saved_source", flat=True)
            .first()
        )
        extra["save_for"] = saved_before or checkout.participant.public_id
    return leg_call(
        leg,
        LegOperation.Operation.AUTHORISE,
        lambda: adapter.authorise(
            amount=leg.amount,
            currency=leg.currency,
            source=leg.source,
            idempotency_key=leg.idempotency_key("authorise"),
            return_url=checkout.return_url,
            **extra,
        ),
    )


def _retrieve(adapter, leg: Leg) -> PaymentResult:
    return leg_call(
        leg,
        LegOperation.Operation.RETRIEVE,
        lambda: adapter.retrieve(reference=leg.provider_reference),
    )


def _capture(adapter, leg: Leg) -> PaymentResult:
    return leg_call(
        leg,
        LegOperation.Operation.CAPTURE,
        lambda: adapter.capture(
            reference=leg.provider_reference,
            amount=leg.amount,
            idempotency_key=leg.idempotency_key("capture"),
        ),
    )


def _void(adapter, leg: Leg) -> PaymentResult:
    return leg_call(
        leg,
        LegOperation.Operation.VOID,
        lambda: adapter.void(
            reference=leg.provider_reference, idempotency_key=leg.idempotency_key("void")
        ),
    )


def _refund_whole(adapter, leg: Leg) -> PaymentResult:
    return leg_call(
        leg,
        LegOperation.Operation.REFUND,
        lambda: adapter.refund(
            reference=leg.provider_reference,
            amount=leg.amount,
            idempotency_key=leg.idempotency_key("refund"),
        ),
    )


def _locked(checkout: Checkout) -> tuple[Checkout, list[Leg]]:
    """The checkout's row locked, with its legs as they are now (inside a transaction)."""
    checkout = Checkout.objects.select_for_update().get(pk=checkout.pk)
    return checkout, list(Leg.objects.filter(checkout=checkout))


def _same(legs: list[Leg], leg: Leg) -> Leg:
    return next(candidate for candidate in legs if candidate.pk == leg.pk)


def _proceed(checkout: Checkout, *, payer_present: bool = True) -> Checkout:
    """Authorise the legs not yet asked, in order; once every leg is held, capture them
    (or hold them until the collection completes). Safe to call again at any point: held
    legs are skipped and a leg asked before is asked with the same idempotency key.

    Without the payer (recovery), a leg that asks for the payer's action is released and
    the checkout unwound: nobody is there to pass 3-D Secure or approve at PayPal."""
    checkout = Checkout.objects.select_related("merchant", "request").get(pk=checkout.pk)
    for leg in Leg.objects.filter(checkout=checkout):
        if leg.status in (Leg.Status.AUTHORISED, Leg.Status.CAPTURED):
            continue
        if leg.status == Leg.Status.REQUIRES_ACTION:
            return checkout  # the payer is on this leg's page
        if leg.status == Leg.Status.UNKNOWN and leg.provider_reference:
            return checkout  # recovery asks the provider where it stands
        if leg.status not in (Leg.Status.CREATED, Leg.Status.UNKNOWN):
            return checkout  # failed or released: the unwinding has run
        adapter = adapter_for(
            merchant=checkout.merchant,
            method=leg.method,
            livemode=leg.livemode,
            provider=leg.provider,
        )
        # Saved before the call: a created leg was never asked, an unknown one without a
        # reference was asked and its answer is not known (a crash, a timeout).
        leg_transition(leg, Leg.Status.UNKNOWN)
        try:
            result = _authorise(adapter, checkout, leg)
        except ProviderError as exc:
            return _leg_lost(checkout, leg, adapter, str(exc))
        except InvalidInput as exc:  # e.g. an unknown or tampered token
            result = PaymentResult(
                status=PaymentStatus.FAILED,
                provider_reference="",
                amount=leg.amount,
                currency=leg.currency,
                failure_reason=FailureReason.NOT_ACCEPTED,
                message=exc.message,
            )
        _remember_source(leg, adapter, leg.source)
        if result.status in (PaymentStatus.AUTHORISED, PaymentStatus.CAPTURED):
            _apply(leg, result)
            continue
        if result.status == PaymentStatus.REQUIRES_ACTION and not payer_present:
            _apply(leg, result)
            return _abandon_leg(checkout, leg, adapter)
        return _advance(checkout, leg, adapter, result)
    if checkout.request.capture_mode == PaymentRequest.CaptureMode.ON_COMPLETION:
        return _hold_until_complete(checkout)
    return _capture_all(checkout)


def _abandon_leg(checkout: Checkout, leg: Leg, adapter) -> Checkout:
    """The payer left while this leg waited for them: release it and unwind the rest."""
    _void_quietly(adapter, leg)
    return _fail(checkout, leg, "abandoned", "The payer left before finishing the payment.")


def _apply(leg: Leg, result: PaymentResult) -> None:
    """Record on the leg what the provider says of it."""
    reference = result.provider_reference or leg.provider_reference
    if result.status == PaymentStatus.AUTHORISED:
        leg_transition(leg, Leg.Status.AUTHORISED, provider_reference=reference)
    elif result.status == PaymentStatus.CAPTURED:
        leg_transition(leg, Leg.Status.CAPTURED, provider_reference=reference)
    elif result.status == PaymentStatus.REQUIRES_ACTION:
        leg_transition(
            leg,
            Leg.Status.REQUIRES_ACTION,
            provider_reference=reference,
            action_url=result.action_url,
        )


def _advance(checkout: Checkout, leg: Leg, adapter, result: PaymentResult) -> Checkout:
    """Go on from what the provider said of one leg."""
    if result.status == PaymentStatus.REQUIRES_ACTION:
        with transaction.atomic():
            checkout, legs = _locked(checkout)
            fresh = _same(legs, leg)
            _apply(fresh, result)
            if checkout.status in Checkout.IN_FLIGHT:
                checkout_sync(checkout)
        leg.refresh_from_db()
        return checkout
    if result.status == PaymentStatus.FAILED:
        return _fail(checkout, leg, result.failure_reason or "provider_error", result.message)
    if result.status in (PaymentStatus.AUTHORISED, PaymentStatus.CAPTURED):
        _apply(leg, result)
        return _proceed(checkout)
    return _fail(checkout, leg, "provider_error", f"Unexpected provider answer {result.status}")


def _capture_all(checkout: Checkout) -> Checkout:
    """Every leg is held: take them one by one. A capture refused after others were taken
    gives those back, so the payer ends with everything or nothing taken."""
    for leg in Leg.objects.filter(checkout=checkout):
        if leg.status == Leg.Status.CAPTURED:
            continue
        adapter = _adapter_of(checkout, leg)
        if adapter is None:
            return checkout  # recovery tries again once the adapter is back
        try:
            result = _capture(adapter, leg)
        except ProviderError as exc:
            # No answer: the capture may or may not have happened. A release that works
            # proves it did not (unwind as for a refusal); one the provider refuses (the
            # money was taken) or leaves unanswered must not fail the leg, which would lose
            # money that was taken: the leg is unknown and the checkout pending, and
            # recovery (or the provider's webhook) asks where it stands.
            try:
                _void(adapter, leg)
            except (ProviderError, DomainError):
                leg_transition(leg, Leg.Status.UNKNOWN)
                with transaction.atomic():
                    checkout, _legs = _locked(checkout)
                    checkout_sync(checkout)
                return checkout
            leg_transition(leg, Leg.Status.FAILED)
            return _fail(checkout, leg, "provider_error", str(exc))
        except StateConflict as exc:
            _void_quietly(adapter, leg, then=Leg.Status.FAILED)
            return _fail(checkout, leg, "provider_error", str(exc))
        if result.status != PaymentStatus.CAPTURED:
            _void_quietly(adapter, leg, then=Leg.Status.FAILED)
            return _fail(checkout, leg, "provider_error", result.message)
        _apply(leg, result)
    return _book(checkout)


def _hold_until_complete(checkout: Checkout) -> Checkout:
    with transaction.atomic():
        lock_request(checkout.request_id)
        checkout, _legs = _locked(checkout)
        if checkout.status in (Checkout.Status.PENDING, Checkout.Status.REQUIRES_ACTION):
            checkout_sync(checkout)
    _capture_if_complete(checkout.request_id)
    checkout.refresh_from_db()
    return checkout


def _capture_if_complete(request_pk: int) -> None:
    """on_completion: once the held shares cover what is due, take them all, leg by leg.

    Two payers completing at once may both get here; captures and bookings are idempotent
    per leg, so the second pass finds nothing left to do.
    """
    with transaction.atomic():
        payment_request = lock_request(request_pk)
        # A removed (cancelled) participant's hold never counts: it is being released.
        held = list(
            Checkout.objects.filter(
                request=payment_request,
                status=Checkout.Status.AUTHORISED,
                participant__status__in=Participant.UNPAID,
            )
            .select_related("participant", "request", "merchant")
            .prefetch_related("legs")
        )
        if not payment_request.is_collecting or payment_request.total_amount is None:
            return
        covered = payment_request.amount_paid + sum(c.amount - c.fee_amount for c in held)
        if covered < payment_request.total_amount:
            return
    for checkout in held:
        complete = True
        for leg in checkout.legs.all():
            if leg.status == Leg.Status.CAPTURED:
                continue
            adapter = _adapter_of(checkout, leg) if leg.status == Leg.Status.AUTHORISED else None
            if adapter is None:
                complete = False
                continue
            try:
                result = _capture(adapter, leg)
            except (ProviderError, StateConflict):
                complete = False
                continue  # still held: the next payer's completion or recovery tries again
            if result.status == PaymentStatus.CAPTURED:
                _apply(leg, result)
            else:
                complete = False
        if complete:
            _book(checkout)


def _book(checkout: Checkout, *_args) -> Checkout:
    """Every leg's money is taken: book the payment on the participant, exactly once."""
    try:
        with transaction.atomic():
            lock_request(checkout.request_id)
            checkout, legs = _locked(checkout)
            if checkout.status == Checkout.Status.SUCCEEDED:
                return checkout
            checkout_sync(checkout)
            if checkout.status != Checkout.Status.SUCCEEDED:
                return checkout  # other legs still to capture
            payment = {
                "checkout": checkout.public_id,
                "method": legs[0].method,
                "methods": [leg.method for leg in legs],
            }
            if checkout.fee_amount:
                # The share is booked without the plan's fee; the event names both.
                payment.update(fee_amount=checkout.fee_amount, charged=checkout.amount)
            participant_record_payment(
                participant=checkout.participant,
                amount=checkout.amount - checkout.fee_amount,
                payment=payment,
            )
            # An installment's own message (when the scenario has one) is its receipt.
            trigger = "installment_succeeded" if checkout.installment else "payment_succeeded"
            if not sends_own_message(payment_request=checkout.request, trigger=trigger):
                receipt_plan(checkout=checkout)
            return checkout
    except DomainError as exc:
        # The request closed while the payer was paying: give the money back at once.
        return _give_back(checkout, exc)


def _give_back(checkout: Checkout, exc: DomainError) -> Checkout:
    """Refund every captured leg of a checkout that could not be booked, and void any leg
    still held, so the payer keeps nothing taken."""
    for leg in Leg.objects.filter(checkout=checkout):
        adapter = _adapter_of(checkout, leg)
        if adapter is None:
            continue
        if leg.status == Leg.Status.CAPTURED:
            refund = _refund_whole(adapter, leg)
            if refund.status == PaymentStatus.REFUNDED:
                leg_transition(leg, Leg.Status.REFUNDED, amount_refunded=leg.amount)
        elif leg.status in Leg.HOLDING and leg.provider_reference:
            _void_quietly(adapter, leg)
        elif leg.status == Leg.Status.CREATED:
            leg_transition(leg, Leg.Status.VOIDED)
    with transaction.atomic():
        checkout, _legs = _locked(checkout)
        checkout_sync(checkout, failure_reason=exc.code, failure_message=exc.message)
    return checkout


def _unwind_others(checkout: Checkout, failed: Leg) -> None:
    """One leg failed: release every other leg's hold and give back any leg already taken,
    so nothing of this checkout stays with the merchant. A leg never asked is voided
    without a call."""
    for leg in Leg.objects.filter(checkout=checkout).exclude(pk=failed.pk):
        if leg.status == Leg.Status.CREATED:
            leg_transition(leg, Leg.Status.VOIDED)
            continue
        adapter = _adapter_of(checkout, leg)
        if adapter is None:
            continue
        if leg.status in Leg.HOLDING and leg.provider_reference:
            _void_quietly(adapter, leg)
        elif leg.status == Leg.Status.CAPTURED:
            try:
                refund = _refund_whole(adapter, leg)
            except (ProviderError, DomainError):
                continue  # stays captured: the checkout stays pending for recovery
            if refund.status == PaymentStatus.REFUNDED:
                leg_transition(leg, Leg.Status.REFUNDED, amount_refunded=leg.amount)


def _fail(checkout: Checkout, leg: Leg, reason: str, message: str = "") -> Checkout:
    _unwind_others(checkout, leg)
    with transaction.atomic():
        checkout, legs = _locked(checkout)
        if checkout.status not in Checkout.IN_FLIGHT:
            return checkout
        fresh = _same(legs, leg)
        if fresh.status not in (Leg.Status.FAILED, Leg.Status.VOIDED):
            leg_transition(fresh, Leg.Status.FAILED, failure_reason=reason)
        else:
            Leg.objects.filter(pk=fresh.pk).update(failure_reason=reason)
        checkout_sync(checkout, failure_reason=reason, failure_message=message[:300])
        participant_record_failure(
            participant=checkout.participant,
            reason=reason,
            payload={"checkout": checkout.public_id, "amount": checkout.amount},
        )
    return checkout


def _void_quietly(adapter, leg: Leg, *, then: str = Leg.Status.VOIDED) -> None:
    """Release a hold we will not capture; ``then`` is FAILED when the leg is being unwound
    after a refusal (it took nothing because it failed, not because it was released). With
    no answer the leg is unknown: its hold, if any, lapses at the provider."""
    try:
        _void(adapter, leg)
        leg_transition(leg, then)
    except (ProviderError, DomainError):
        leg_transition(leg, Leg.Status.UNKNOWN)


def _leg_lost(checkout: Checkout, leg: Leg, adapter, message: str) -> Checkout:
    """The provider did not answer: maybe it holds money, maybe not. Ask again with the same
    idempotency key (which cannot create a second hold) and release whatever it holds."""
    leg_transition(leg, Leg.Status.UNKNOWN)
    try:
        replay = _authorise(adapter, checkout, leg)
        if replay.provider_reference and replay.status in (
            PaymentStatus.AUTHORISED,
            PaymentStatus.REQUIRES_ACTION,
        ):
            # Saved first: if the void's answer is lost too, the next run knows what to void.
            Leg.objects.filter(pk=leg.pk).update(provider_reference=replay.provider_reference)
            leg.provider_reference = replay.provider_reference
            _void_quietly(adapter, leg, then=Leg.Status.FAILED)
    except (ProviderError, DomainError):
        pass  # still no answer: the hold, if any, lapses at the provider
    return _fail(checkout, leg, "provider_error", message or "The bank did not answer in time.")


RELEASABLE = (Checkout.Status.AUTHORISED, Checkout.Status.REQUIRES_ACTION)


# A payer who has not come back from 3-D Secure within this time has given up.
ABANDONED_AFTER = timedelta(minutes=30)


def _release(checkouts: list[Checkout], reason: str) -> int:
    """Void the holds (or pending challenges) of these checkouts, leg by leg, and mark them
    cancelled; nothing of theirs is ever captured afterwards. A checkout one of whose voids
    gets no answer stays as it is, for the next run of the job.

    A void the provider refuses means the leg is no longer merely held (a capture whose
    answer was lost, say): the provider is asked, and money found taken is booked if the
    request still collects, or given back, so the payer never loses it."""
    released = 0
    for checkout in checkouts:
        voided: list[Leg] = []
        taken = False
        for leg in checkout.legs.all():
            if leg.status == Leg.Status.CREATED:
                voided.append(leg)  # never asked: nothing to release at the provider
                continue
            if leg.status == Leg.Status.CAPTURED:
                taken = True  # captured before a crash could book it
                continue
            if leg.status not in Leg.HOLDING:
                continue
            adapter = _adapter_of(checkout, leg)
            if adapter is None:
                break
            if not leg.provider_reference:
                # Asked, answer lost: the same key makes the provider say what it did.
                try:
                    found = _authorise(adapter, checkout, leg)
                except (ProviderError, DomainError):
                    break
                if not found.provider_reference or found.status == PaymentStatus.FAILED:
                    voided.append(leg)  # it holds nothing
                    continue
                Leg.objects.filter(pk=leg.pk).update(provider_reference=found.provider_reference)
                leg.provider_reference = found.provider_reference
            try:
                _void(adapter, leg)
            except ProviderError:
                break  # still held: the next run of the job tries again
            except DomainError:
                try:
                    found = _retrieve(adapter, leg)
                except (ProviderError, DomainError):
                    break
                if found.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
                    voided.append(leg)  # refused or released already: nothing is held
                    continue
                if found.status != PaymentStatus.CAPTURED:
                    break
                _apply(leg, found)
                taken = True
                continue
            voided.append(leg)
        else:
            with transaction.atomic():
                checkout, legs = _locked(checkout)
                if checkout.status not in RELEASABLE:
                    continue
                for leg in voided:
                    leg_transition(_same(legs, leg), Leg.Status.VOIDED)
                if not taken:
                    checkout_sync(checkout, failure_reason=reason)
                    released += 1
                    continue
            if voided:
                _fail(checkout, voided[0], reason)  # gives back the legs already taken
            else:
                _proceed(checkout)  # every leg taken: book it, or give it back
    return released


def checkouts_waiting(
    *, payment_request_id: int, participant_public_id: str | None = None
) -> QuerySet[Checkout]:
    """Holds (and pending challenges) still waiting on a request, or on one of its payers."""
    waiting = Checkout.objects.filter(request_id=payment_request_id, status__in=RELEASABLE)
    if participant_public_id is not None:
        waiting = waiting.filter(participant__public_id=participant_public_id)
    return waiting


def checkouts_release(
    *, payment_request: PaymentRequest, reason: str, participant_public_id: str | None = None
) -> int:
    """Void every hold still waiting on this request (expiry, cancellation), or on one of its
    payers (removed): the payers whose shares were only authorised are never debited."""
    waiting = checkouts_waiting(
        payment_request_id=payment_request.pk, participant_public_id=participant_public_id
    )
    return _release(list(waiting.select_related("merchant").prefetch_related("legs")), reason)


def checkouts_release_abandoned(*, now=None) -> int:
    """Free the shares of payers who left during 3-D Secure, so they (or, in a pot, others)
    can pay again; their challenges are cancelled at the provider."""
    cutoff = (now or timezone.now()) - ABANDONED_AFTER
    stale = Checkout.objects.filter(
        status=Checkout.Status.REQUIRES_ACTION, updated_at__lt=cutoff
    ).select_related("merchant")
    return _release(list(stale.prefetch_related("legs")[:500]), "abandoned")
