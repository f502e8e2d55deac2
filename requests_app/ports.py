"""What requests_app needs to ask of the apps downstream, without importing them.

requests_app sits upstream of payments and scenarios (STYLE.md, "Between apps"): its rules
need a few answers that only those apps have (which payment methods exist and can move money
in a mode; whether a request's scenario sends a message for a stage). Each answer is a small
interface here; the app that has it registers an implementation from its ``AppConfig.ready()``.
Nothing here imports a downstream app, so the direction of knowledge stays one way.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from merchants.models import Merchant


class PaymentMethodRules(Protocol):
    def enabled(self, *, merchant: Merchant) -> list[str]:
        """Codes of the methods the merchant offers, in the order payers see them."""

    def available(self, *, merchant: Merchant, method: str, livemode: bool) -> bool:
        """Whether the method can move money for this merchant in this mode."""

    def hold_window(self, *, method: str, livemode: bool) -> timedelta | None:
        """How long an authorisation of this method lasts in this mode (None: no adapter)."""


@dataclass
class _Ports:
    payment_methods: PaymentMethodRules | None = None
    # (payment_request, trigger) -> whether some app sends its own message for that stage
    sends_own_message: Callable[[object, str], bool] | None = None
    # payment_request -> whether some app still collects for it (an installment plan)
    keeps_collecting: Callable[[object], bool] | None = None
    # (data, amount=, currency=, today=, field=) -> the offer normalised for storage, or None
    installment_offers: Callable[..., dict | None] | None = None


_ports = _Ports()


def payment_method_rules_register(rules: PaymentMethodRules) -> None:
    _ports.payment_methods = rules


def payment_method_rules() -> PaymentMethodRules:
    if _ports.payment_methods is None:
        raise ImproperlyConfigured("No app registered the payment method rules (payments).")
    return _ports.payment_methods


def sends_own_message_register(answer: Callable[[object, str], bool]) -> None:
    _ports.sends_own_message = answer


def sends_own_message(*, payment_request, trigger: str) -> bool:
    """Whether the request's scenario (or any app that registered) sends its own message for
    ``trigger``; the built-in receipt steps aside when it does."""
    answer = _ports.sends_own_message
    return bool(answer and answer(payment_request, trigger))


def keeps_collecting_register(answer: Callable[[object], bool]) -> None:
    _ports.keeps_collecting = answer


def installment_offers_register(parse: Callable[..., dict | None]) -> None:
    _ports.installment_offers = parse


def installment_offer_check(
    *, data, amount: int | None, currency: str, today: date, field: str
) -> dict | None:
    """Check installment settings against the share they spread and return them as stored
    (payments.installments.offers.installment_offer_parse does the reading)."""
    if data is None:
        return None
    if _ports.installment_offers is None:
        raise ImproperlyConfigured("No app registered the installment offers (payments).")
    return _ports.installment_offers(
        data, amount=amount, currency=currency, today=today, field=field
    )


def keeps_collecting(*, payment_request) -> bool:
    """Whether an app still collects on this request's behalf (a running installment plan
    charges its share on dates after the expiry): the expiry then waits for it."""
    answer = _ports.keeps_collecting
    return bool(answer and answer(payment_request))
