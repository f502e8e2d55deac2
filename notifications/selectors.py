"""Reads of message templates, always scoped to one merchant (ARCHITECTURE.md guarantee 5).

Another merchant's template is simply not found: callers turn that into a 404.
"""

from django.db.models import Count, Q, QuerySet

from merchants.models import Merchant

from .models import Dispatch, MessageTemplate


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
