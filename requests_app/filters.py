import django_filters

from .models import PaymentRequest


class PaymentRequestFilter(django_filters.FilterSet):
    """Query-string filters shared by the API list and the back-office list."""

    status = django_filters.MultipleChoiceFilter(choices=PaymentRequest.Status.choices)
    reference = django_filters.CharFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = PaymentRequest
        fields = ["status", "reference", "created_after", "created_before"]
