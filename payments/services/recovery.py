"""Recovery: finishing or unwinding checkouts a crash left pending (guarantee 2)."""

from datetime import timedelta

from django.utils import timezone

from pushpay.errors import DomainError

from ..adapters.base import ProviderError
from ..models import Checkout, Leg, LegOperation
from .legs import leg_call
from .saga import _adapter_of, _advance, _fail, _retrieve

# A checkout still pending after this long lost its process (crash, killed worker): nothing
# else is working on it, so recovery may finish or unwind it.
STALE_AFTER = timedelta(minutes=10)


def checkouts_recover_stale(*, now=None) -> int:
    """Finish or unwind checkouts left pending by a crash (ARCHITECTURE.md guarantee 2).

    The leg's saved state says how far it got: without a provider reference the provider
    never answered us, so the authorisation is replayed with the same idempotency key (it
    cannot create a second hold); with one, the provider is asked where it stands. Either
    answer then goes through the same steps as a live payment, so a capture that happened
    before the crash is booked once and a hold is captured or released.
    """
    cutoff = (now or timezone.now()) - STALE_AFTER
    stale = list(
        Checkout.objects.filter(status=Checkout.Status.PENDING, updated_at__lt=cutoff)
        .select_related("merchant", "request")
        .prefetch_related("legs")[:200]
    )
    recovered = 0
    for checkout in stale:
        # Legs are finished one after the other; a leg already final is left as it is.
        for leg in checkout.legs.all():
            if leg.status not in (Leg.Status.CREATED, *Leg.HOLDING):
                continue
            adapter = _adapter_of(checkout, leg)
            if adapter is None:
                continue
            try:
                if leg.provider_reference:
                    result = _retrieve(adapter, leg)
                else:
                    result = leg_call(
                        leg,
                        LegOperation.Operation.AUTHORISE,
                        lambda leg=leg, adapter=adapter: adapter.authorise(
                            amount=leg.amount,
                            currency=leg.currency,
                            source=leg.source,
                            idempotency_key=leg.idempotency_key("authorise"),
                        ),
                    )
            except ProviderError:
                continue  # still no answer; the next run asks again
            except DomainError as exc:
                _fail(checkout, leg, "not_accepted", exc.message)
                recovered += 1
                break
            _advance(checkout, leg, adapter, result)
            recovered += 1
            break
    return recovered
