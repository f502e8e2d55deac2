"""Reads of message templates, always scoped to one merchant (ARCHITECTURE.md guarantee 5).

Another merchant's template is simply not found: callers turn that into a 404.
"""

from django.db.models import QuerySet

from merchants.models import Merchant

from .models import MessageTemplate


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
