"""Delivery reports from providers. They are not API calls: no API key, and nothing changes
before the provider's signature is verified (ARCHITECTURE.md guarantee 7)."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from scenarios.services import dispatch_record_delivery_status

_TWILIO_STATUS = {
    "queued": "queued",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
}


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    from twilio.request_validator import RequestValidator

    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return HttpResponse("missing signature", status=400, content_type="text/plain")
    token = getattr(settings, "TWILIO_AUTH_TOKEN", "")
    # Twilio signs the URL it called: the public one, not what a proxy forwarded to us.
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    params = {key: request.POST.get(key) for key in request.POST}
    try:
        valid = bool(token) and RequestValidator(token).validate(url, params, signature)
    except Exception:  # a malformed header is a refusal, never a 500
        valid = False
    if not valid:
        return HttpResponse("invalid signature", status=403, content_type="text/plain")
    status = _TWILIO_STATUS.get(params.get("MessageStatus") or "")
    sid = params.get("MessageSid") or ""
    if status is None or not sid:
        return HttpResponse("missing MessageSid or MessageStatus", status=400)
    dispatch_record_delivery_status(channel="sms", provider_message_id=sid, status=status)
    return HttpResponse(status=204)
