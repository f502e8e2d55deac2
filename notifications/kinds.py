"""The kinds of outbox rows, and what their producers tell the dispatcher about them.

notifications sends messages for apps it knows nothing about (scenarios, payments' receipts,
integrator webhooks …). Each producing app registers its kind once, from its
``AppConfig.ready()``: how to re-check a row just before it is sent (already paid? paused?
cancelled?) and how to build the message from fresh data. The dispatcher only ever talks to
this interface, so a new kind of message needs no change here.
"""

from collections.abc import Callable
from dataclasses import dataclass

from .channels import OutgoingMessage, TransportError
from .models import Dispatch


@dataclass(frozen=True)
class OutboxKind:
    """``prepare`` reads what the send depends on afresh (the row's request and participant
    as they are now, not as the batch found them) and returns the skip reason, or "" to
    send; ``build`` then renders the message. ``batch_related`` names what the dispatcher
    loads once per batch for rows of this kind (configuration that does not change
    between two sends). ``after_attempt``, when given, hears of every transport outcome
    (``error`` None: accepted) once it is recorded, e.g. to disable a webhook endpoint that
    answered 410 Gone. ``prepare_many``, when given, reads afresh in one go what
    ``prepare`` would read row by row, for rows about to be sent together; ``prepare`` then
    uses it (and reads for itself a row it finds without)."""

    name: str
    prepare: Callable[[Dispatch], str]
    build: Callable[[Dispatch], OutgoingMessage]
    batch_related: tuple[str, ...] = ()
    after_attempt: Callable[[Dispatch, "TransportError | None"], None] | None = None
    prepare_many: Callable[[list[Dispatch]], None] | None = None


_kinds: dict[str, OutboxKind] = {}


def outbox_kind_register(kind: OutboxKind) -> None:
    if kind.name in _kinds and _kinds[kind.name] != kind:
        raise ValueError(f"Outbox kind {kind.name!r} is already registered.")
    _kinds[kind.name] = kind


def outbox_kind_get(name: str) -> OutboxKind:
    try:
        return _kinds[name]
    except KeyError:
        raise LookupError(f"No app registered the outbox kind {name!r}.") from None


def outbox_kinds() -> list[OutboxKind]:
    return list(_kinds.values())
