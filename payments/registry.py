"""Which payment methods exist, and which adapter serves each in each mode.

A method is a code ("card", later "holiday_voucher", "wallet", "paypal") bound to two adapter
classes: one for test mode (a sandbox, or a provider's own test credentials) and one for
live mode (a real provider, or none yet). Adding one is a ``register`` call next to its
adapters plus an import below; nothing else in the product names adapters.

Test and live are kept apart here, by construction: a sandbox adapter cannot be registered
for live mode (``PaymentMethod`` refuses it), ``adapter_for`` refuses to hand one out for a
live call even if the registry were tampered with, and a system check reports it at start-up
and in ``check --deploy``. A public test card therefore has no path to a live request.

Whether a merchant *offers* a method is a separate question, answered by
``payments.selectors.payment_methods_enabled``. ``adapter_for`` deliberately does not check
it: a leg authorised before a merchant switched a method off must still be captured, voided
or refunded through it.
"""

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from merchants.models import Merchant
from pushpay.errors import InvalidInput

from .adapters.base import PaymentMethodAdapter
from .adapters.paypal_rest import PayPalRestAdapter
from .adapters.sandbox_card import SandboxCardAdapter
from .adapters.sandbox_paypal import SandboxPayPalAdapter
from .adapters.sandbox_voucher import SandboxVoucherAdapter
from .adapters.stripe_card import StripeCardAdapter
from .adapters.wallet import WalletAdapter


@dataclass(frozen=True)
class PaymentMethod:
    """``adapter_class`` serves test mode; ``live_adapter_class`` live mode (None: the method
    cannot take real money, so live requests do not offer it).

    ``provider_adapter_classes`` are real providers a merchant plugs in with its own
    credentials (Stripe for cards, PayPal's REST API for PayPal): the first one configured
    for the merchant in the mode wins, in either mode (a merchant's own Stripe test keys or
    PayPal sandbox app replace the sandbox in test mode), before the defaults above.
    """

    code: str
    label: str
    adapter_class: type[PaymentMethodAdapter]
    live_adapter_class: type[PaymentMethodAdapter] | None = None
    enabled_by_default: bool = False
    provider_adapter_classes: tuple[type[PaymentMethodAdapter], ...] = ()

    def __post_init__(self) -> None:
        if self.live_adapter_class is not None and self.live_adapter_class.is_sandbox:
            raise ValueError(
                f"Payment method '{self.code}': a sandbox adapter can never serve live mode."
            )
        if any(cls.is_sandbox for cls in self.provider_adapter_classes):
            raise ValueError(f"Payment method '{self.code}': a provider cannot be a sandbox.")

    def adapter_class_for(
        self, *, livemode: bool, merchant: Merchant | None = None, provider: str = ""
    ) -> type[PaymentMethodAdapter] | None:
        """The class serving this mode: the one named ``provider`` (a leg's own, fixed when
        it was created), else a provider the merchant configured, else the mode's default.
        Without a merchant, the answer is about the method in general (its hold window)."""
        candidates = [*self.provider_adapter_classes, self.live_adapter_class, self.adapter_class]
        if provider:
            for cls in candidates:
                if cls is not None and cls.provider == provider:
                    if livemode and cls.is_sandbox:
                        return None
                    return cls
            return None
        for cls in self.provider_adapter_classes:
            if merchant is None and livemode and self.live_adapter_class is None:
                return cls
            if merchant is not None and cls.is_configured(merchant=merchant, livemode=livemode):
                return cls
        return self.live_adapter_class if livemode else self.adapter_class


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


def payment_method_available(*, merchant: Merchant, method: str, livemode: bool) -> bool:
    """Whether ``method`` can move money for this merchant in this mode: an adapter exists
    for the mode and (for real providers) the merchant has configured it."""
    adapter_class = payment_method_get(method).adapter_class_for(
        livemode=livemode, merchant=merchant
    )
    if adapter_class is None or (livemode and adapter_class.is_sandbox):
        return False
    return adapter_class.is_configured(merchant=merchant, livemode=livemode)


