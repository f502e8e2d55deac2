"""Webhook endpoints and their deliveries: what integrators subscribe to, and the log of
what was sent to them.

An endpoint subscribes to integrator event names (``payment_request.paid`` …) or to ``*``.
Every matching event of its merchant and mode becomes one outbox row of kind ``webhook``
(dedupe key ``webhook:<event>:<endpoint>``) in the event's own transaction, through an
in-transaction reaction registered with ``requests_app.events``; the dispatcher sends it
like any other message, so several q clusters deliver it once per endpoint.

The ``webhook-id`` of a delivery is the public id of the first delivery of that event to
that endpoint: the same for every retry and for every replay, as the Standard Webhooks
specification asks ("the same when the same webhook is being resent"), so a receiver that
already processed it drops the copy.

An endpoint answering 410 Gone is disabled at once; one whose deliveries have failed without
a success for ``WEBHOOK_DISABLE_AFTER_DAYS`` is disabled too. Both times the merchant's
contact is emailed once, through the outbox (kind ``webhook_endpoint_disabled``).
"""

import secrets
from base64 import b64encode
from collections.abc import Iterable
from datetime import datetime, timedelta
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from merchants.models import Merchant
from pushpay.errors import InvalidInput, StateConflict
from pushpay.history import record_history
from requests_app.events import CATALOGUE, by_integrator_name
from requests_app.models import RequestEvent

from .channels import TransportError
from .channels.webhook import is_refused_address, split_target
from .models import Channel, Dispatch, WebhookEndpoint
from .services import outbox_enqueue, outbox_nudge_on_commit

KIND = "webhook"
DISABLED_KIND = "webhook_endpoint_disabled"
ALL_EVENTS = "*"
MAX_EVENT_NAMES = 100
# One "replay since" call re-sends at most this many deliveries; the rest wait for another.
REPLAY_MAX = 1000


class Disabled:
    """Why an endpoint stopped receiving (``WebhookEndpoint.disabled_reason``)."""

    OPERATOR = "operator"
    GONE = "gone"  # it answered 410 Gone
    FAILING = "failing"  # every delivery failed for WEBHOOK_DISABLE_AFTER_DAYS


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return "whsec_" + b64encode(secrets.token_bytes(32)).decode()


# --- Validation -----------------------------------------------------------------------------


