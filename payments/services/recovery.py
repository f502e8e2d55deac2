"""Recovery: finishing or unwinding checkouts a crash left pending (guarantee 2)."""

from datetime import timedelta

from django.utils import timezone

from pushpay.errors import DomainError

from ..adapters.base import PaymentStatus, ProviderError
from ..models import Checkout, Leg
from .legs import leg_transition
from .saga import _abandon_leg, _adapter_of, _apply, _fail, _proceed, _retrieve

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
        if _recover(checkout):
            recovered += 1
    return recovered


def _recover(checkout: Checkout) -> bool:
    """Bring every leg up to date with the provider, then let the saga go on without the
    payer: unwind when a leg turned out refused, released or still waiting for the payer
    (who left long ago), otherwise authorise what is left and capture. Legs never asked (or
    asked without an answer) are asked again by the saga with their idempotency key."""
    for leg in checkout.legs.all():
        if leg.status not in Leg.HOLDING or not leg.provider_reference:
            continue
        adapter = _adapter_of(checkout, leg)
        if adapter is None:
            return False
        try:
            result = _retrieve(adapter, leg)
        except ProviderError:
            return False  # still no answer; the next run asks again
        except DomainError as exc:
            _fail(checkout, leg, "not_accepted", exc.message)
            return True
        if result.status == PaymentStatus.FAILED:
            _fail(checkout, leg, result.failure_reason or "provider_error", result.message)
            return True
        if result.status == PaymentStatus.CANCELLED:
            leg_transition(leg, Leg.Status.VOIDED)
            _fail(checkout, leg, "provider_error", "The provider released the hold.")
            return True
        if result.status == PaymentStatus.REQUIRES_ACTION:
            _apply(leg, result)
            _abandon_leg(checkout, leg, adapter)
            return True
        _apply(leg, result)
    ended = checkout.legs.filter(status__in=[Leg.Status.FAILED, Leg.Status.VOIDED]).first()
    if ended is not None:
        # A leg already unwound (a crash during the unwinding): finish unwinding the rest.
        _fail(checkout, ended, ended.failure_reason or "provider_error")
        return True
    try:
        _proceed(checkout, payer_present=False)
    except ProviderError:
        return False
    except DomainError as exc:
        leg = checkout.legs.filter(status__in=[Leg.Status.CREATED, Leg.Status.UNKNOWN]).first()
        if leg is None:
            raise
        _fail(checkout, leg, "not_accepted", exc.message)
    return True
