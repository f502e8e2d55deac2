"""The outbox kinds of subscribed webhooks: ``webhook`` (one event to one endpoint) and
``webhook_endpoint_disabled`` (the merchant's email when an endpoint is switched off).

``_prepare`` re-reads the endpoint and the event just before each attempt: a disabled
endpoint gets nothing more, a changed URL or a rotated secret applies at once. The body is
Standard Webhooks' ``{"type", "timestamp", "data"}``, ``data`` being the event exactly as
``GET /api/v1/events/{id}`` shows it (id, version, livemode and the versioned payload).
"""

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from requests_app.events import CATALOGUE
from requests_app.models import RequestEvent

from .channels import OutgoingMessage, TransportError
from .kinds import OutboxKind, outbox_kind_register
from .models import Dispatch, WebhookEndpoint
from .webhooks import DISABLED_KIND, KIND, webhook_endpoint_record_attempt


def event_data(event: RequestEvent) -> dict:
    """An event as integrators see it, in the events API and in webhook bodies alike."""
    entry = CATALOGUE[event.type]
    return {
        "id": event.public_id,
        "type": entry.integrator_name,
        "version": entry.version,
        "livemode": event.livemode,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "request": event.request.public_id,
        "participant": event.participant.public_id if event.participant_id else None,
        "data": {key: event.payload.get(key) for key in entry.payload},
    }


def webhook_id(dispatch: Dispatch) -> str:
    """The same for every retry and every replay of one event to one endpoint."""
    if dispatch.resend_of_id is None:
        return dispatch.public_id
    return Dispatch.objects.values_list("public_id", flat=True).get(pk=dispatch.resend_of_id)


def _prepare(dispatch: Dispatch) -> str:
    endpoint = WebhookEndpoint.objects.filter(pk=dispatch.webhook_endpoint_id).first()
    if endpoint is None or not endpoint.is_active:
        return "endpoint_disabled"
    if endpoint.livemode != dispatch.livemode:
        return "endpoint_other_mode"  # never: both come from the event; kept as a guard
    event = (
        RequestEvent.objects.select_related("request", "participant")
        .filter(pk=dispatch.event_id, merchant_id=dispatch.merchant_id)
        .first()
    )
    if event is None:
        return "event_expired"
    dispatch.fresh_endpoint = endpoint
    dispatch.event = event
    return ""


def _build(dispatch: Dispatch) -> OutgoingMessage:
    endpoint: WebhookEndpoint = dispatch.fresh_endpoint
    event: RequestEvent = dispatch.event
    now = timezone.now()
    signing = endpoint.signing_secrets(now)
    return OutgoingMessage(
        message_id=webhook_id(dispatch),
        merchant_id=dispatch.merchant_id,
        to=endpoint.url,
        payload={
            "type": CATALOGUE[event.type].integrator_name,
            "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
            "data": event_data(event),
        },
        secret=signing[0],
        extra_secrets=tuple(signing[1:]),
        livemode=dispatch.livemode,
    )


def _after_attempt(dispatch: Dispatch, error: TransportError | None) -> None:
    webhook_endpoint_record_attempt(endpoint_id=dispatch.webhook_endpoint_id, error=error)


def _prepare_disabled(dispatch: Dispatch) -> str:
    endpoint = WebhookEndpoint.objects.filter(
        merchant_id=dispatch.merchant_id, public_id=dispatch.source_id
    ).first()
    dispatch.fresh_endpoint = endpoint
    if endpoint is None:
        return "endpoint_deleted"
    if endpoint.is_active:
        return "endpoint_enabled_again"  # an operator already fixed it
    return ""


def _build_disabled(dispatch: Dispatch) -> OutgoingMessage:
    endpoint: WebhookEndpoint = dispatch.fresh_endpoint
    context = {
        "endpoint": endpoint,
        "gone": endpoint.disabled_reason == "gone",
        "days": settings.WEBHOOK_DISABLE_AFTER_DAYS,
        "page_url": settings.PUBLIC_BASE_URL
        + reverse("webhooks:endpoint_detail", args=[endpoint.public_id]),
    }
    with translation.override(dispatch.language):
        subject = render_to_string("emails/webhook_disabled_subject.txt", context).strip()
        text = render_to_string("emails/webhook_disabled_body.txt", context)
    return OutgoingMessage(
        message_id=dispatch.public_id,
        merchant_id=dispatch.merchant_id,
        to=dispatch.recipient,
        subject=subject,
        text=text,
        livemode=dispatch.livemode,
    )


def register() -> None:
    outbox_kind_register(
        OutboxKind(name=KIND, prepare=_prepare, build=_build, after_attempt=_after_attempt)
    )
    outbox_kind_register(
        OutboxKind(name=DISABLED_KIND, prepare=_prepare_disabled, build=_build_disabled)
    )
