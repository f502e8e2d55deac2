"""Merchant-scoped reads of the audit trail."""

from django.db.models import Q, QuerySet

from merchants.models import Merchant

from .models import AuditEntry


def audit_entry_list(*, merchant: Merchant, livemode: bool) -> QuerySet[AuditEntry]:
    """The merchant's trail in one mode: that mode's objects and the mode-less configuration.
    No join: everything shown is on the row (who, what, the diff), so a page is one query."""
    return AuditEntry.objects.filter(
        Q(livemode__isnull=True) | Q(livemode=livemode), merchant=merchant
    ).order_by("-created_at", "-id")


def audit_entries_for(
    *, merchant: Merchant, livemode: bool, kind: str, object_id: str, limit: int
) -> list[AuditEntry]:
    """The latest changes shown on an object's own page; every object of the kind when
    ``object_id`` is empty (the API keys page lists the changes of all keys)."""
    entries = audit_entry_list(merchant=merchant, livemode=livemode).filter(object_kind=kind)
    if object_id:
        entries = entries.filter(object_id=object_id)
    return list(entries[:limit])
