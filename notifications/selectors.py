"""Reads of message templates, always scoped to one merchant (ARCHITECTURE.md guarantee 5).

Another merchant's template is simply not found: callers turn that into a 404.
"""

from django.db.models import Count, Prefetch, Q, QuerySet

from merchants.models import Merchant

from .models import DeliveryAttempt, Dispatch, MessageTemplate, WebhookEndpoint


def template_list(
    *, merchant: Merchant, channel: str | None = None, archived: bool | None = None
) -> QuerySet[MessageTemplate]:
    """``None`` means no filter: archived and active templates of both channels."""
    queryset = MessageTemplate.objects.filter(merchant=merchant)
    if channel is not None:
        queryset = queryset.filter(channel=channel)
    if archived is not None:
        queryset = queryset.filter(is_archived=archived)
    return queryset.select_related("merchant")


def template_get(*, merchant: Merchant, public_id: str) -> MessageTemplate | None:
    return template_list(merchant=merchant).filter(public_id=public_id).first()


def template_for_stage(*, merchant: Merchant, stage: str, channel: str) -> MessageTemplate | None:
    """The merchant's active copy of a shipped default, for scenarios that name a stage."""
    return (
        template_list(merchant=merchant, channel=channel, archived=False)
        .filter(default_stage=stage)
        .first()
    )


# --- Webhook endpoints and deliveries (bound to one mode: the other mode's are not found) ---


def webhook_endpoint_list(*, merchant: Merchant, livemode: bool) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(merchant=merchant, livemode=livemode)


def webhook_endpoint_get(
    *, merchant: Merchant, livemode: bool, public_id: str
) -> WebhookEndpoint | None:
    return (
        webhook_endpoint_list(merchant=merchant, livemode=livemode)
        .filter(public_id=public_id)
        .first()
    )


def webhook_delivery_list(
    *,
    merchant: Merchant,
    livemode: bool,
    endpoint: WebhookEndpoint | None = None,
    statuses: list[str] | None = None,
    event_types: list[str] | None = None,
) -> QuerySet[Dispatch]:
    """Deliveries to subscribed endpoints (kind webhook), newest first by the caller's
    pagination. ``statuses`` are the outbox's own states."""
    queryset = Dispatch.objects.filter(
        merchant=merchant, livemode=livemode, kind="webhook", webhook_endpoint__isnull=False
    )
    if endpoint is not None:
        queryset = queryset.filter(webhook_endpoint=endpoint)
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    if event_types:
        queryset = queryset.filter(event_type__in=event_types)
    return queryset.select_related("webhook_endpoint", "resend_of")


def webhook_delivery_get(*, merchant: Merchant, livemode: bool, public_id: str) -> Dispatch | None:
    return (
        webhook_delivery_list(merchant=merchant, livemode=livemode)
        .filter(public_id=public_id)
        .prefetch_related(
            Prefetch("delivery_attempts", queryset=DeliveryAttempt.objects.order_by("id"))
        )
        .first()
    )


# Provider reports that mean the message never reached the person (email and SMS).
UNDELIVERED = ("bounced", "failed", "rejected", "undelivered")
DASHBOARD_LISTED = 10


def dispatch_dashboard(*, merchant: Merchant, livemode: bool, start, end, now) -> dict:
    """Messages for the dashboard: reminders planned from ``now`` on, and deliveries that
    failed in ``[start, end)`` (our own final failure, or a provider's later bounce).

    Counts are one query each; the lists are the next ten and the latest ten.
    """
    mine = Dispatch.objects.filter(merchant=merchant, livemode=livemode)
    upcoming = mine.filter(status=Dispatch.Status.PLANNED, due_at__gte=now)
    failed = mine.filter(updated_at__gte=start, updated_at__lt=end).filter(
        Q(status=Dispatch.Status.FAILED) | Q(delivery_status__in=UNDELIVERED)
    )
    failed_by_channel = {
        row["channel"]: row["count"]
        for row in failed.order_by().values("channel").annotate(count=Count("id"))
    }
    listed = ("public_id", "channel", "recipient", "due_at", "status", "last_error")
    listed += ("delivery_status", "updated_at", "request__public_id", "request__reference")
    return {
        "upcoming_count": upcoming.count(),
        "upcoming": list(
            upcoming.order_by("due_at", "id")
            .select_related("request")
            .only(*listed)[:DASHBOARD_LISTED]
        ),
        "failed_count": sum(failed_by_channel.values()),
        "failed_by_channel": failed_by_channel,
        "failed": list(
            failed.order_by("-updated_at", "-id")
            .select_related("request")
            .only(*listed)[:DASHBOARD_LISTED]
        ),
    }
