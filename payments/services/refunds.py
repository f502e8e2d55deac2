"""Refunds: giving back what was captured, per leg, idempotently."""

from django.db import transaction

from pushpay.errors import StateConflict
from requests_app import services as request_services
from requests_app.locks import lock_request
from requests_app.models import Participant, PaymentRequest

from ..adapters.base import PaymentStatus
from ..models import Checkout, Leg, LegOperation
from ..registry import adapter_for
from .legs import checkout_sync, leg_call, leg_transition


def payment_request_refund(
    *, payment_request: PaymentRequest, participants: list[Participant] | None = None
) -> PaymentRequest:
    """Give back the captured shares of a cancelled or closed request (all, or those of the
    given participants). Safe to repeat: refunded checkouts are skipped, and each provider
    refund carries the leg's idempotency key."""
    if not request_services.refund_allowed(payment_request):
        raise StateConflict(
            "Only a cancelled request, or one its expiry closed, can be refunded.",
            code="refund_not_allowed",
            field="status",
        )
    checkouts = Checkout.objects.filter(
        request=payment_request, status=Checkout.Status.SUCCEEDED
    ).prefetch_related("legs")
    if participants is not None:
        checkouts = checkouts.filter(participant__in=participants)
    for checkout in checkouts:
        for leg in checkout.legs.all():
            _leg_refund(payment_request, checkout, leg, leg.amount_refundable)
        with transaction.atomic():
            lock_request(payment_request.pk)
            checkout = Checkout.objects.select_for_update().get(pk=checkout.pk)
            if checkout.status != Checkout.Status.SUCCEEDED:
                continue
            checkout_sync(checkout)
            request_services.participant_record_refund(
                participant=checkout.participant, amount=checkout.amount
            )
    payment_request.refresh_from_db()
    return payment_request


def _leg_refund(payment_request: PaymentRequest, checkout: Checkout, leg: Leg, amount: int) -> None:
    """Give ``amount`` of one leg back. The idempotency key names the refund by what was
    already given back, so a retry after a crash replays this refund and a later refund of
    the same leg is a new one."""
    if amount <= 0:
        return
    adapter = adapter_for(
        merchant=payment_request.merchant, method=leg.method, livemode=leg.livemode
    )
    key = leg.idempotency_key(f"refund:{leg.amount_refunded}:{amount}")
    result = leg_call(
        leg,
        LegOperation.Operation.REFUND,
        lambda: adapter.refund(
            reference=leg.provider_reference, amount=amount, idempotency_key=key
        ),
        amount=amount,
        idempotency_key=key,
    )
    if result.status != PaymentStatus.REFUNDED:
        raise StateConflict(
            f"The provider did not refund {checkout.public_id}: {result.message}",
            code="refund_failed",
            field="participants",
        )
    with transaction.atomic():
        fresh = Leg.objects.select_for_update().get(pk=leg.pk)
        if fresh.amount_refunded != leg.amount_refunded:
            return  # another refund of this leg got there first; its row says so
        refunded = fresh.amount_refunded + amount
        leg_transition(
            fresh,
            Leg.Status.REFUNDED if refunded == fresh.amount else Leg.Status.PARTIALLY_REFUNDED,
            amount_refunded=refunded,
        )
