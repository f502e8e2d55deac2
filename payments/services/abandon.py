"""The payer stops a checkout half-way (a "Cancel this payment" button on their page).

Only a checkout still waiting for the payer at a provider's page can be stopped: every leg
already held is released and the challenge still open is cancelled, so nothing is taken.
A checkout that went further (held until the collection completes, or paid) is the payer's
success and stays as it is.
"""

from ..models import Checkout
from .saga import _release

PAYER_CANCELLED = "payer_cancelled"


def checkout_abandon(*, checkout: Checkout) -> Checkout:
    """Release every hold of ``checkout`` if it still waits for the payer; returns the
    checkout as it stands afterwards (cancelled, or unchanged when it had moved on, or when
    a provider did not answer: the abandoned-checkout job then releases it)."""
    if checkout.status == Checkout.Status.REQUIRES_ACTION:
        fresh = Checkout.objects.select_related("merchant").prefetch_related("legs")
        _release([fresh.get(pk=checkout.pk)], PAYER_CANCELLED)
    return Checkout.objects.prefetch_related("legs").get(pk=checkout.pk)
