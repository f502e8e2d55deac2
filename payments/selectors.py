"""Merchant-scoped reads for payments."""

from merchants.models import Merchant

from .models import MerchantPaymentMethod
from .registry import payment_methods


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
