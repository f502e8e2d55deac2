"""What every transport takes and gives back (healthchecks' ``hc/api/transports.py``)."""

from dataclasses import dataclass, field


class TransportError(Exception):
    """A send that did not go through. ``permanent`` errors are never retried (an invalid
    number, a refused address, a blocked webhook target); the others are, with backoff."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        status_code: int | None = None,
        response_excerpt: str = "",
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status_code = status_code  # the receiver's HTTP answer, when there was one
        self.response_excerpt = response_excerpt  # the start of its body, sanitised
        self.retry_after = retry_after  # seconds, from a 429's Retry-After header

    @property
    def rate_limited(self) -> bool:
        """The provider asked us to slow down (HTTP 429): a delay, never a failure."""
        return self.status_code == 429


@dataclass(frozen=True)
class OutgoingMessage:
    """A rendered message. ``message_id`` is the dispatch's public id (for a replayed
    webhook, the first delivery's): it travels with the message (webhook-id, email
    metadata) so receivers can drop a duplicate."""

    message_id: str
    merchant_id: int | None
    to: str
    subject: str = ""
    text: str = ""
    html: str = ""
    reply_to: str = ""
    # The display name of the From header (the merchant's sender name); the address stays
    # DEFAULT_FROM_EMAIL's.
    sender_name: str = ""
    payload: dict = field(default_factory=dict)  # webhook body
    secret: str = ""  # webhook signing secret
    # Secrets that sign too (the previous one during a rotation's overlap).
    extra_secrets: tuple[str, ...] = ()
    livemode: bool = False


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str = ""
    status_code: int | None = None
    response_excerpt: str = ""


class Transport:
    channel: str = ""
    # True when "sending" only writes to our own database (the local outbox): the
    # dispatcher then records the outcome in the same transaction.
    is_local: bool = False

    def send(self, message: OutgoingMessage) -> SendResult:
        raise NotImplementedError
