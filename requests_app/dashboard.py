"""The dashboard's reads of requests: what was asked, how much of it turned into payments and
how fast, and what is overdue. Merchant- and mode-scoped like every selector; the figures
are computed by the database (GROUP BY a day in the merchant's time zone), so a page costs
the same few queries for ten requests or a hundred thousand.

Payments by method and messages are read from their own apps' selectors; the back-office
view puts the three together (STYLE.md "Between apps").
"""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django import forms
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Coalesce, TruncDay
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant

from .models import Participant, PaymentRequest, RequestEvent

DEFAULT_DAYS = 30
# A year of days is enough to see a season; beyond that the daily series stops being read.
MAX_DAYS = 366
OVERDUE_SHOWN = 10


@dataclass(frozen=True)
class DateRange:
    """Whole days ``first``..``last`` in the merchant's time zone, as an aware half-open
    interval ``[start, end)`` for the queries."""

    first: datetime.date
    last: datetime.date
    tz: ZoneInfo

    @property
    def start(self) -> datetime.datetime:
        return datetime.datetime.combine(self.first, datetime.time.min, tzinfo=self.tz)

    @property
    def end(self) -> datetime.datetime:
        next_day = self.last + datetime.timedelta(days=1)
        return datetime.datetime.combine(next_day, datetime.time.min, tzinfo=self.tz)

    def days(self) -> list[datetime.date]:
        count = (self.last - self.first).days + 1
        return [self.first + datetime.timedelta(days=n) for n in range(count)]


def merchant_zone(merchant: Merchant) -> ZoneInfo:
    try:
        return ZoneInfo(merchant.time_zone)
    except (ValueError, KeyError):  # a zone the server's tz database does not know
        return ZoneInfo("UTC")


def default_range(*, merchant: Merchant, now: datetime.datetime | None = None) -> DateRange:
    """The last 30 days, today included, as the merchant's wall clock sees them."""
    tz = merchant_zone(merchant)
    today = (now or timezone.now()).astimezone(tz).date()
    return DateRange(today - datetime.timedelta(days=DEFAULT_DAYS - 1), today, tz)


