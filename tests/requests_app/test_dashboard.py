"""The back-office dashboard: figures of one merchant's mode over a date range in the
merchant's time zone, computed by the database, within a query budget."""

import datetime
import json
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from notifications.models import Dispatch
from payments import services as payment_services
from payments.services import LegRequest
from tests.factories import MembershipFactory, make_request, participants
from tests.payments.conftest import SUCCEEDS

PARIS = ZoneInfo("Europe/Paris")
URL = reverse("backoffice:dashboard")


def paris(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=PARIS)


def _one(amount: int) -> dict:
    return {"total_amount": amount, "participants": participants(1, amount=amount)}


def _dispatch(merchant, payment_request, *, status, due_at, livemode=False, **extra):
    return Dispatch.objects.create(
        merchant=merchant,
        livemode=livemode,
        request=payment_request,
        kind="scenario_step",
        channel="email",
        recipient="payer@example.com",
        due_at=due_at,
        next_attempt_at=due_at,
        status=status,
        dedupe_key=f"dash:{payment_request.pk}:{status}:{due_at.isoformat()}",
        **extra,
    )


@pytest.fixture
def days():
    """Two days shortly before today in Paris: the first and second day of the data set."""
    today = timezone.now().astimezone(PARIS).date()
    return today - datetime.timedelta(days=3), today - datetime.timedelta(days=2)


@pytest.fixture
def dataset(merchant, other_merchant, tokenise, days, live_cards):
    """Day 1: request A (3 x 10.00), one payer pays 10.00 by card two hours later.
    Day 2 (00:30 in Paris, still day 1 in UTC): request C (20.00), overdue an hour later.
    Day 2 10:00: request B (50.00), paid in holiday vouchers six hours later.
    Excluded: another merchant's request, a live request, a request in USD, a test request
    the day before the range; one failed delivery, one planned reminder."""
    first, second = days
    payment_services.payment_method_enable(merchant=merchant, method="holiday_voucher")
    with time_machine.travel(paris(first, 10), tick=False):
        a = make_request(merchant, reference="A", total_amount=3000)
        make_request(other_merchant, reference="OTHER", **_one(777700))
        make_request(merchant, reference="LIVE", livemode=True, **_one(888800))
        make_request(merchant, reference="USD", currency="USD", **_one(4400))
    with time_machine.travel(paris(first, 12), tick=False):
        payment_services.checkout_open(
            participant=a.participants.first(),
            legs=[LegRequest(method="card", source=tokenise(SUCCEEDS), amount=1000)],
        )
    with time_machine.travel(paris(first - datetime.timedelta(days=1), 10), tick=False):
        make_request(merchant, reference="BEFORE", **_one(990000))
    with time_machine.travel(paris(second, 0, 30), tick=False):
        c = make_request(
            merchant,
            reference="C",
            total_amount=2000,
            participants=participants(1, amount=2000),
            deadline=paris(second, 1, 30),
        )
    with time_machine.travel(paris(second, 10), tick=False):
        b = make_request(
            merchant, reference="B", total_amount=5000, participants=participants(1, amount=5000)
        )
    with time_machine.travel(paris(second, 16), tick=False):
        payment_services.checkout_open(
            participant=b.participants.get(),
            legs=[LegRequest(method="holiday_voucher", source="1000000050", amount=5000)],
        )
    live = a.__class__.objects.get(reference="LIVE")
    other = a.__class__.objects.get(reference="OTHER")
    with time_machine.travel(paris(second, 11), tick=False):
        _dispatch(merchant, c, status="failed", due_at=paris(second, 11), last_error="550")
        # A failure of the other mode, and one of another merchant, are not ours.
        _dispatch(merchant, live, status="failed", due_at=paris(second, 11), livemode=True)
        _dispatch(other_merchant, other, status="failed", due_at=paris(second, 11))
    _dispatch(merchant, a, status="planned", due_at=timezone.now() + datetime.timedelta(days=2))
    return {"a": a, "b": b, "c": c}


