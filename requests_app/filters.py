from datetime import UTC, date, datetime, time, timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField

from pushpay.money import AmountSyntaxError, parse_major_amount

from .events import by_integrator_name
from .models import Participant, PaymentRequest, RequestEvent
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


# --- The back-office list ---------------------------------------------------------------------

# Leg states in which a payment method actually took money (payments' Leg.Status values:
# requests_app knows payments' rows only by the relation's name, never by import).
_LEG_TOOK_MONEY = ("captured", "partially_refunded", "refunded")
SEARCH_MAX_LENGTH = 200


class MajorAmountField(forms.CharField):
    """An amount typed in major units ("12,50"), cleaned to minor units of ``currency``."""

    def __init__(self, *, currency: str = "EUR", **kwargs):
        self.currency = currency
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)

    def clean(self, value):
        text = super().clean(value)
        if not text:
            return None
        try:
            return parse_major_amount(text.strip(), self.currency)
        except AmountSyntaxError as exc:
            raise ValidationError(_("Enter an amount such as 12.50."), code=exc.code) from None


class MajorAmountFilter(django_filters.Filter):
    field_class = MajorAmountField


class StableOrderingFilter(django_filters.OrderingFilter):
    """Column sorting with the id as tie-breaker, so that a page never repeats or skips a
    row of equal dates or amounts."""

    def filter(self, qs, value):
        if not value:
            return qs
        ordering = [self.get_ordering_value(param) for param in value]
        tie = "-id" if ordering[0].startswith("-") else "id"
        return qs.order_by(*ordering, tie)


def _day_start(day: date) -> datetime | None:
    """Midnight of ``day`` in the active zone (the merchant's, on back-office pages), in UTC;
    None at the calendar's edges (year 1 or 9999), where UTC leaves the calendar: no bound."""
    try:
        local = datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
        return local.astimezone(UTC)
    except OverflowError:
        return None


class BackOfficeRequestFilter(django_filters.FilterSet):
    """The back-office list's search, filters and column sorting (the mode is the toggle).

    Dates are calendar days in the merchant's time zone; amounts are typed in major units of
    the merchant's currency. ``scenario_choices`` and ``method_choices`` come from the view,
    which may read the downstream apps that own them.
    """

    q = django_filters.CharFilter(method="_search", max_length=SEARCH_MAX_LENGTH, label=_("Search"))
    status = django_filters.MultipleChoiceFilter(
        choices=PaymentRequest.Status.choices, label=_("Status")
    )
    created_from = django_filters.DateFilter(method="_created_from", label=_("Created from"))
    created_to = django_filters.DateFilter(method="_created_to", label=_("Created until"))
    scenario = django_filters.ChoiceFilter(
        field_name="scenario_binding__scenario__public_id", label=_("Scenario")
    )
    amount_min = MajorAmountFilter(
        field_name="total_amount", lookup_expr="gte", label=_("Total from")
    )
    amount_max = MajorAmountFilter(
        field_name="total_amount", lookup_expr="lte", label=_("Total up to")
    )
    method = django_filters.ChoiceFilter(method="_paid_with", label=_("Paid with"))
    sort = StableOrderingFilter(
        fields=(
            ("reference", "reference"),
            ("status", "status"),
            ("total_amount", "total"),
            ("amount_paid", "collected"),
            ("deadline", "deadline"),
            ("created_at", "created"),
        ),
        label=_("Sort by"),
    )

    class Meta:
        model = PaymentRequest
        fields: list[str] = []

    def __init__(
        self,
        *args,
        currency: str = "EUR",
        scenario_choices: list[tuple[str, str]] = (),
        method_choices: list[tuple[str, str]] = (),
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.filters["scenario"].extra["choices"] = list(scenario_choices)
        self.filters["method"].extra["choices"] = list(method_choices)
        self.filters["amount_min"].extra["currency"] = currency
        self.filters["amount_max"].extra["currency"] = currency

    def _search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Part of a reference, a description, or a payer's name, email or phone, in any
        case. An EXISTS, not a join: a request with two matching payers is listed once."""
        value = value.strip()
        if not value:
            return queryset
        # SQLite's LIKE folds ASCII only: "LEFÈ" must still find "Lefèvre", so the lower-
        # and upper-case forms are asked too (PostgreSQL's ILIKE folds them itself).
        terms = {value, value.lower(), value.upper()}
        on_payer, on_request = Q(), Q()
        for term in terms:
            on_payer |= Q(name__icontains=term) | Q(email__icontains=term)
            on_payer |= Q(phone__icontains=term)
            on_request |= Q(reference__icontains=term) | Q(description__icontains=term)
        payers = Participant.objects.filter(request=OuterRef("pk")).filter(on_payer)
        return queryset.filter(on_request | Exists(payers))

    def _created_from(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        start = _day_start(value)
        return queryset if start is None else queryset.filter(created_at__gte=start)

    def _created_to(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        end = _day_start(value + timedelta(days=1)) if value < date.max else None
        return queryset if end is None else queryset.filter(created_at__lt=end)

    def _paid_with(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        paid = PaymentRequest.objects.filter(
            checkouts__legs__method=value, checkouts__legs__status__in=_LEG_TOOK_MONEY
        ).values("pk")
        return queryset.filter(pk__in=paid)
