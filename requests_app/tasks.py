"""django-q2 entry points for requests: thin wrappers over services."""

from django.utils import timezone

from payments import services as payment_services

from . import selectors
from .models import PaymentRequest


def close_expired_requests() -> int:
    """Close every request whose expiry has passed; runs every minute, safe to overlap."""
    closed = 0
    for pk in selectors.payment_requests_past_expiry(now=timezone.now()):
        payment_request = PaymentRequest.objects.get(pk=pk)
        if not payment_request.is_collecting:
            continue  # another run closed it meanwhile
        payment_services.payment_request_close_at_expiry(payment_request=payment_request)
        closed += 1
    return closed
