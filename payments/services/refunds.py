"""Refunds: giving back what was captured, per leg, idempotently."""

from django.db import transaction

from pushpay.errors import StateConflict
from requests_app import services as request_services
from requests_app.locks import lock_request
from requests_app.models import Participant, PaymentRequest

from ..adapters.base import PaymentStatus
from ..models import Checkout, Leg
from ..registry import (
    adapter_for,
)
from .saga import _set_checkout_status


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
        leg = checkout.legs.all()[0]
        adapter = adapter_for(
            merchant=payment_request.merchant, method=leg.method, livemode=leg.livemode
        )
        result = adapter.refund(
            reference=leg.provider_reference,
            amount=leg.amount,
            idempotency_key=leg.idempotency_key("refund"),
        )
        if result.status != PaymentStatus.REFUNDED:
            raise StateConflict(
                f"The provider did not refund {checkout.public_id}: {result.message}",
                code="refund_failed",
                field="participants",
            )
        with transaction.atomic():
            lock_request(payment_request.pk)
            checkout = Checkout.objects.select_for_update().get(pk=checkout.pk)
            if checkout.status != Checkout.Status.SUCCEEDED:
                continue
            Leg.objects.filter(pk=leg.pk).update(status=Leg.Status.REFUNDED)
            _set_checkout_status(checkout, Checkout.Status.REFUNDED)
            request_services.participant_record_refund(
                participant=checkout.participant, amount=checkout.amount
            )
    payment_request.refresh_from_db()
    return payment_request
