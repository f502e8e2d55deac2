"""django-q2 entry points for requests: thin wrappers over services."""

from django.utils import timezone

from . import events, selectors, services
from .models import PaymentRequest
from .ports import keeps_collecting


def close_expired_requests() -> int:
    """Close every request whose expiry has passed; runs every minute, safe to overlap.

    Holds are released by the reactions to ``request_expired``, after each close commits.
    """
    closed = 0
    for pk in selectors.payment_requests_past_expiry(now=timezone.now()):
        payment_request = PaymentRequest.objects.get(pk=pk)
        if not payment_request.is_collecting:
            continue  # another run closed it meanwhile
        if keeps_collecting(payment_request=payment_request):
            continue  # an installment plan still charges its share; a later run closes it
        services.payment_request_expire(payment_request=payment_request)
        closed += 1
    return closed


def event_react(event_pk: int) -> list[str]:
    return events.event_react(event_pk=event_pk)


def redrive_event_reactions() -> int:
    return events.events_redrive()


def purge_old_events() -> int:
    return events.events_purge()
