from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from .models import PaymentRequest


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
