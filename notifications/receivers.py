"""Provider events arriving as signals; they only hand over to a service."""

from .services import dispatch_record_delivery_status

# anymail's normalised event types, as kept on the dispatch.
_ANYMAIL_STATUS = {
    "queued": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "deferred": "deferred",
    "bounced": "bounced",
    "rejected": "rejected",
    "failed": "failed",
    "complained": "complained",
    "unsubscribed": "unsubscribed",
    "opened": "opened",
    "clicked": "clicked",
}


def anymail_tracking(sender, event, esp_name: str, **kwargs) -> None:
    """anymail verified the ESP's webhook (basic auth or signature) before sending this."""
    status = _ANYMAIL_STATUS.get(event.event_type)
    if status is None or not event.message_id:
        return
    message_id = str(event.message_id)
    if "\x00" in message_id:  # PostgreSQL cannot even compare such text: it names no message
        return
    dispatch_record_delivery_status(channel="email", provider_message_id=message_id, status=status)
