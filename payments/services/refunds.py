"""Refunds: giving back what was captured, per leg, idempotently.

One entry point, ``payment_request_refund``, for any request with captured money (paid,
closed, cancelled, or still collecting). It runs in three steps:

1. **reserve**, under the request's row lock: work out which legs give how much back and
   write it on each leg (``amount_refund_pending``). A concurrent refund then sees that money
   as already on its way back, so two refunds can never give the same money back twice;
2. **ask the provider**, outside any lock, with the key ``Leg.refund_key`` derives from the
   reservation: a retry after a crash or a lost answer repeats the same refund;
3. **book**, under the locks again: the leg's ``amount_refunded`` and status, the checkout's
   status, and the participant's refund (``requests_app`` records ``payment_refunded``, which
   plans the payer's refund notice).

A participant's partial refund is taken from their most recent captured legs first (the
newest checkout, then its last leg), so the oldest payment is the last one touched.

An installment plan's fee (``Checkout.fee_amount``) is paid for the plan itself, on top of
the share: a refund gives back the share collected, never the fee, so what a participant
gets back never exceeds what was booked on their share (docs/payments-sandbox.md).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from pushpay.errors import DomainError, InvalidInput, StateConflict
from requests_app import services as request_services
from requests_app.locks import lock_request
from requests_app.models import Participant, PaymentRequest, RequestEvent
from requests_app.ports import sends_own_message

from ..adapters.base import PaymentStatus, ProviderError
from ..models import Checkout, Leg, LegOperation
from ..outbox import refund_notice_plan
from ..registry import adapter_for
from .disputes import disputed_amounts_by_leg
from .legs import checkout_sync, leg_call, leg_transition

# A reservation this old had its call lost (crash, timeout): the next refund replays it.
PENDING_REFUND_STALE_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class RefundLine:
    """Give back ``amount`` of what ``participant`` paid; ``None``: all that is left."""

    participant: Participant
    amount: int | None = None


def payment_request_refund(
    *,
    payment_request: PaymentRequest,
    lines: list[RefundLine] | None = None,
) -> PaymentRequest:
    """Give back captured money: all of it (no ``lines``), or per participant, whole or part.

    Refuses with ``nothing_to_refund`` (409) when the refund would move nothing, and with
    ``refund_exceeds_captured`` (422) when a line asks for more than is left to give back.
    """
    _validate(payment_request, lines)
    refunds_finish_pending(payment_request=payment_request)
    reserved = _reserve(payment_request, lines)
    booked, failure = _execute(payment_request, reserved)
    if failure is _NO_ANSWER and not booked:
        raise StateConflict(
            "The payment provider did not answer; the refund is retried automatically.",
            code="refund_in_progress",
            field="participants",
        )
    if failure and not booked:
        raise StateConflict(
            f"The provider did not refund: {failure}",
            code="refund_failed",
            field="participants",
        )
    payment_request.refresh_from_db()
    return payment_request


def refunds_recover_stale(*, now=None) -> int:
    """Finish, on every request, the refunds a crash or a lost answer left reserved (the
    recovery job); return how many legs were replayed."""
    cutoff = (now or timezone.now()) - PENDING_REFUND_STALE_AFTER
    request_ids = (
        Leg.objects.filter(amount_refund_pending__gt=0, updated_at__lt=cutoff)
        .values_list("checkout__request_id", flat=True)
        .distinct()
    )
    replayed = 0
    for payment_request in PaymentRequest.objects.filter(pk__in=list(request_ids[:200])):
        replayed += refunds_finish_pending(payment_request=payment_request, now=now)
    return replayed


def refunds_finish_pending(*, payment_request: PaymentRequest, now=None) -> int:
    """Replay the refunds a crash or a lost provider answer left reserved on this request's
    legs (same idempotency key: the provider gives the money back once); return how many."""
    cutoff = (now or timezone.now()) - PENDING_REFUND_STALE_AFTER
    stale = list(
        Leg.objects.filter(
            checkout__request=payment_request, amount_refund_pending__gt=0, updated_at__lt=cutoff
        ).select_related("checkout__participant")
    )
    if stale:
        _execute(payment_request, stale)
    return len(stale)


def _validate(payment_request: PaymentRequest, lines: list[RefundLine] | None) -> None:
    if lines is None:
        return
    if not lines:
        raise InvalidInput(
            "Name at least one participant, or send {} to refund everything.",
            code="required",
            field="participants",
        )
    seen: set[int] = set()
    for index, line in enumerate(lines):
        field = f"participants[{index}]"
        if line.participant.request_id != payment_request.pk:
            raise InvalidInput(
                f"No such participant in this request: '{line.participant.public_id}'.",
                code="unknown_participant",
                field=f"{field}.id",
            )
        if line.participant.pk in seen:
            raise InvalidInput(
                f"Participant '{line.participant.public_id}' is named twice.",
                code="duplicate_participant",
                field=f"{field}.id",
            )
        seen.add(line.participant.pk)
        request_services.validate_amount(line.amount, f"{field}.amount")


def _refundable(leg: Leg, disputed: dict[int, int]) -> int:
    """What a refund may take from this leg: the fee a checkout carries stays (a fee
    checkout has one leg, and refunds never touch its fee, so it is all still there), and
    so does what an open or lost chargeback took back (``disputed``, per leg): the payer's
    bank already returned that money, it cannot be given back a second time."""
    return max(0, leg.amount_refundable - leg.checkout.fee_amount - disputed.get(leg.pk, 0))


def _reserve(payment_request: PaymentRequest, lines: list[RefundLine] | None) -> list[Leg]:
    """Decide and write down, under the request's lock, what each leg gives back."""
    with transaction.atomic():
        lock_request(payment_request.pk)
        legs = list(
            Leg.objects.select_for_update(of=("self",))
            .filter(
                checkout__request=payment_request,
                # Only money booked on the participant: a checkout captured but not booked
                # (the request closed meanwhile) is being given back by the saga itself.
                checkout__status__in=(
                    Checkout.Status.SUCCEEDED,
                    Checkout.Status.PARTIALLY_REFUNDED,
                ),
                status__in=Leg.TAKEN,
            )
            .select_related("checkout__participant")
            .order_by("-checkout__created_at", "-checkout_id", "-id")
        )
        disputed = disputed_amounts_by_leg(leg_ids=[leg.pk for leg in legs])
        by_participant: dict[int, list[Leg]] = {}
        for leg in legs:
            by_participant.setdefault(leg.checkout.participant_id, []).append(leg)
        if lines is None:
            wanted = [(pk, None, None) for pk in by_participant]
        else:
            wanted = [(line.participant.pk, line.amount, index) for index, line in enumerate(lines)]
        reserved: list[Leg] = []
        for participant_pk, amount, index in wanted:
            own = by_participant.get(participant_pk, [])
            available = sum(_refundable(leg, disputed) for leg in own)
            in_flight = any(leg.amount_refund_pending for leg in own)
            if amount is not None and amount > available:
                if in_flight:
                    raise _in_progress()
                raise InvalidInput(
                    "At most %(available)s can be refunded to this participant.",
                    params={"available": available},
                    code="refund_exceeds_captured",
                    field=f"participants[{index}].amount",
                )
            left = available if amount is None else amount
            for leg in own:
                part = min(left, _refundable(leg, disputed))
                if part <= 0 or leg.amount_refund_pending:
                    continue
                leg.amount_refund_pending = part
                leg.save(update_fields=["amount_refund_pending", "updated_at"])
                reserved.append(leg)
                left -= part
            if left > 0:
                # What is left sits on a leg whose previous refund is still in flight.
                raise _in_progress()
        if not reserved:
            if any(leg.amount_refund_pending for leg in legs):
                raise _in_progress()
            raise StateConflict(
                "Nothing captured is left to refund.",
                code="nothing_to_refund",
                field="participants" if lines else None,
            )
        return reserved


