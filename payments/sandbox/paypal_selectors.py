"""Reads on the sandbox PayPal's books, for the adapter, the approval page and tests.

``sandbox_paypal_balance`` is the payer's PayPal statement for one or more orders: what is
held and what was taken, summed from ledger rows alone.
"""

from collections.abc import Iterable

from django.db.models import Sum

from merchants.models import Merchant
from pushpay.errors import DoesNotExist, InvalidInput

from .paypal_models import SandboxPayPalLedgerEntry, SandboxPayPalOrder
from .selectors import CardBalance

# The same two numbers as a card's statement; the name says what they mean here.
PayPalBalance = CardBalance


def sandbox_paypal_order_get(*, merchant: Merchant, public_id: str) -> SandboxPayPalOrder:
    try:
        return SandboxPayPalOrder.objects.get(merchant=merchant, public_id=public_id)
    except SandboxPayPalOrder.DoesNotExist:
        raise DoesNotExist(
            f"No such sandbox PayPal order: '{public_id}'.", code="not_found", field="reference"
        ) from None


def sandbox_paypal_approval_get(*, public_id: str) -> SandboxPayPalOrder | None:
    """Not scoped to a merchant: the payer reaches the approval page through an unguessable
    order id (143 bits), as on PayPal's own approval link."""
    return SandboxPayPalOrder.objects.select_related("merchant").filter(public_id=public_id).first()


def sandbox_paypal_balance(*, merchant: Merchant, references: Iterable[str]) -> PayPalBalance:
    """Held and debited totals over some of this merchant's orders (a payer's PayPal legs).

    Amounts in different currencies never add up, so mixing them is refused.
    """
    rows = SandboxPayPalLedgerEntry.objects.filter(
        merchant=merchant,
        order__public_id__in=list(references),
        status=SandboxPayPalLedgerEntry.Status.SUCCEEDED,
    )
    totals: dict[str, dict[str, int]] = {}
    for row in rows.values("currency", "kind").annotate(total=Sum("amount")).order_by():
        totals.setdefault(row["currency"], {})[row["kind"]] = row["total"]
    if len(totals) > 1:
        raise InvalidInput(
            "These orders are in several currencies.", code="several_currencies", field="currency"
        )
    currency, by_kind = next(iter(totals.items()), (None, {}))
    kind = SandboxPayPalLedgerEntry.Kind
    hold, capture = by_kind.get(kind.HOLD, 0), by_kind.get(kind.CAPTURE, 0)
    void, refund = by_kind.get(kind.VOID, 0), by_kind.get(kind.REFUND, 0)
    return PayPalBalance(held=hold - capture - void, debited=capture - refund, currency=currency)


def sandbox_paypal_ledger(*, merchant: Merchant, reference: str) -> list[SandboxPayPalLedgerEntry]:
    return list(
        SandboxPayPalLedgerEntry.objects.filter(merchant=merchant, order__public_id=reference)
    )
