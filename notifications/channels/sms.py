"""SMS through Twilio's SDK (SMS_BACKEND=twilio), or into the local outbox (the default)."""

from django.conf import settings
from django.urls import reverse

from notifications.outbox import outbox_store

from .base import OutgoingMessage, SendResult, Transport, TransportError

TIMEOUT_SECONDS = 15  # the SDK waits forever by default; a worker must not


class OutboxSmsTransport(Transport):
    channel = "sms"
    is_local = True

    def send(self, message: OutgoingMessage) -> SendResult:
        row = outbox_store(
            channel="sms",
            to=message.to,
            text=message.text,
            merchant_id=message.merchant_id,
            notification_id=message.message_id,
            livemode=message.livemode,
        )
        return SendResult(provider_message_id=row.public_id)


def twilio_client():
    """A Twilio client; TWILIO_API_BASE_URL points it elsewhere (a local stub in tests)."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    client = Client(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        http_client=TwilioHttpClient(timeout=TIMEOUT_SECONDS),
    )
    base_url = getattr(settings, "TWILIO_API_BASE_URL", "")
    if base_url:
        client.api.base_url = base_url.rstrip("/")
    return client


class TwilioTransport(Transport):
    channel = "sms"

    def send(self, message: OutgoingMessage) -> SendResult:
        from twilio.base.exceptions import TwilioRestException

        callback = settings.PUBLIC_BASE_URL + reverse("twilio-status")
        try:
            sent = twilio_client().messages.create(
                to=message.to,
                from_=settings.TWILIO_FROM_NUMBER,
                body=message.text,
                status_callback=callback if callback.startswith("https://") else None,
            )
        except TwilioRestException as exc:
            # 4xx: Twilio refused this message (invalid number, unsubscribed): never retry,
            # except rate limiting. 5xx: their side; retry.
            permanent = 400 <= exc.status < 500 and exc.status != 429
            raise TransportError(
                f"Twilio error {exc.code} (HTTP {exc.status}): {exc.msg}",
                permanent=permanent,
                status_code=exc.status,
            ) from exc
        except Exception as exc:  # network trouble: retry later
            raise TransportError(f"Twilio unreachable: {exc.__class__.__name__}: {exc}") from exc
        return SendResult(provider_message_id=sent.sid or "")
