"""The endpoints payment providers deliver their events to (thin: the work is in
``payments.services.provider_events``)."""

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from pushpay.api.errors import error_body
from pushpay.errors import DomainError

from .services.provider_events import paypal_event_receive, stripe_event_receive

logger = logging.getLogger(__name__)

# Stripe and PayPal send events of a few kilobytes; anything far larger is not one.
MAX_BODY = 512 * 1024


def _too_large(request: HttpRequest) -> JsonResponse | None:
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        length = MAX_BODY + 1
    if length > MAX_BODY:
        return JsonResponse(
            error_body(413, "payload_too_large", "The event is too large.", None), status=413
        )
    return None


@csrf_exempt  # a provider's server, not a browser: the signature authenticates it
@require_POST
def stripe_webhook(request: HttpRequest, webhook_id: str) -> JsonResponse:
    """One Stripe event for the account whose endpoint id is in the URL. 2xx when handled
    (or known already, or of a type we do not use), 400 for a bad signature, 409 when it
    must be delivered again later; never a 500 for anything the sender controls."""
    too_large = _too_large(request)
    if too_large is not None:
        return too_large
    try:
        outcome = stripe_event_receive(
            webhook_id=webhook_id,
            payload=request.body,
            signature=request.headers.get("Stripe-Signature"),
        )
    except DomainError as exc:
        return JsonResponse(
            error_body(exc.http_status, exc.code, exc.message, exc.field), status=exc.http_status
        )
    logger.info("Stripe event for %s: %s", webhook_id, outcome)
    return JsonResponse({"received": True, "outcome": outcome})


@csrf_exempt  # PayPal's server, not a browser: PayPal's own verification authenticates it
@require_POST
def paypal_webhook(request: HttpRequest, webhook_id: str) -> JsonResponse:
    """One PayPal event for the app whose endpoint id is in the URL: 2xx when handled (or
    known already, or of a type we do not use), 400 when PayPal does not verify it or headers
    are missing, 409 when it must be delivered again later; never a 500 for anything the
    sender controls."""
    too_large = _too_large(request)
    if too_large is not None:
        return too_large
    try:
        outcome = paypal_event_receive(
            webhook_id=webhook_id, payload=request.body, headers=request.headers
        )
    except DomainError as exc:
        return JsonResponse(
            error_body(exc.http_status, exc.code, exc.message, exc.field), status=exc.http_status
        )
    logger.info("PayPal event for %s: %s", webhook_id, outcome)
    return JsonResponse({"received": True, "outcome": outcome})