def _in_progress() -> StateConflict:
    return StateConflict(
        "A refund of this payment is already in progress; retry in a moment.",
        code="refund_in_progress",
        field="participants",
    )


def _execute(payment_request: PaymentRequest, legs: list[Leg]) -> tuple[bool, str]:
    """Ask the provider for each reserved leg, then book what came back, per participant.

    Returns whether anything was refunded, and the last refusal. What did come back is
    booked even when another leg failed: the answer then shows the refund as it is."""
    refunded: dict[int, list[Leg]] = {}
    failure = ""
    for leg in legs:
        outcome = _leg_refund(payment_request, leg)
        if outcome is True:
            refunded.setdefault(leg.checkout.participant_id, []).append(leg)
        elif outcome:
            failure = outcome
    for own in refunded.values():
        _book(payment_request, own)
    return bool(refunded), failure


_NO_ANSWER = "no answer"  # the reservation stays: the same call is replayed later


def _leg_refund(payment_request: PaymentRequest, leg: Leg) -> bool | str:
    """Give the reserved amount of one leg back: True when the provider did, else the reason.

    A refusal releases the reservation; no answer keeps it, so the next refund replays the
    very same call."""
    adapter = adapter_for(
        merchant=payment_request.merchant,
        method=leg.method,
        livemode=leg.livemode,
        provider=leg.provider,
    )
    amount, key = leg.amount_refund_pending, leg.refund_key()
    try:
        result = leg_call(
            leg,
            LegOperation.Operation.REFUND,
            lambda: adapter.refund(
                reference=leg.provider_reference, amount=amount, idempotency_key=key
            ),
            amount=amount,
            idempotency_key=key,
        )
    except ProviderError:
        return _NO_ANSWER
    except DomainError as exc:
        result_message = exc.message
        refused = True
    else:
        result_message = result.message
        refused = result.status != PaymentStatus.REFUNDED
    if refused:
        with transaction.atomic():
            Leg.objects.filter(
                pk=leg.pk,
                amount_refunded=leg.amount_refunded,
                amount_refund_pending=amount,
            ).update(amount_refund_pending=0, updated_at=timezone.now())
        return result_message or "refused"
    return True


