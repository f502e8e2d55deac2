"""Merchant-scoped reads for payments."""

from merchants.models import Merchant

from .models import Checkout, Leg, MerchantPaymentMethod
from .registry import payment_method_available, payment_methods


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


def checkouts_by_participant(
    *, merchant: Merchant, livemode: bool, participant_ids: list[str]
) -> dict[str, list[dict]]:
    """Every checkout of these participants with its legs, newest first, keyed by
    participant id: how the API shows each payer's attempts (two queries, however many)."""
    if not participant_ids:
        return {}
    rows = (
        Checkout.objects.filter(
            merchant=merchant, livemode=livemode, participant__public_id__in=participant_ids
        )
        .select_related("participant")
        .prefetch_related("legs")
        .order_by("-created_at", "-id")
    )
    found: dict[str, list[dict]] = {}
    for checkout in rows:
        found.setdefault(checkout.participant.public_id, []).append(
            {
                "id": checkout.public_id,
                "status": checkout.status,
                "amount": checkout.amount,
                "currency": checkout.currency,
                "failure_reason": checkout.failure_reason or None,
                "created_at": checkout.created_at,
                "legs": [
                    {
                        "id": leg.public_id,
                        "method": leg.method,
                        "amount": leg.amount,
                        "amount_refunded": leg.amount_refunded,
                        "status": leg.status,
                    }
                    for leg in checkout.legs.all()
                ],
            }
        )
    return found
