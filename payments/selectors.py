"""Merchant-scoped reads for payments."""

from merchants.models import Merchant

from .models import Checkout, MerchantPaymentMethod
from .registry import payment_method_available, payment_methods


def payment_methods_enabled(*, merchant: Merchant) -> list[str]:
    """Codes of the methods this merchant offers, in registry order.

    A method the merchant never configured follows its ``enabled_by_default``: card is on
    when nothing is configured, every other method is off until enabled. An explicit row
    always wins, so a merchant can switch cards off too.
    """
    choices = dict(
        MerchantPaymentMethod.objects.filter(merchant=merchant).values_list("method", "enabled")
    )
    return [m.code for m in payment_methods() if choices.get(m.code, m.enabled_by_default)]


def payment_methods_for_request(*, payment_request) -> list[str]:
    """The methods a payer of this request may use now: those the request allows (or the
    merchant offers), less those that cannot move money in the request's mode. A live
    request whose merchant has no live card provider does not offer cards at all."""
    candidates = payment_request.allowed_payment_methods or payment_methods_enabled(
        merchant=payment_request.merchant
    )
    return [
        code
        for code in candidates
        if payment_method_available(
            merchant=payment_request.merchant, method=code, livemode=payment_request.livemode
        )
    ]


def checkout_for_participant(*, participant, public_id: str) -> Checkout | None:
    """A payer only ever reaches the checkouts of their own link."""
    return (
        Checkout.objects.filter(participant=participant, public_id=public_id)
        .prefetch_related("legs")
        .first()
    )


def checkout_last_succeeded(*, participant) -> Checkout | None:
    return Checkout.objects.filter(
        participant=participant, status=Checkout.Status.SUCCEEDED
    ).first()
