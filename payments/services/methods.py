"""Which payment methods a merchant offers (one row per merchant and method)."""

from django.db import transaction

from merchants.models import Merchant

from ..models import MerchantPaymentMethod
from ..registry import (
    payment_method_get,
)


def _payment_method_set(*, merchant: Merchant, method: str, enabled: bool) -> MerchantPaymentMethod:
    payment_method_get(method)  # refuses unknown codes with a field error
    with transaction.atomic():
        choice, _ = MerchantPaymentMethod.objects.update_or_create(
            merchant=merchant, method=method, defaults={"enabled": enabled}
        )
    return choice


def payment_method_enable(*, merchant: Merchant, method: str) -> MerchantPaymentMethod:
    return _payment_method_set(merchant=merchant, method=method, enabled=True)


def payment_method_disable(*, merchant: Merchant, method: str) -> MerchantPaymentMethod:
    """Stops offering the method to payers; payments already under way are not affected."""
    return _payment_method_set(merchant=merchant, method=method, enabled=False)


#
# The order of every checkout is the same: reserve under the request's row lock and save the
# leg (transaction 1); ask the provider (no transaction: slow I/O never holds a lock); book
# the outcome (transaction 2). A crash between two steps leaves a leg whose state and
# idempotency keys say exactly what to retry.