def webhook_url_checked(url: Any) -> str:
    """The URL as stored, or a refusal naming ``url``.

    Only what is wrong whatever DNS says is refused here (a bad shape, http, credentials, an
    address literal or a name that is private by definition); what a name resolves to is
    checked at every send, because it can change after registration.
    """
    if not isinstance(url, str) or len(url) > 500:
        raise InvalidInput(
            "Enter a valid https:// URL of at most 500 characters.", code="invalid_url", field="url"
        )
    try:
        scheme, host, _port, _path = split_target(url)
    except TransportError:
        raise InvalidInput(
            "Enter a valid https:// URL (a host name, a port up to 65535, no spaces).",
            code="invalid_url",
            field="url",
        ) from None
    parts = urlsplit(url)
    allow_private = getattr(settings, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
    if scheme not in (("https", "http") if allow_private else ("https",)):
        raise InvalidInput("Webhook URLs use https://.", code="invalid_url", field="url")
    if parts.username or parts.password:
        raise InvalidInput("Webhook URLs carry no credentials.", code="invalid_url", field="url")
    try:
        literal = ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        literal = None
    if literal is not None and is_refused_address(literal):
        raise InvalidInput(
            "Webhooks go to public addresses only (not private, loopback or link-local).",
            code="private_target",
            field="url",
        )
    name = host.rstrip(".").lower()
    if not allow_private and (name == "localhost" or name.endswith((".localhost", ".local"))):
        raise InvalidInput(
            "Webhooks go to public addresses only (not this machine or the local network).",
            code="private_target",
            field="url",
        )
    return url


def webhook_events_checked(events: Any) -> list[str]:
    """Integrator event names, in the order given without repeats, or ``["*"]``."""
    if not isinstance(events, list | tuple) or not events:
        raise InvalidInput(
            'events lists the event types to receive, e.g. ["payment_request.paid"], '
            'or ["*"] for all.',
            code="required",
            field="events",
        )
    if len(events) > MAX_EVENT_NAMES:
        raise InvalidInput(
            f"At most {MAX_EVENT_NAMES} event types.", code="too_many", field="events"
        )
    known = by_integrator_name()
    cleaned: list[str] = []
    for index, name in enumerate(events):
        if not isinstance(name, str) or (name != ALL_EVENTS and name not in known):
            raise InvalidInput(
                f"Unknown event type {name!r}; see GET /api/v1/events for the names, or use *.",
                code="unknown_event_type",
                field=f"events[{index}]",
            )
        if name not in cleaned:
            cleaned.append(name)
    if ALL_EVENTS in cleaned and len(cleaned) > 1:
        raise InvalidInput(
            '"*" already means every event type; give it alone.',
            code="invalid_events",
            field="events",
        )
    return cleaned


def _description_checked(description: Any) -> str:
    if not isinstance(description, str) or len(description) > 200:
        raise InvalidInput(
            "A description is text of at most 200 characters.",
            code="invalid_description",
            field="description",
        )
    return description


def subscribes_to(endpoint: WebhookEndpoint, integrator_name: str) -> bool:
    events = endpoint.events or []
    return ALL_EVENTS in events or integrator_name in events


# --- Endpoints ------------------------------------------------------------------------------


def webhook_endpoint_create(
    *,
    merchant: Merchant,
    url: str,
    events: Iterable[str] | None = None,
    description: str = "",
    livemode: bool = False,
) -> WebhookEndpoint:
    """Register an endpoint with a fresh secret (shown once, by the caller).

    ``events`` None makes an endpoint that only scenario webhook steps use; a list (the API,
    the back office) needs at least one name, or ``*``.
    """
    url = webhook_url_checked(url)
    events = [] if events is None else webhook_events_checked(list(events))
    return WebhookEndpoint.objects.create(
        merchant=merchant,
        livemode=livemode,
        url=url,
        events=events,
        secret=new_secret(),
        description=_description_checked(description),
    )


_UNSET: Any = object()


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str = _UNSET,
    events: list[str] = _UNSET,
    description: str = _UNSET,
    enabled: bool = _UNSET,
) -> WebhookEndpoint:
    """Change what is given; every value is checked before any is written."""
    changes: dict[str, Any] = {}
    if url is not _UNSET:
        changes["url"] = webhook_url_checked(url)
    if events is not _UNSET:
        changes["events"] = webhook_events_checked(events)
    if description is not _UNSET:
        changes["description"] = _description_checked(description)
    if enabled is not _UNSET:
        if not isinstance(enabled, bool):
            raise InvalidInput("enabled is true or false.", code="invalid_type", field="enabled")
        if enabled and not endpoint.is_active:
            changes |= {"is_active": True, "disabled_reason": "", "disabled_at": None}
            changes["failing_since"] = None  # a fresh start: the 5 days count again
        elif not enabled and endpoint.is_active:
            changes |= {
                "is_active": False,
                "disabled_reason": Disabled.OPERATOR,
                "disabled_at": timezone.now(),
            }
    if changes:
        changes["updated_at"] = timezone.now()
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**changes)
        record_history(endpoint)
    return endpoint


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret at once; the current one keeps signing for WEBHOOK_SECRET_OVERLAP_HOURS
    (each message then carries both signatures), so the receiver can switch without losing
    a message. Rotating again within the overlap ends the older secret's overlap."""
    now = timezone.now()
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        overlap = timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
        WebhookEndpoint.objects.filter(pk=locked.pk).update(
            previous_secret=locked.secret if overlap else "",
            previous_secret_expires_at=now + overlap if overlap else None,
            secret=new_secret(),
            updated_at=now,
        )
        # The secrets are never copied: the entry says a rotation happened, nothing more.
        record_history(locked, reason="secret rotated", extra={"secret": ["•••", "••• (new)"]})
    endpoint.refresh_from_db()
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Deleting also deletes its delivery log; an endpoint a scenario step sends to stays."""
    try:
        endpoint.delete()
    except ProtectedError:
        raise StateConflict(
            "A scenario step sends to this endpoint; change the step first, or disable the "
            "endpoint instead.",
            code="endpoint_in_use",
        ) from None


def _disable(endpoint_id: int, reason: str, now: datetime) -> WebhookEndpoint | None:
    """Disable an active endpoint once and plan the merchant's email in the same
    transaction; None when it was already disabled (by an operator or a concurrent worker)."""
    with transaction.atomic():
        updated = WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).update(
            is_active=False, disabled_reason=reason, disabled_at=now, updated_at=now
        )
        if not updated:
            return None
        endpoint = WebhookEndpoint.objects.select_related("merchant").get(pk=endpoint_id)
        record_history(endpoint, reason=f"disabled: {reason}")
        merchant = endpoint.merchant
        if merchant.contact_email:
            outbox_enqueue(
                kind=DISABLED_KIND,
                merchant_id=merchant.pk,
                livemode=endpoint.livemode,
                channel=Channel.EMAIL,
                recipient=merchant.contact_email,
                language=merchant.default_language,
                source_id=endpoint.public_id,
                dedupe_key=f"webhook-disabled:{endpoint.public_id}:{int(now.timestamp())}",
            )
        return endpoint


def webhook_endpoint_record_attempt(
    *, endpoint_id: int, error: TransportError | None, now: datetime | None = None
) -> str:
    """Keep an endpoint's health after one attempt at it; return what changed.

    A success clears the failing streak. A 410 Gone disables at once. Any other failure
    starts the streak, or disables the endpoint once the streak is WEBHOOK_DISABLE_AFTER_DAYS
    old. Conditional UPDATEs, so two workers reporting at once agree.
    """
    now = now or timezone.now()
    if error is None:
        WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=False).update(
            failing_since=None
        )
        return "healthy"
    if error.status_code == 410:
        return "disabled" if _disable(endpoint_id, Disabled.GONE, now) else "unchanged"
    if WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(
        failing_since=now
    ):
        return "failing"
    cutoff = now - timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS)
    state = WebhookEndpoint.objects.filter(pk=endpoint_id).values("is_active", "failing_since")
    state = state.first()
    if state is None or not state["is_active"]:
        return "unchanged"
    if state["failing_since"] is not None and state["failing_since"] <= cutoff:
        return "disabled" if _disable(endpoint_id, Disabled.FAILING, now) else "unchanged"
    return "failing"


# --- Deliveries -----------------------------------------------------------------------------


def _dedupe_key(event_public_id: str, endpoint_public_id: str) -> str:
    return f"webhook:{event_public_id}:{endpoint_public_id}"


def _delivery(event: RequestEvent, endpoint: WebhookEndpoint, **extra: Any) -> Dispatch:
    now = timezone.now()
    return Dispatch(
        kind=KIND,
        merchant_id=event.merchant_id,
        livemode=event.livemode,
        channel=Channel.WEBHOOK,
        recipient=endpoint.url[:500],
        request_id=event.request_id,
        participant_id=event.participant_id,
        event_id=event.pk,
        source_id=event.public_id,
        event_type=CATALOGUE[event.type].integrator_name,
        webhook_endpoint=endpoint,
        due_at=now,
        next_attempt_at=now,
        **{"dedupe_key": _dedupe_key(event.public_id, endpoint.public_id), **extra},
    )


def webhook_deliveries_plan(event: RequestEvent) -> int:
    """The in-transaction reaction: one delivery per active endpoint of the event's merchant
    and mode that subscribes to its type. Returns how many were planned."""
    name = CATALOGUE[event.type].integrator_name
    if not name:
        return 0
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(
            merchant_id=event.merchant_id, livemode=event.livemode, is_active=True
        ).only("pk", "public_id", "url", "events")
        if subscribes_to(endpoint, name)
    ]
    if not endpoints:
        return 0
    rows = [_delivery(event, endpoint) for endpoint in endpoints]
    # The dedupe key makes a re-recorded event (it never is today) plan nothing twice.
    Dispatch.objects.bulk_create(rows, ignore_conflicts=True)
    outbox_nudge_on_commit(rows)
    return len(rows)


def _replay_row(original: Dispatch, event: RequestEvent, endpoint: WebhookEndpoint) -> Dispatch:
    root_id = original.resend_of_id or original.pk
    return _delivery(
        event,
        endpoint,
        resend_of_id=root_id,
        dedupe_key=f"{_dedupe_key(event.public_id, endpoint.public_id)}:replay:"
        f"{secrets.token_hex(8)}",
    )


def _pending_events(endpoint: WebhookEndpoint, event_ids: Iterable[int]) -> set[int]:
    """Events with a delivery to ``endpoint`` still on its way, or already delivered."""
    return set(
        Dispatch.objects.filter(
            webhook_endpoint=endpoint,
            event_id__in=list(event_ids),
            status__in=[*Dispatch.PENDING, Dispatch.Status.SENT],
        ).values_list("event_id", flat=True)
    )


def webhook_delivery_replay(*, delivery: Dispatch) -> Dispatch:
    """Send a delivery's event to its endpoint again, as a new delivery row with the same
    webhook-id. Refused while the endpoint is disabled, while a delivery of the same event
    to it is still on its way, and once the event is past its retention."""
    with transaction.atomic():
        # The endpoint's row lock keeps two replays at once from both passing the check.
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.webhook_endpoint_id)
        if not endpoint.is_active:
            raise StateConflict(
                "This endpoint is disabled; enable it before replaying its deliveries.",
                code="endpoint_disabled",
            )
        event = RequestEvent.objects.filter(pk=delivery.event_id).first()
        if event is None:
            raise StateConflict(
                "This delivery's event is past its retention; it cannot be sent again.",
                code="event_expired",
            )
        if Dispatch.objects.filter(
            webhook_endpoint=endpoint, event_id=event.pk, status__in=Dispatch.PENDING
        ).exists():
            raise StateConflict(
                "A delivery of this event to this endpoint is still on its way.",
                code="delivery_pending",
            )
        row = _replay_row(delivery, event, endpoint)
        row.save()
        outbox_nudge_on_commit([row])
    return row


def webhook_endpoint_replay_failed(*, endpoint: WebhookEndpoint, since: datetime) -> dict:
    """Replay every failed delivery to ``endpoint`` created since ``since``: one new delivery
    per event, none for an event already delivered or still on its way (so calling it twice
    replays nothing twice), at most REPLAY_MAX per call, oldest first."""
    if timezone.is_naive(since):
        raise InvalidInput(
            "since needs a time zone (e.g. 2026-01-31T00:00:00Z).",
            code="invalid_datetime",
            field="since",
        )
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if not endpoint.is_active:
            raise StateConflict(
                "This endpoint is disabled; enable it before replaying its deliveries.",
                code="endpoint_disabled",
            )
        failed = list(
            Dispatch.objects.filter(
                webhook_endpoint=endpoint,
                status=Dispatch.Status.FAILED,
                created_at__gte=since,
                event_id__isnull=False,
            )
            .order_by("created_at", "id")
            .only("pk", "event_id", "resend_of")[: REPLAY_MAX * 4]
        )
        busy = _pending_events(endpoint, {row.event_id for row in failed})
        events = RequestEvent.objects.in_bulk({row.event_id for row in failed} - busy)
        rows, seen = [], set()
        for original in failed:
            if original.event_id in busy or original.event_id in seen:
                continue
            seen.add(original.event_id)
            event = events.get(original.event_id)
            if event is None or len(rows) >= REPLAY_MAX:
                continue
            rows.append(_replay_row(original, event, endpoint))
        Dispatch.objects.bulk_create(rows)
        outbox_nudge_on_commit(rows)
    distinct = {row.event_id for row in failed}
    return {"replayed": len(rows), "skipped": len(distinct) - len(rows)}
