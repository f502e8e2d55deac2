"""Row locks of the sandbox PayPal, in one place.

Every move on an order (approval, authorization, capture, void, refund) locks its row first,
so two of them can never both read "1000 still held" and both take it, nor a payer's
Approve race a merchant's void. One row is locked per call: there is no order to get wrong.
"""

from merchants.models import Merchant
from pushpay.errors import DoesNotExist

from .paypal_models import SandboxPayPalOrder


def lock_paypal_order(*, merchant: Merchant, public_id: str) -> SandboxPayPalOrder:
    try:
        return SandboxPayPalOrder.objects.select_for_update().get(
            merchant=merchant, public_id=public_id
        )
    except SandboxPayPalOrder.DoesNotExist:
        raise DoesNotExist(
            f"No such sandbox PayPal order: '{public_id}'.", code="not_found", field="reference"
        ) from None


def lock_paypal_approval(*, public_id: str) -> SandboxPayPalOrder:
    """The payer's side: no merchant, as the order id in the approval link is the secret."""
    try:
        return SandboxPayPalOrder.objects.select_for_update().get(public_id=public_id)
    except SandboxPayPalOrder.DoesNotExist:
        raise DoesNotExist("No such PayPal order.", code="not_found", field="reference") from None
