"""Operators follow installment plans in the back office: on the request page, in the list
of what falls due this week and the list of defaulted plans, and on a plan's own page where
they cancel it, move a date or re-split it, as their role allows, in their mode only."""

from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payments.installments import services
from payments.models import InstallmentPlan
from payments.sandbox.services import sandbox_card_tokenise
from requests_app.models import RequestEvent
from tests.factories import MembershipFactory, make_request, participants
from tests.payments.test_installment_plans import refuse_merchant_initiated_charges

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2030, 1, 8, 12, 0, tzinfo=PARIS)
WEDNESDAY = datetime(2030, 2, 6, 12, 0, tzinfo=PARIS)  # the week of Monday 4 February


@pytest.fixture(autouse=True)
def clock():
    """Every page is read on a Wednesday of 2030 (sessions and "this week" alike); plans
    are started earlier by travelling back."""
    with time_machine.travel(WEDNESDAY, tick=False) as traveller:
        yield traveller


def token() -> str:
    return sandbox_card_tokenise(
        number="4242424242424242", exp_month=12, exp_year=2040, cvc="123"
    ).token


def plans_for(merchant, count: int, *, reference: str = "", amount: int = 30000) -> list:
    with time_machine.travel(START, tick=False):
        pr = make_request(
            merchant,
            total_amount=amount * count,
            participants=participants(count, amount=amount),
            deadline=START + timedelta(days=200),
            expires_at=START + timedelta(days=300),
            **({"reference": reference} if reference else {}),
        )
        card = token()
        return [
            services.installment_plan_start(
                participant=p, source=card, count=3, interval_unit="month"
            )
            for p in pr.participants.order_by("position")
        ]


def login(client, merchant, role="admin"):
    client.force_login(MembershipFactory(merchant=merchant, role=role).user)


@pytest.fixture
def plan(merchant):
    return plans_for(merchant, 1)[0]


def at(moment, call):
    with time_machine.travel(moment, tick=False):
        return call()


def test_the_request_page_shows_each_plan_with_each_installment(client, merchant, plan):
    login(client, merchant)

    html = at(WEDNESDAY, lambda: client.get(f"/app/requests/{plan.request.public_id}/"))
    html = html.content.decode()

    assert 'data-testid="installment-plan"' in html
    assert f"/app/installments/{plan.public_id}/" in html
    assert html.count('data-testid="installment-row"') == 3
    assert "2030-02-08" in html and "2030-03-08" in html
    assert 'data-status="paid"' in html and html.count('data-status="scheduled"') >= 2


def test_the_due_list_shows_this_weeks_charges_and_retries_only(client, merchant, monkeypatch):
    due, later = plans_for(merchant, 1)[0], None
    with time_machine.travel(datetime(2030, 1, 20, 12, 0, tzinfo=PARIS), tick=False):
        pr = make_request(
            merchant,
            total_amount=30000,
            participants=participants(1, amount=30000),
            expires_at=START + timedelta(days=300),
            reference="LATER",
        )
        later = services.installment_plan_start(
            participant=pr.participants.get(), source=token(), count=3, interval_unit="month"
        )
    login(client, merchant)

    html = at(WEDNESDAY, lambda: client.get("/app/installments/due/")).content.decode()

    assert html.count('data-testid="due-row"') == 1  # 8 February; LATER is due on the 20th
    assert due.request.reference in html and "LATER" not in html
    # A retry this week is listed too, with its attempts and last failure.
    refuse_merchant_initiated_charges(monkeypatch, times=1)
    friday = datetime(2030, 2, 8, 9, 5, tzinfo=PARIS)
    at(friday, lambda: services.installments_charge_due(now=friday, worker_id="t"))
    at(friday, lambda: login(client, merchant))  # two days on, the idle session ended
    html = at(friday, lambda: client.get("/app/installments/due/")).content.decode()
    assert html.count('data-testid="due-row"') == 1
    assert 'data-status="failed"' in html and "declined" in html
    assert later.public_id not in html


