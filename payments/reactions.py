"""How payments reacts to request events, and the rules it answers for requests_app.

Releasing holds calls the provider, so it runs after the closing transaction has committed;
``requests_app.events`` strikes it off only once every hold is released and its sweep runs
it again otherwise, so a crash or a provider outage between the commit and the void never
leaves a payer's money held.
"""

from datetime import timedelta

from merchants.models import Merchant
from requests_app.events import ReactionIncomplete, reaction_register
from requests_app.models import RequestEvent
from requests_app.ports import payment_method_rules_register

from .registry import payment_method_available, payment_method_get
from .selectors import payment_methods_enabled

T = RequestEvent.Type
_RELEASE_REASONS = {T.REQUEST_CANCELLED: "request_cancelled", T.REQUEST_EXPIRED: "request_expired"}


def _release_removed_participants_holds(event: RequestEvent) -> None:
    """A participant removed while their share was held: void that hold, so it is neither
    captured at completion nor left on the payer's card until it lapses."""
    from .services import checkouts_release, checkouts_waiting

    removed = event.payload.get("removed")
    if not removed:
        return
    checkouts_release(
        payment_request=event.request, reason="participant_removed", participant_public_id=removed
    )
    if checkouts_waiting(
        payment_request_id=event.request_id, participant_public_id=removed
    ).exists():
        raise ReactionIncomplete("A provider did not release the removed participant's hold yet.")


def _release_holds(event: RequestEvent) -> None:
    from .services import checkouts_release, checkouts_waiting

    checkouts_release(payment_request=event.request, reason=_RELEASE_REASONS[event.type])
    if checkouts_waiting(payment_request_id=event.request_id).exists():
        raise ReactionIncomplete("A provider did not release every hold yet.")


class _Rules:
    """The payment-method answers requests_app needs to validate a request."""

    def enabled(self, *, merchant: Merchant) -> list[str]:
        return payment_methods_enabled(merchant=merchant)

    def available(self, *, merchant: Merchant, method: str, livemode: bool) -> bool:
        return payment_method_available(merchant=merchant, method=method, livemode=livemode)

    def hold_window(self, *, method: str, livemode: bool) -> timedelta | None:
        adapter_class = payment_method_get(method).adapter_class_for(livemode=livemode)
        return adapter_class.hold_window if adapter_class is not None else None


def register() -> None:
    payment_method_rules_register(_Rules())
    reaction_register(
        name="payments.release_removed_participants_holds",
        handler=_release_removed_participants_holds,
        types=(T.REQUEST_UPDATED,),
        after_commit=True,
    )
    reaction_register(
        name="payments.release_holds",
        handler=_release_holds,
        types=tuple(_RELEASE_REASONS),
        after_commit=True,
    )
