"""Transports: one class per channel behind ``Transport``, each raising ``TransportError``."""

from django.conf import settings

from .base import OutgoingMessage, SendResult, Transport, TransportError

__all__ = ["OutgoingMessage", "SendResult", "Transport", "TransportError", "transport_for"]


def transport_for(channel: str) -> Transport:
    """The transport configured for a channel; chosen per send so settings apply at once."""
    if channel == "email":
        from .email import EmailTransport

        return EmailTransport()
    if channel == "sms":
        if getattr(settings, "SMS_BACKEND", "outbox") == "twilio":
            from .sms import TwilioTransport

            return TwilioTransport()
        from .sms import OutboxSmsTransport

        return OutboxSmsTransport()
    if channel == "webhook":
        from .webhook import WebhookTransport

        return WebhookTransport()
    raise ValueError(f"Unknown channel {channel!r}")