def test_lists_keep_merchants_and_modes_apart(client, merchant, other_merchant):
    mine = plans_for(merchant, 1, reference="MINE")[0]
    theirs = plans_for(other_merchant, 1, reference="THEIRS")[0]
    live = plans_for(merchant, 1, reference="LIVEONE")[0]
    InstallmentPlan.objects.filter(pk=live.pk).update(livemode=True)
    InstallmentPlan.objects.filter(pk__in=[mine.pk, theirs.pk, live.pk]).update(status="defaulted")
    login(client, merchant)

    for url in ("/app/installments/defaulted/",):
        html = at(WEDNESDAY, lambda url=url: client.get(url)).content.decode()
        assert "MINE" in html and "THEIRS" not in html and "LIVEONE" not in html
    assert client.get(f"/app/installments/{theirs.public_id}/").status_code == 404
    assert client.get(f"/app/installments/{live.public_id}/").status_code == 404
    assert client.get("/app/installments/ip_nope/").status_code == 404
    assert (
        client.post(f"/app/installments/{theirs.public_id}/cancel/", {"confirm": "on"}).status_code
        == 404
    )
    theirs.refresh_from_db()
    assert theirs.status == "defaulted"


def test_the_defaulted_list_shows_what_was_collected_and_what_is_left(
    client, merchant, plan, monkeypatch
):
    refuse_merchant_initiated_charges(monkeypatch, times=10)
    for days in (0, 1, 3, 7):
        moment = datetime(2030, 2, 8, 9, 5, tzinfo=PARIS) + timedelta(days=days)
        at(
            moment,
            lambda moment=moment: services.installments_charge_due(now=moment, worker_id="t"),
        )
    plan.refresh_from_db()
    assert plan.status == "defaulted"
    login(client, merchant)

    html = unescape(client.get("/app/installments/defaulted/").content.decode())

    assert html.count('data-testid="defaulted-row"') == 1
    assert "€100.00" in html and "€200.00" in html  # collected, left unpaid


def test_an_admin_cancels_with_confirmation_and_nothing_more_is_charged(client, merchant, plan):
    login(client, merchant)
    url = f"/app/installments/{plan.public_id}/"
    page = at(WEDNESDAY, lambda: client.get(url)).content.decode()
    assert 'data-testid="cancel-form"' in page and 'data-testid="resplit-form"' in page

    unconfirmed = client.post(url + "cancel/", follow=True)
    assert "Tick the confirmation box" in unescape(unconfirmed.content.decode())
    plan.refresh_from_db()
    assert plan.status == "active"

    done = client.post(url + "cancel/", {"confirm": "on"}, follow=True)
    assert "The plan is cancelled" in done.content.decode()
    plan.refresh_from_db()
    assert plan.status == "cancelled"
    again = client.post(url + "cancel/", {"confirm": "on"}, follow=True)
    assert "nothing left to cancel" in again.content.decode()
    friday = datetime(2030, 2, 8, 9, 5, tzinfo=PARIS)
    assert at(friday, lambda: services.installments_charge_due(now=friday, worker_id="t")) == 0
    html = client.get(url).content.decode()
    assert 'data-testid="cancel-form"' not in html and 'data-testid="resplit-form"' not in html


