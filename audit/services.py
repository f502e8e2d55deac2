"""The audit trail owns its entries and the history snapshots behind them; the only change it
ever makes to them is the retention purge (entries are never edited)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from pushpay.history import AUDITED

from .models import AuditEntry

PURGE_BATCH = 1000


def _purge(queryset, date_field: str, cutoff: datetime) -> int:
    deleted = 0
    while True:
        pks = list(
            queryset.filter(**{f"{date_field}__lt": cutoff})
            .order_by(date_field)
            .values_list("pk", flat=True)[:PURGE_BATCH]
        )
        if not pks:
            return deleted
        count, _ = queryset.filter(pk__in=pks).delete()
        deleted += count


def audit_purge(*, now: datetime | None = None, retention_days: int | None = None) -> int:
    """Delete entries and snapshots older than ``AUDIT_RETENTION_DAYS``, in batches (no long
    lock); return how many entries went. The latest snapshot of a row is older than the
    cutoff only when the row has not changed since: the next change then reads as the first
    one recorded ("earlier values unknown"), as for rows that predate the trail."""
    days = settings.AUDIT_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = _purge(AuditEntry.objects.all(), "created_at", cutoff)
    for model in AUDITED:
        _purge(model.history.model.objects.all(), "history_date", cutoff)
    return deleted
