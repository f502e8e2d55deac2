"""Email through Django's email API, so any django-anymail ESP backend (or SMTP, or the local
outbox backend) works unchanged; the backend is settings.EMAIL_BACKEND."""

import smtplib
from email.utils import formataddr, parseaddr

from anymail.exceptions import AnymailAPIError, AnymailInvalidAddress, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from .base import OutgoingMessage, SendResult, Transport, TransportError

# Statuses at which asking again cannot help (bad request, unauthorised, rejected address).
_PERMANENT_HTTP = {400, 401, 403, 404, 413, 422}


def _classify(exc: Exception) -> TransportError:
    if isinstance(exc, AnymailRecipientsRefused | AnymailInvalidAddress):
        return TransportError(f"recipient refused: {exc}", permanent=True)
    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None)
        return TransportError(
            f"email provider error: {exc}",
            permanent=status in _PERMANENT_HTTP,
            status_code=status,
            retry_after=retry_after_seconds(getattr(exc, "response", None)),
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return TransportError(f"recipient refused: {exc}", permanent=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        return TransportError(f"SMTP error: {exc}", permanent=500 <= exc.smtp_code < 600)
    return TransportError(f"email not sent: {exc.__class__.__name__}: {exc}")


def retry_after_seconds(response) -> float | None:
    """The Retry-After of an HTTP answer, in seconds, when it gives a number of them."""
    headers = getattr(response, "headers", None) or {}
    try:
        value = float(headers.get("Retry-After", ""))
    except (TypeError, ValueError):  # absent, or an HTTP date: the configured backoff applies
        return None
    return value if 0 <= value <= 86_400 else None


OUTBOX_BACKEND = "notifications.outbox_backend.OutboxEmailBackend"


def _from_address(sender_name: str) -> str:
    """The platform's address under the merchant's name; the name's own display name is
    replaced, so a merchant cannot borrow another sender's address."""
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    if not sender_name.strip():
        return settings.DEFAULT_FROM_EMAIL
    return formataddr((sender_name.strip(), address))


class EmailTransport(Transport):
    """``backend`` overrides EMAIL_BACKEND (test mode sends to the local outbox)."""

    channel = "email"

    def __init__(self, *, backend: str | None = None):
        self.backend = backend

    @property
    def is_local(self) -> bool:
        return (self.backend or settings.EMAIL_BACKEND) == OUTBOX_BACKEND

    def send(self, message: OutgoingMessage) -> SendResult:
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=_from_address(message.sender_name),
            to=[message.to],
            reply_to=[message.reply_to] if message.reply_to else None,
            headers={"X-PushPay-Notification": message.message_id},
            connection=get_connection(self.backend, fail_silently=False),
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        # Read by anymail ESPs (comes back on tracking events) and by the outbox backend.
        email.metadata = {"notification_id": message.message_id}
        email.pushpay_merchant_id = message.merchant_id
        email.pushpay_notification_id = message.message_id
        email.pushpay_livemode = message.livemode
        try:
            sent = email.send()
        except Exception as exc:
            raise _classify(exc) from exc
        if not sent:
            raise TransportError("the email backend accepted no message")
        status = getattr(email, "anymail_status", None)
        provider_id = ""
        if status is not None and status.message_id:
            provider_id = str(status.message_id)
        return SendResult(provider_message_id=provider_id)