def test_an_admin_moves_a_date_and_bad_dates_are_clear_messages(client, merchant, plan):
    login(client, merchant)
    url = f"/app/installments/{plan.public_id}/"
    second = plan.installments.get(position=1)

    def move(data):
        post = {"installment": second.public_id, "confirm": "on", **data}
        return at(WEDNESDAY, lambda: client.post(url + "reschedule/", post, follow=True))

    for data, message in (
        ({"due_date": "not-a-date"}, "Give a date"),
        ({"due_date": "2030-13-45"}, "Give a date"),
        ({"due_date": "9" * 400}, "Give a date"),
        ({"due_date": "2030-03-20"}, "before the next one"),
        ({"due_date": "2030-02-01"}, "in the future"),
        ({"due_date": "2030-02-12", "installment": "in_unknown"}, "No such installment"),
    ):
        assert message in unescape(move(data).content.decode()), data
    second.refresh_from_db()
    assert str(second.due_date) == "2030-02-08"

    done = move({"due_date": "2030-02-12"})
    assert "moved to 2030-02-12" in done.content.decode()
    second.refresh_from_db()
    assert str(second.due_date) == "2030-02-12"
    assert RequestEvent.objects.filter(
        type="installment_plan_confirmed", payload__change="rescheduled"
    ).exists()


def test_an_admin_resplits_what_is_left_exactly(client, merchant, plan):
    login(client, merchant)
    url = f"/app/installments/{plan.public_id}/"

    bad = at(
        WEDNESDAY,
        lambda: client.post(
            url + "resplit/",
            {"count": "x", "interval_unit": "month", "confirm": "on"},
            follow=True,
        ),
    )
    assert "Give a whole number" in bad.content.decode()
    unit = at(
        WEDNESDAY,
        lambda: client.post(
            url + "resplit/", {"count": "4", "interval_unit": "year", "confirm": "on"}, follow=True
        ),
    )
    assert "interval_unit is one of" in unit.content.decode()
    done = at(
        WEDNESDAY,
        lambda: client.post(
            url + "resplit/", {"count": "4", "interval_unit": "week", "confirm": "on"}, follow=True
        ),
    )
    assert "spread over the new schedule" in done.content.decode()
    left = plan.installments.filter(status="scheduled")
    assert left.count() == 4 and sum(i.amount for i in left) == 20000


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_see_the_plan_but_cannot_change_it(client, merchant, plan, role):
    login(client, merchant, role=role)
    url = f"/app/installments/{plan.public_id}/"

    html = client.get(url).content.decode()
    assert 'data-testid="cancel-form"' not in html
    response = client.post(url + "cancel/", {"confirm": "on"})
    assert response.status_code == 403
    plan.refresh_from_db()
    assert plan.status == "active"


def test_pages_need_a_login(client, plan):
    for url in ("/app/installments/due/", f"/app/installments/{plan.public_id}/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert at(WEDNESDAY, lambda: client.get(url)).status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "url",
    ["/app/installments/due/", "/app/installments/defaulted/", "/app/requests/{request}/"],
)
def test_every_page_reads_in_the_same_bounded_queries_for_1_and_20_rows(
    client, merchant, url, django_assert_max_num_queries
):
    one = plans_for(merchant, 1, reference="ONE")
    twenty = plans_for(merchant, 20, reference="TWENTY")
    InstallmentPlan.objects.update(status="active")
    if "defaulted" in url:
        InstallmentPlan.objects.update(status="defaulted")
    login(client, merchant)
    first = url.format(request=one[0].request.public_id)
    many = url.format(request=twenty[0].request.public_id)

    if "{request}" not in url:
        # Both lists hold 21 rows by now: compare with a list of one row.
        InstallmentPlan.objects.exclude(pk=one[0].pk).update(livemode=True)
        small = _queries(client, first)
        InstallmentPlan.objects.update(livemode=False)
        html = at(WEDNESDAY, lambda: client.get(many)).content.decode()
        assert html.count('-row"') == 21
    else:
        small = _queries(client, first)
    with django_assert_max_num_queries(small):
        assert at(WEDNESDAY, lambda: client.get(many)).status_code == 200
    assert small <= 20


def test_the_plan_page_reads_in_a_bounded_number_of_queries(
    client, merchant, plan, django_assert_max_num_queries
):
    login(client, merchant)
    with django_assert_max_num_queries(16):
        assert client.get(f"/app/installments/{plan.public_id}/").status_code == 200