@pytest.fixture
def viewer_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role="viewer").user)
    return client


def _range(days) -> dict:
    return {"start": days[0].isoformat(), "end": days[1].isoformat()}


def test_it_shows_the_figures_of_the_merchants_mode_per_day_and_method(
    viewer_client, dataset, days
):
    response = viewer_client.get(URL, _range(days))

    assert response.status_code == 200
    ctx = response.context
    rows = {row["day"]: row for row in ctx["days"]}
    assert list(rows) == list(days)
    # C was created at 00:30 in Paris: the second day there, though still the first in UTC.
    assert (rows[days[0]]["requests"], rows[days[0]]["requested"]) == (1, 3000)
    assert (rows[days[1]]["requests"], rows[days[1]]["requested"]) == (2, 7000)
    assert (rows[days[0]]["collected"], rows[days[1]]["collected"]) == (1000, 5000)
    assert (ctx["total_requested"], ctx["total_collected"]) == (10000, 6000)
    assert [(m["code"], m["amount"], m["count"]) for m in ctx["by_method"]] == [
        ("holiday_voucher", 5000, 1),
        ("card", 1000, 1),
    ]
    conversion = ctx["conversion"]
    assert (conversion["sent"], conversion["paid"], conversion["rate"]) == (5, 2, 40.0)
    # Two hours and six hours: the median is four.
    assert conversion["median_time_to_pay"] == datetime.timedelta(hours=4)
    assert ctx["overdue"]["count"] == 1 and ctx["overdue"]["outstanding"] == 2000
    assert [pr.reference for pr in ctx["overdue"]["requests"]] == ["C"]
    figures = ctx["messages_figures"]
    assert figures["failed_count"] == 1 and figures["failed"][0].request_id == dataset["c"].pk
    assert figures["upcoming_count"] == 1
    body = response.content.decode()
    assert "777" not in body and "888" not in body and "9,900" not in body
    chart = json.loads(
        body.split('id="dashboard-data" type="application/json">')[1].split("</script>")[0]
    )
    assert chart["requested"] == [3000, 7000] and chart["collected"] == [1000, 5000]
    assert (chart["paid"], chart["unpaid"]) == (2, 3)
    assert 'role="img"' in body and 'aria-describedby="over-time-figures"' in body


def test_the_date_range_narrows_every_figure(viewer_client, dataset, days):
    response = viewer_client.get(URL, {"start": days[1].isoformat(), "end": days[1].isoformat()})

    ctx = response.context
    assert [row["day"] for row in ctx["days"]] == [days[1]]
    assert (ctx["total_requested"], ctx["total_collected"]) == (7000, 5000)
    assert [m["code"] for m in ctx["by_method"]] == ["holiday_voucher"]
    assert (ctx["conversion"]["sent"], ctx["conversion"]["paid"]) == (2, 1)
    assert ctx["conversion"]["median_time_to_pay"] == datetime.timedelta(hours=6)


def test_the_default_is_the_last_30_days_in_the_merchants_time_zone(viewer_client, dataset, days):
    response = viewer_client.get(URL)

    ctx = response.context
    today = timezone.now().astimezone(PARIS).date()
    assert ctx["span"].last == today and len(ctx["days"]) == 30
    # The request of the day before the range is within the last 30 days: it counts now.
    assert ctx["total_requested"] == 10000 + 990000


def test_another_currency_is_its_own_dashboard(viewer_client, dataset, days):
    response = viewer_client.get(URL, {**_range(days), "currency": "usd"})

    assert response.context["currency"] == "USD"
    assert response.context["total_requested"] == 4400
    assert response.context["by_method"] == []


