"""Delivery reports from providers. They are not API calls: no API key, and nothing changes
before the provider's signature is verified (ARCHITECTURE.md guarantee 7). They live under
/api/ all the same, so their refusals use the API's one error shape."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from notifications.services import dispatch_record_delivery_status
from pushpay.api.errors import error_body

_TWILIO_STATUS = {
    "queued": "queued",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
}


def _refuse(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(status, code, message), status=status)


@csrf_exempt
def twilio_status(request: HttpRequest) -> HttpResponse:
    from twilio.request_validator import RequestValidator

    if request.method != "POST":
        response = _refuse(405, "method_not_allowed", "Twilio posts its status callbacks.")
        response["Allow"] = "POST"
        return response
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return _refuse(400, "signature_missing", "The X-Twilio-Signature header is missing.")
    token = getattr(settings, "TWILIO_AUTH_TOKEN", "")
    # Twilio signs the URL it called: the public one, not what a proxy forwarded to us.
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    params = {key: request.POST.get(key) for key in request.POST}
    try:
        valid = bool(token) and RequestValidator(token).validate(url, params, signature)
    except Exception:  # a malformed header is a refusal, never a 500
        valid = False
    if not valid:
        return _refuse(403, "invalid_signature", "The Twilio signature does not match.")
    status = _TWILIO_STATUS.get(params.get("MessageStatus") or "")
    sid = params.get("MessageSid") or ""
    if status is None or not sid:
        return _refuse(400, "invalid_callback", "MessageSid or MessageStatus is missing.")
    dispatch_record_delivery_status(channel="sms", provider_message_id=sid, status=status)
    return HttpResponse(status=204)
