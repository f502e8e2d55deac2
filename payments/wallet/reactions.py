"""Cashback as a reaction to the request's events, never a step of the checkout saga.

Both run after the payment's transaction has committed: a wallet problem can then never
undo a booked payment, and the events' sweep re-runs a reaction a crash interrupted. Both
are idempotent per checkout (the credit's key is the checkout's; a reversal is recomputed
from the legs under the wallet's lock).
"""

from requests_app.events import reaction_register
from requests_app.models import RequestEvent

from ..models import Checkout
from . import services

T = RequestEvent.Type


def _checkouts(event: RequestEvent, public_ids: list) -> list[Checkout]:
    ids = [value for value in public_ids if isinstance(value, str)]
    return list(
        Checkout.objects.select_related("participant__request", "merchant").filter(
            merchant_id=event.merchant_id, request_id=event.request_id, public_id__in=ids
        )
    )


def _credit_cashback(event: RequestEvent) -> None:
    for checkout in _checkouts(event, [event.payload.get("checkout")]):
        services.cashback_grant(checkout=checkout)


def _reverse_cashback(event: RequestEvent) -> None:
    for checkout in _checkouts(event, list(event.payload.get("checkouts") or [])):
        services.cashback_reverse(checkout=checkout)


def register() -> None:
    reaction_register(
        name="payments.wallet.credit_cashback",
        handler=_credit_cashback,
        types=(T.PAYMENT_SUCCEEDED,),
        after_commit=True,
    )
    reaction_register(
        name="payments.wallet.reverse_cashback",
        handler=_reverse_cashback,
        types=(T.PAYMENT_REFUNDED,),
        after_commit=True,
    )
