from django.db import models

from merchants.models import Merchant, TimeStamped

# The sandbox acquirer's tables live in their own module; importing them here is what makes
# them part of this app for Django (models are discovered through ``payments.models``).
from .sandbox.models import SandboxAuthorisation, SandboxCard, SandboxLedgerEntry

__all__ = [
    "MerchantPaymentMethod",
    "SandboxAuthorisation",
    "SandboxCard",
    "SandboxLedgerEntry",
]


class MerchantPaymentMethod(TimeStamped):
    """A merchant's explicit choice to offer a payment method or not.

    No row means "the method's default" (see ``payments.registry``), so adding a method to
    the product never needs a data migration for existing merchants. ``method`` is a registry
    code rather than a choices field: methods are plug-ins, and a row for a method whose
    adapter was removed is simply ignored.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=40)
    enabled = models.BooleanField()

    class Meta:
        ordering = ["merchant_id", "method"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "method"], name="merchant_payment_method_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {'on' if self.enabled else 'off'} for merchant {self.merchant_id}"
