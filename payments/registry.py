"""Which payment methods exist, and which one adapter serves each.

A method is a code ("card", later "holiday_voucher", "wallet", "paypal") bound to an adapter
class. Adding one is a ``register`` call next to its adapter plus an import below; nothing
else in the product names adapters, so the checkout works with any method listed here.

Whether a merchant *offers* a method is a separate question, answered by
``payments.selectors.payment_methods_enabled``. ``adapter_for`` deliberately does not check
it: a leg authorised before a merchant switched a method off must still be captured, voided
or refunded through it.
"""

from dataclasses import dataclass

from merchants.models import Merchant
from pushpay.errors import InvalidInput

from .adapters.base import PaymentMethodAdapter
from .adapters.sandbox_card import SandboxCardAdapter


@dataclass(frozen=True)
class PaymentMethod:
    code: str
    label: str
    adapter_class: type[PaymentMethodAdapter]
    enabled_by_default: bool = False


_methods: dict[str, PaymentMethod] = {}


def register(method: PaymentMethod) -> None:
    if method.code in _methods and _methods[method.code] != method:
        raise ValueError(f"Payment method '{method.code}' is already registered.")
    _methods[method.code] = method


def payment_methods() -> list[PaymentMethod]:
    """Every registered method, in registration order (the order payers see them in)."""
    return list(_methods.values())


def payment_method_get(code: str) -> PaymentMethod:
    try:
        return _methods[code]
    except (KeyError, TypeError):
        raise InvalidInput(
            f"Unknown payment method '{code}'.", code="unknown_payment_method", field="method"
        ) from None


def adapter_for(*, merchant: Merchant, method: str) -> PaymentMethodAdapter:
    return payment_method_get(method).adapter_class(merchant=merchant)


# Cards are on by default so that a new merchant can be paid at once; every later method
# starts off, so shipping an adapter never silently offers it to every existing merchant.
register(
    PaymentMethod(
        code="card", label="Card", adapter_class=SandboxCardAdapter, enabled_by_default=True
    )
)