def _book(payment_request: PaymentRequest, legs: list[Leg]) -> None:
    """Book one participant's refunded legs in one transaction. A leg someone else booked
    meanwhile (a replay of the same reservation) is skipped: its money counts once."""
    with transaction.atomic():
        lock_request(payment_request.pk)
        booked = 0
        checkouts: dict[int, Checkout] = {}
        for leg in legs:
            checkout = checkouts.get(leg.checkout_id) or (
                Checkout.objects.select_for_update().get(pk=leg.checkout_id)
            )
            fresh = Leg.objects.select_for_update().get(pk=leg.pk)
            if (fresh.amount_refunded, fresh.amount_refund_pending) != (
                leg.amount_refunded,
                leg.amount_refund_pending,
            ):
                continue
            checkouts[checkout.pk] = checkout
            total = fresh.amount_refunded + fresh.amount_refund_pending
            booked += fresh.amount_refund_pending
            leg_transition(
                fresh,
                Leg.Status.REFUNDED if total == fresh.amount else Leg.Status.PARTIALLY_REFUNDED,
                amount_refunded=total,
                amount_refund_pending=0,
            )
        if not booked:
            return
        for checkout in checkouts.values():
            checkout_sync(checkout)
        participant = request_services.participant_record_refund(
            participant=legs[0].checkout.participant,
            amount=booked,
            checkouts=[c.public_id for c in checkouts.values()],
        )
        if not sends_own_message(payment_request=payment_request, trigger="payment_refunded"):
            event = RequestEvent.objects.filter(
                participant=participant, type=RequestEvent.Type.PAYMENT_REFUNDED
            ).latest("id")
            refund_notice_plan(event=event)


def refund_record_at_provider(
    *, leg: Leg, total_refunded: int, reference: str = "", note: str = ""
) -> int:
    """Book a refund made outside the product (in the provider's dashboard) that the
    provider reports: ``total_refunded`` is all it has given back on the leg so far.

    Absolute, not a delta, so a replayed or reordered report books nothing twice. Returns
    what was booked now (0 when it was already known). Refused with ``refund_in_progress``
    while a refund of ours is in flight on the leg: its own booking must come first, and
    the provider delivers the report again later.
    """
    with transaction.atomic():
        payment_request = lock_request(leg.checkout.request_id)
        checkout = Checkout.objects.select_for_update().get(pk=leg.checkout_id)
        fresh = Leg.objects.select_for_update().get(pk=leg.pk)
        if fresh.amount_refund_pending:
            raise _in_progress()
        if checkout.status not in (
            Checkout.Status.SUCCEEDED,
            Checkout.Status.PARTIALLY_REFUNDED,
            Checkout.Status.REFUNDED,
        ):
            raise StateConflict(
                "This payment is not booked yet; the refund is booked once it is.",
                code="payment_not_booked",
                field="leg",
            )
        total = min(total_refunded, fresh.amount)
        extra = total - fresh.amount_refunded
        if extra <= 0:
            return 0
        leg_transition(
            fresh,
            Leg.Status.REFUNDED if total == fresh.amount else Leg.Status.PARTIALLY_REFUNDED,
            amount_refunded=total,
        )
        LegOperation.objects.create(
            merchant_id=fresh.merchant_id,
            livemode=fresh.livemode,
            leg=fresh,
            operation=LegOperation.Operation.REFUND,
            idempotency_key="",
            amount=extra,
            result=LegOperation.Result.SUCCEEDED,
            status=PaymentStatus.REFUNDED,
            amount_moved=extra,
            provider_reference=fresh.provider_reference,
            operation_reference=reference[:80],
            message=note[:300],
        )
        checkout_sync(checkout)
        participant = request_services.participant_record_refund(
            participant=checkout.participant, amount=extra, checkouts=[checkout.public_id]
        )
        if not sends_own_message(payment_request=payment_request, trigger="payment_refunded"):
            event = RequestEvent.objects.filter(
                participant=participant, type=RequestEvent.Type.PAYMENT_REFUNDED
            ).latest("id")
            refund_notice_plan(event=event)
    return extra
