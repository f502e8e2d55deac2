from datetime import UTC, date, datetime, time, timedelta

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .kinds import PAGE_KINDS, kind_label
from .models import AuditEntry

ID_MAX_LENGTH = 60


def _day_start(day: date) -> datetime | None:
    """Midnight of ``day`` in the active zone (the merchant's), in UTC; None at the
    calendar's edges, where UTC leaves the calendar: no bound."""
    try:
        return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone()).astimezone(
            UTC
        )
    except OverflowError:
        return None


def _kind_choices() -> list[tuple[str, str]]:
    return [(kind, kind_label(kind)) for kind in PAGE_KINDS]


class AuditEntryFilter(django_filters.FilterSet):
    """The audit page's filters. Dates are calendar days in the merchant's zone; an invalid
    value is shown at its field and that filter is left out, never a server error."""

    kind = django_filters.ChoiceFilter(field_name="object_kind", choices=(), label=_("Object type"))
    action = django_filters.ChoiceFilter(choices=AuditEntry.Action.choices, label=_("Action"))
    actor = django_filters.CharFilter(
        field_name="actor_label", lookup_expr="icontains", max_length=200, label=_("Who")
    )
    date_from = django_filters.DateFilter(method="_from", label=_("From"))
    date_to = django_filters.DateFilter(method="_to", label=_("Until"))
    object = django_filters.CharFilter(
        method="_object", max_length=ID_MAX_LENGTH, label=_("Object id")
    )

    class Meta:
        model = AuditEntry
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["kind"].extra["choices"] = _kind_choices()

    def _from(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        start = _day_start(value)
        return queryset if start is None else queryset.filter(created_at__gte=start)

    def _to(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        try:
            end = _day_start(value + timedelta(days=1))
        except OverflowError:
            end = None
        return queryset if end is None else queryset.filter(created_at__lt=end)

    def _object(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(object_id=value) | Q(item_id=value))
