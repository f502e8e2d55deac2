"""Which methods a payer may combine in one payment, and how much each must carry.

A merchant decides: at most N methods per payment (``MerchantPaymentSettings``), and per
method a minimum amount in a combined payment and the methods it may be combined with
(``MerchantPaymentMethod.min_leg_amount`` / ``combinable_with``). For example holiday
vouchers only together with a card, and a card leg of at least 1.00 €, so nobody pays
0.05 € by card to finish off a voucher payment. A single-method payment is never limited
by these rules: it is what every merchant offers already.
"""

from django.db import transaction

from merchants.models import Merchant
from pushpay.errors import InvalidInput
from pushpay.money import format_money

from ..models import MerchantPaymentMethod, MerchantPaymentSettings
from ..registry import payment_method_get
from ..selectors import payment_methods_enabled

MAX_MINOR_UNITS = 10**13


def _max_methods(merchant: Merchant) -> int:
    row = MerchantPaymentSettings.objects.filter(merchant=merchant).first()
    return row.max_methods_per_payment if row else MerchantPaymentSettings.DEFAULT_MAX_METHODS


def combination_check(*, merchant: Merchant, legs: list[tuple[str, int]], currency: str) -> None:
    """Refuse a combination of ``(method, amount)`` legs the merchant does not allow."""
    if len(legs) <= 1:
        return
    limit = _max_methods(merchant)
    if len(legs) > limit:
        raise InvalidInput(
            f"At most {limit} payment methods can be combined in one payment.",
            code="too_many_methods",
            field="legs",
        )
    methods = [method for method, _ in legs]
    rules = {
        row.method: row
        for row in MerchantPaymentMethod.objects.filter(merchant=merchant, method__in=methods)
    }
    for method, amount in legs:
        rule = rules.get(method)
        if rule is None:
            continue
        if rule.combinable_with is not None:
            others = sorted(set(methods) - {method} - set(rule.combinable_with))
            if others:
                label = payment_method_get(method).label
                raise InvalidInput(
                    f"{label} cannot be combined with "
                    f"{', '.join(payment_method_get(o).label for o in others)}.",
                    code="combination_not_allowed",
                    field="legs",
                )
        if rule.min_leg_amount and amount < rule.min_leg_amount:
            raise InvalidInput(
                f"{payment_method_get(method).label} must pay at least "
                f"{format_money(rule.min_leg_amount, currency, 'en')} in a combined payment.",
                code="leg_below_minimum",
                field="legs",
            )


def payment_method_configure(
    *,
    merchant: Merchant,
    method: str,
    min_leg_amount: int | None = None,
    combinable_with: list[str] | None = None,
    any_combination: bool = False,
) -> MerchantPaymentMethod:
    """Set a method's combination rules (whether it is offered stays as it is).

    ``combinable_with=[]`` makes the method pay alone; ``any_combination=True`` lifts the
    restriction again.
    """
    payment_method_get(method)
    updates: dict = {}
    if min_leg_amount is not None:
        if (
            isinstance(min_leg_amount, bool)
            or not isinstance(min_leg_amount, int)
            or not 0 <= min_leg_amount <= MAX_MINOR_UNITS
        ):
            raise InvalidInput(
                "The minimum must be a non-negative integer of minor units.",
                code="invalid_amount",
                field="min_leg_amount",
            )
        updates["min_leg_amount"] = min_leg_amount
    if any_combination:
        updates["combinable_with"] = None
    elif combinable_with is not None:
        if not isinstance(combinable_with, list) or not all(
            isinstance(code, str) for code in combinable_with
        ):
            raise InvalidInput(
                "List the payment method codes.", code="invalid", field="combinable_with"
            )
        for code in combinable_with:
            payment_method_get(code)
        if method in combinable_with:
            raise InvalidInput(
                "A method is not combined with itself.", code="invalid", field="combinable_with"
            )
        updates["combinable_with"] = sorted(set(combinable_with))
    with transaction.atomic():
        row, created = MerchantPaymentMethod.objects.get_or_create(
            merchant=merchant,
            method=method,
            defaults={"enabled": method in payment_methods_enabled(merchant=merchant), **updates},
        )
        if not created and updates:
            for name, value in updates.items():
                setattr(row, name, value)
            row.save(update_fields=[*updates, "updated_at"])
    return row


def payment_settings_update(
    *, merchant: Merchant, max_methods_per_payment: int
) -> MerchantPaymentSettings:
    limit = MerchantPaymentSettings.MAX_METHODS_LIMIT
    if (
        isinstance(max_methods_per_payment, bool)
        or not isinstance(max_methods_per_payment, int)
        or not 1 <= max_methods_per_payment <= limit
    ):
        raise InvalidInput(
            f"Between 1 and {limit} methods.", code="invalid", field="max_methods_per_payment"
        )
    row, _ = MerchantPaymentSettings.objects.update_or_create(
        merchant=merchant, defaults={"max_methods_per_payment": max_methods_per_payment}
    )
    return row