def test_the_live_mode_sees_only_live_figures(viewer_client, dataset, days):
    viewer_client.post(reverse("backoffice:switch_mode"), {"mode": "live"})

    ctx = viewer_client.get(URL, _range(days)).context

    assert ctx["total_requested"] == 888800
    assert ctx["total_collected"] == 0 and ctx["conversion"]["paid"] == 0
    assert ctx["messages_figures"]["failed_count"] == 1
    assert ctx["messages_figures"]["upcoming_count"] == 0
    assert ctx["overdue"]["count"] == 0


def test_another_merchants_operator_sees_none_of_it(client, other_merchant, dataset, days):
    client.force_login(MembershipFactory(merchant=other_merchant, role="viewer").user)

    ctx = client.get(URL, _range(days)).context

    assert ctx["total_requested"] == 777700
    assert ctx["total_collected"] == 0 and ctx["overdue"]["count"] == 0


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"start": "2026-13-45"}, "start", "valid date"),
        ({"start": "yesterday", "end": "x" * 5000}, "end", "valid date"),
        ({"start": "2026-03-10", "end": "2026-03-01"}, "end", "on or after"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "end", "at most 366 days"),
        ({"start": "0001-01-01", "end": "9999-12-31"}, "end", "at most 366 days"),
        ({"currency": "EURO"}, "currency", ""),
        ({"currency": "€€€"}, "currency", "three-letter"),
    ],
)
def test_bad_dates_are_shown_at_their_field_and_the_default_range_is_used(
    viewer_client, merchant, params, field, message
):
    response = viewer_client.get(URL, params)

    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors and message in " ".join(form.errors[field])
    assert len(response.context["days"]) == 30
    assert b'data-testid="form-errors"' in response.content


def test_a_stranger_is_sent_to_log_in(client):
    response = client.get(URL)

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("role", ["owner", "admin", "agent", "viewer"])
def test_every_member_may_read_it(client, merchant, role):
    client.force_login(MembershipFactory(merchant=merchant, role=role).user)

    assert client.get(URL).status_code == 200


def test_the_page_costs_a_fixed_number_of_queries(
    viewer_client, merchant, dataset, days, django_assert_max_num_queries
):
    # 4 for the session, user and merchant, 11 for the figures (12 on PostgreSQL less the
    # median's count), 3 to save the session the tenancy mixin touches.
    viewer_client.get(URL)  # the session's first save is an insert
    with django_assert_max_num_queries(18) as first:
        assert viewer_client.get(URL, _range(days)).status_code == 200
    with time_machine.travel(paris(days[1], 9), tick=False):
        for n in range(5):
            extra = make_request(merchant, reference=f"MORE-{n}", **_one(100 + n))
            _dispatch(merchant, extra, status="failed", due_at=paris(days[1], 9))

    with django_assert_max_num_queries(len(first.captured_queries)):
        response = viewer_client.get(URL, _range(days))
    assert response.context["total_requests"] == 3 + 5


def test_the_page_loads_its_charts_from_static_files_only(viewer_client, dataset, days):
    body = viewer_client.get(URL, _range(days)).content.decode()

    assert "vendor/chartjs-4.6.1/chart.umd.min.js" in body
    assert "requests_app/dashboard.js" in body
    # The one inline <script> is the JSON data, which the CSP does not run.
    inline = [chunk for chunk in body.split("<script")[1:] if "src=" not in chunk.split(">")[0]]
    assert len(inline) == 1 and 'type="application/json"' in inline[0]


def test_it_speaks_french_to_a_french_browser(viewer_client, dataset, days):
    response = viewer_client.get(
        URL, {"start": days[1].isoformat(), "end": days[0].isoformat()}, HTTP_ACCEPT_LANGUAGE="fr"
    )

    body = response.content.decode()
    assert "Tableau de bord" in body and "Encaissé par moyen de paiement" in body
    assert "La date de fin doit être égale ou postérieure à la date de début." in body
    assert "1 demande a dépassé son échéance" in body and "Prochaines relances" in body
