from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from .events import by_integrator_name
from .models import PaymentRequest, RequestEvent
from .selectors import event_object_match


class UtcIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 allows offsets up to ±23:59, PostgreSQL only up to ±15:59: compare in UTC,
    and refuse a date that leaves the calendar once moved there (year 1 at +10:00)."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValidationError("Enter a date between the years 1 and 9999.") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class PaymentRequestFilter(django_filters.FilterSet):
    """Query-string filters shared by the API list and the back-office list."""

    status = django_filters.MultipleChoiceFilter(choices=PaymentRequest.Status.choices)
    reference = django_filters.CharFilter()
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = PaymentRequest
        fields = ["status", "reference", "created_after", "created_before"]


def _integrator_type_choices() -> list[tuple[str, str]]:
    # A callable, so types that join the catalogue after this module loads are offered too.
    return [(name, name) for name in sorted(by_integrator_name())]


class EventFilter(django_filters.FilterSet):
    """Query-string filters of the events API; ``type`` takes integrator names."""

    type = django_filters.MultipleChoiceFilter(choices=_integrator_type_choices, method="_types")
    object = django_filters.CharFilter(method="_object", max_length=100)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = RequestEvent
        fields = ["type", "object", "created_after", "created_before"]

    def _types(self, queryset, name, value):
        if not value:
            return queryset
        names = by_integrator_name()
        return queryset.filter(type__in=[names[v].name for v in value])

    def _object(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(event_object_match(value))
