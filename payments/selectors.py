"""Merchant-scoped reads for payments."""

from dataclasses import dataclass

from merchants.models import Merchant
from pushpay.errors import InvalidInput

from .models import Checkout, Leg, MerchantPaymentMethod
from .registry import adapter_for, payment_method_available, payment_methods


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


def checkout_held(*, participant) -> Checkout | None:
    """The participant's hold waiting for their collection to complete (on_completion), if
    any: their page then says the payment is held instead of offering to pay again."""
    return (
        Checkout.objects.filter(participant=participant, status=Checkout.Status.AUTHORISED)
        .order_by("-created_at", "-id")
        .first()
    )


# Legs that never moved money; a later refund does not undo that a payment was made.
_TOOK_NOTHING = {
    Leg.Status.CREATED,
    Leg.Status.REQUIRES_ACTION,
    Leg.Status.FAILED,
    Leg.Status.VOIDED,
}


# Providers store brands as codes; a receipt names them as printed on the card.
_BRAND_NAMES = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express"}


def leg_description(leg: Leg) -> str:
    """How a receipt names one leg: the card as the payer knows it, else the method."""
    label = payment_method_label(leg.method)
    if leg.source_last4:
        brand = _BRAND_NAMES.get(leg.source_brand.lower(), label)
        return f"{brand} •••• {leg.source_last4}"
    return label


def payment_method_label(code: str) -> str:
    method = payment_methods_by_code().get(code)
    return method.label if method is not None else code


def payment_methods_by_code() -> dict:
    return {method.code: method for method in payment_methods()}


def legs_paid(*, checkout: Checkout) -> list[Leg]:
    """The legs that took a checkout's money, each a line of its receipt."""
    return [leg for leg in checkout.legs.all() if leg.status not in _TOOK_NOTHING]


def checkout_methods_paid(*, merchant_id: int, public_id: str) -> tuple[str, ...]:
    """How a paid checkout was paid, leg by leg ("Visa •••• 4242"), for receipts.

    Scoped by merchant: an event's payload names the checkout and is never trusted across
    tenants.
    """
    checkout = (
        Checkout.objects.filter(merchant_id=merchant_id, public_id=public_id)
        .prefetch_related("legs")
        .first()
    )
    if checkout is None:
        return ()
    return tuple(leg_description(leg) for leg in legs_paid(checkout=checkout))


@dataclass(frozen=True)
class PayerMethod:
    """What the payer page needs to offer one method: the template of the details it
    collects ("" when none: the payer gives them at the provider, or they come from the
    participant), and whether the payer holds a balance there."""

    code: str
    label: str
    fields_template: str
    has_balance: bool
    source_from_participant: bool
    authorises_in_place: bool


def payer_methods_for_request(*, payment_request) -> list[PayerMethod]:
    """The methods a payer of this request may use, balance methods first (the payer
    spends what they hold, then pays the rest), then those that answer at once, then
    those that send the payer away; registry order otherwise."""
    offered = []
    for code in payment_methods_for_request(payment_request=payment_request):
        method = payment_methods_by_code()[code]
        adapter_class = method.adapter_class_for(livemode=payment_request.livemode)
        offered.append(
            PayerMethod(
                code=code,
                label=method.label,
                fields_template=adapter_class.payer_fields_template,
                has_balance=adapter_class.has_balance,
                source_from_participant=adapter_class.source_from_participant,
                authorises_in_place=adapter_class.authorises_in_place,
            )
        )
    return sorted(offered, key=lambda m: (not m.has_balance, not m.authorises_in_place))


def payer_method_source(*, participant, method: PayerMethod) -> str:
    """The source of a method whose payer types nothing: the participant's own (a wallet),
    or the method's code when the payer gives their details at the provider (PayPal)."""
    if method.source_from_participant:
        adapter = adapter_for(
            merchant=participant.request.merchant,
            method=method.code,
            livemode=participant.request.livemode,
        )
        return adapter.participant_source(participant)
    return method.code


def payment_source_balance(*, payment_request, method: str, source: str) -> int:
    """What the payer can spend with ``source`` now, in minor units of the request's
    currency. Refuses a method that keeps no balance, or an unknown source, with
    ``InvalidInput``; a provider that does not answer raises ``ProviderError``."""
    if method not in payment_methods_for_request(payment_request=payment_request):
        raise InvalidInput(
            "This payment method is not available.",
            code="payment_method_not_allowed",
            field="method",
        )
    adapter = adapter_for(
        merchant=payment_request.merchant, method=method, livemode=payment_request.livemode
    )
    if not adapter.has_balance:
        raise InvalidInput(
            "This payment method keeps no balance.", code="no_balance", field="method"
        )
    return adapter.balance(source=source, currency=payment_request.currency)


def checkout_waiting(*, participant) -> Checkout | None:
    """The participant's checkout waiting for them at a provider's page (3-D Secure,
    PayPal), if any: their page offers to go on there or to cancel it."""
    return (
        Checkout.objects.filter(participant=participant, status=Checkout.Status.REQUIRES_ACTION)
        .prefetch_related("legs")
        .order_by("-created_at", "-id")
        .first()
    )