class DashboardRangeForm(forms.Form):
    """The dashboard's from/to/currency filter (GET). Empty fields take the defaults; wrong
    ones are shown at the field and the page falls back to the default range."""

    start = forms.DateField(label=_("From"), required=False)
    end = forms.DateField(label=_("To"), required=False)
    currency = forms.RegexField(
        label=_("Currency"),
        regex=r"^[A-Za-z]{3}$",
        required=False,
        max_length=3,
        error_messages={"invalid": _("Enter a three-letter currency code, e.g. EUR.")},
    )

    def __init__(self, *args, merchant: Merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        default = default_range(merchant=merchant)
        self.fields["start"].widget = forms.DateInput(attrs={"type": "date"})
        self.fields["end"].widget = forms.DateInput(attrs={"type": "date"})
        self.fields["start"].widget.attrs["placeholder"] = default.first.isoformat()
        self.fields["end"].widget.attrs["placeholder"] = default.last.isoformat()
        self.fields["currency"].widget.attrs["placeholder"] = merchant.default_currency

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        default = default_range(merchant=self.merchant)
        first = data.get("start")
        last = data.get("end") or (default.last if first is None else None)
        if first is None:
            first = last - datetime.timedelta(days=DEFAULT_DAYS - 1)
        if last is None:
            last = first + datetime.timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            self.add_error("end", _("The end date must be on or after the start date."))
        elif (last - first).days + 1 > MAX_DAYS:
            self.add_error(
                "end", _("Choose a range of at most %(days)s days.") % {"days": MAX_DAYS}
            )
        data["range"] = DateRange(first, last, merchant_zone(self.merchant))
        data["currency"] = (data.get("currency") or self.merchant.default_currency).upper()
        return data


def _requests(*, merchant: Merchant, livemode: bool, span: DateRange) -> QuerySet[PaymentRequest]:
    # Uses the (merchant, livemode, -created_at) index: a range scan of one mode's requests.
    return PaymentRequest.objects.filter(
        merchant=merchant, livemode=livemode, created_at__gte=span.start, created_at__lt=span.end
    )


def requested_by_day(
    *, merchant: Merchant, livemode: bool, span: DateRange, currency: str
) -> dict[datetime.date, dict]:
    """Requests created each day and the amounts they asked for (free-amount requests count
    for their target, or nothing)."""
    rows = (
        _requests(merchant=merchant, livemode=livemode, span=span)
        .filter(currency=currency)
        .annotate(day=TruncDay("created_at", tzinfo=span.tz))
        .order_by()
        .values("day")
        .annotate(count=Count("id"), amount=Coalesce(Sum("total_amount"), 0))
    )
    return {as_local_date(row["day"], span.tz): row for row in rows}


class _Median(Aggregate):
    """PostgreSQL's exact median of an interval."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


def conversion(*, merchant: Merchant, livemode: bool, span: DateRange, currency: str) -> dict:
    """Of the payers asked to pay by requests in ``currency`` created in the range (and
    already sent), how
    many paid their share, and the median time from sending to their full payment.

    A payer removed before paying anything is not counted as asked.
    """
    now = timezone.now()
    asked = Participant.objects.filter(
        request__in=_requests(merchant=merchant, livemode=livemode, span=span).filter(
            Q(send_at__isnull=True) | Q(send_at__lte=now), currency=currency
        )
    ).exclude(status=Participant.Status.CANCELLED, amount_paid=0)
    counts = asked.aggregate(
        sent=Count("id"), paid=Count("id", filter=Q(status__in=Participant.SETTLED))
    )
    paid_events = (
        RequestEvent.objects.filter(
            merchant=merchant,
            livemode=livemode,
            type=RequestEvent.Type.PARTICIPANT_PAID,
            participant__in=asked.filter(status__in=Participant.SETTLED),
        )
        .order_by()
        .annotate(
            waited=ExpressionWrapper(
                F("created_at") - Coalesce(F("request__send_at"), F("request__created_at")),
                output_field=DurationField(),
            )
        )
    )
    counts["median_time_to_pay"] = _median(paid_events)
    sent = counts["sent"]
    counts["rate"] = round(100 * counts["paid"] / sent, 1) if sent else None
    return counts


def _median(events: QuerySet) -> datetime.timedelta | None:
    if connection.vendor == "postgresql":
        return events.aggregate(median=_Median("waited"))["median"]
    # Elsewhere: the middle row(s) of the sorted waits, still picked by the database (a
    # COUNT and one OFFSET read), never the whole set in Python.
    total = events.count()
    if not total:
        return None
    middle = list(
        events.order_by("waited").values_list("waited", flat=True)[
            (total - 1) // 2 : total // 2 + 1
        ]
    )
    return sum(middle, datetime.timedelta()) / len(middle)


def overdue(*, merchant: Merchant, livemode: bool, currency: str) -> dict:
    """Requests in ``currency`` still collecting after their deadline, whatever the range:
    what is late now.

    The figures are one query; the list shows the longest overdue first.
    """
    late = PaymentRequest.objects.filter(
        merchant=merchant,
        livemode=livemode,
        currency=currency,
        status__in=PaymentRequest.COLLECTING,
        deadline__lt=timezone.now(),
    )
    figures = late.aggregate(
        count=Count("id"),
        outstanding=Coalesce(Sum(F("total_amount") - F("amount_paid")), 0),
    )
    figures["requests"] = list(
        late.order_by("deadline", "id").only(
            "public_id", "reference", "deadline", "currency", "total_amount", "amount_paid"
        )[:OVERDUE_SHOWN]
    )
    return figures


def as_local_date(value: datetime.datetime | datetime.date, tz: ZoneInfo) -> datetime.date:
    # TruncDay gives an aware datetime on PostgreSQL and may give a naive one elsewhere.
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(tz)
        return value.date()
    return value
