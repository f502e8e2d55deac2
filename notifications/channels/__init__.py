"""Transports: one class per channel behind ``Transport``, each raising ``TransportError``."""

from django.conf import settings

from .base import OutgoingMessage, SendResult, Transport, TransportError

__all__ = [
    "OutgoingMessage",
    "SendResult",
    "Transport",
    "TransportError",
    "test_mode_uses_outbox",
    "transport_for",
]


def test_mode_uses_outbox() -> bool:
    """Test-mode email and SMS stay in the local outbox unless the operator has explicitly
    asked for real channels in test mode (TEST_MODE_REAL_CHANNELS): a test request must not
    text a stranger's phone because someone typed a real number into a sandbox."""
    return not getattr(settings, "TEST_MODE_REAL_CHANNELS", False)


def transport_for(channel: str, *, livemode: bool = True) -> Transport:
    """The transport configured for a channel; chosen per send so settings apply at once."""
    local = not livemode and test_mode_uses_outbox()
    if channel == "email":
        from .email import OUTBOX_BACKEND, EmailTransport

        return EmailTransport(backend=OUTBOX_BACKEND if local else None)
    if channel == "sms":
        if not local and getattr(settings, "SMS_BACKEND", "outbox") == "twilio":
            from .sms import TwilioTransport

            return TwilioTransport()
        from .sms import OutboxSmsTransport

        return OutboxSmsTransport()
    if channel == "webhook":
        from .webhook import WebhookTransport

        return WebhookTransport()
    raise ValueError(f"Unknown channel {channel!r}")