def adapter_for(
    *, merchant: Merchant, method: str, livemode: bool, provider: str = ""
) -> PaymentMethodAdapter:
    """The adapter that moves money for ``method`` in this mode.

    ``provider`` (a leg's own) pins the adapter that served the leg, so a merchant who
    enters Stripe test keys while a sandbox hold is open still releases it at the sandbox.
    Refuses (``payment_method_unavailable``) when the mode has no adapter for the method or
    the merchant has not configured it: a live call never falls back to a sandbox.
    """
    registered = payment_method_get(method)
    if livemode and registered.live_adapter_class and registered.live_adapter_class.is_sandbox:
        # PaymentMethod refuses this; reaching here means the registry was altered.
        raise ImproperlyConfigured(f"A sandbox adapter is registered for live '{method}'.")
    adapter_class = registered.adapter_class_for(
        livemode=livemode, merchant=merchant, provider=provider
    )
    if livemode and adapter_class is not None and adapter_class.is_sandbox:
        # PaymentMethod already refuses this; reaching here means the registry was altered.
        raise ImproperlyConfigured(f"A sandbox adapter is registered for live '{method}'.")
    if adapter_class is None or not adapter_class.is_configured(
        merchant=merchant, livemode=livemode
    ):
        mode = "live" if livemode else "test"
        raise InvalidInput(
            f"The payment method '{method}' is not available in {mode} mode.",
            code="payment_method_unavailable",
            field="method",
        )
    return adapter_class(merchant=merchant, livemode=livemode)


def sandbox_owns_source(source: str) -> bool:
    """Whether ``source`` was issued by one of our sandboxes (a test card's token …).

    Checked before any leg of a live checkout exists, so a sandbox token is refused on a
    live request whatever adapter the live method has.
    """
    sandboxes = {m.adapter_class for m in _methods.values() if m.adapter_class.is_sandbox}
    return any(adapter_class.owns_source(source) for adapter_class in sandboxes)


# Cards are on by default so that a new merchant can be paid at once; every later method
# starts off, so shipping an adapter never silently offers it to every existing merchant.
# Live cards go through the merchant's own Stripe account: without live Stripe credentials,
# live requests cannot offer cards and are refused at creation. In test mode the merchant's
# Stripe test keys (when entered) replace the sandbox.
register(
    PaymentMethod(
        code="card",
        label="Card",
        adapter_class=SandboxCardAdapter,
        enabled_by_default=True,
        provider_adapter_classes=(StripeCardAdapter,),
    )
)
register(
    PaymentMethod(
        code="holiday_voucher", label="Holiday vouchers", adapter_class=SandboxVoucherAdapter
    )
)

# PayPal: the merchant's own PayPal app (REST Orders v2) when it entered one for the mode; in
# test mode a PayPal sandbox app replaces our sandbox, which serves test mode otherwise.
# Without live PayPal credentials live requests never offer it. Off by default, like every
# later method.
register(
    PaymentMethod(
        code="paypal",
        label="PayPal",
        adapter_class=SandboxPayPalAdapter,
        provider_adapter_classes=(PayPalRestAdapter,),
    )
)

# The cashback wallet: the merchant's own stored value, not a sandbox, so one adapter serves
# both modes (its books keep test and live apart on every row). Off by default.
register(
    PaymentMethod(
        code="wallet",
        label="Cashback wallet",
        adapter_class=WalletAdapter,
        live_adapter_class=WalletAdapter,
    )
)


def participant_source_check(*, payment_request, participant, method: str, source: str) -> None:
    """Refuse (``source_not_yours``) a leg of a method found from the participant (a
    cashback wallet) whose source is not that participant's own: a payer can never spend
    another holder's balance by naming its id. The pay path and the saga call it for every
    leg, before anything is written."""
    adapter_class = payment_method_get(method).adapter_class_for(
        livemode=payment_request.livemode, merchant=payment_request.merchant
    )
    if adapter_class is None or not adapter_class.source_from_participant:
        return
    adapter = adapter_class(merchant=payment_request.merchant, livemode=payment_request.livemode)
    if not source or adapter.participant_source(participant) != source:
        raise InvalidInput(
            "This balance is not yours: only the one of your own email or phone can pay.",
            code="source_not_yours",
            field="source",
        )
