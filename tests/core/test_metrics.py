"""/metrics: closed without the token in production, and the product's series telling the
truth about the outbox, the deliveries and the payment legs."""

import itertools
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.db import OperationalError
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from notifications.models import DeliveryAttempt, Dispatch
from payments.models import LegOperation
from pushpay.metrics import RowTally
from tests.factories import make_request
from tests.payments.conftest import DECLINED, SUCCEEDS, card_details

pytestmark = pytest.mark.django_db
TOKEN = "m" * 40
_keys = itertools.count()


@pytest.fixture(autouse=True)
def fresh_tallies(settings):
    # Tallies live in the process; each test's rows are rolled back under them.
    RowTally.reset_all()
    settings.METRICS_SETTLE_SECONDS = 0
    settings.METRICS_TOKEN = TOKEN
    yield
    RowTally.reset_all()


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def dispatch(merchant, *, status="planned", kind="scenario_step", channel="email", **fields):
    now = timezone.now()
    fields.setdefault("due_at", now)
    fields.setdefault("next_attempt_at", fields["due_at"])
    if status == "skipped":
        fields.setdefault("skip_reason", "paid")
    return Dispatch.objects.create(
        merchant=merchant,
        kind=kind,
        channel=channel,
        status=status,
        dedupe_key=f"test:{next(_keys)}",
        **fields,
    )


def attempt(row, outcome):
    return DeliveryAttempt.objects.create(
        merchant=row.merchant, dispatch=row, number=1, outcome=outcome, duration_ms=12
    )


# --- Access ---------------------------------------------------------------------------------


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["pay.example.com"]


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        ("Bearer", 401),
        (f"Basic {TOKEN}", 401),
        ("Bearer wrong", 403),
        (f"Bearer {TOKEN}x", 403),
        (f"Bearer {TOKEN[:-1]}", 403),
        ("Bearer é☃", 403),
        ("Bearer " + "m" * 100_000, 403),
    ],
)
def test_metrics_refuse_a_scraper_without_the_token(client, header, status):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/metrics", HTTP_HOST="10.0.0.5:8000", **extra)
    assert response.status_code == status
    assert response.json()["error"]["code"] in ("not_authenticated", "invalid_token")
    assert b"pushpay_" not in response.content
    if status == 401:
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


@pytest.mark.usefixtures("production")
def test_metrics_answer_the_token_by_address_over_plain_http(client):
    response = client.get(
        "/metrics", HTTP_HOST="10.0.0.5:8000", HTTP_AUTHORIZATION=f"bearer {TOKEN}"
    )
    assert response.status_code == 200
    assert b"pushpay_outbox_pending" in response.content


@pytest.mark.usefixtures("production")
def test_metrics_do_not_exist_in_production_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404
    assert b"pushpay_" not in response.content


# --- Series ---------------------------------------------------------------------------------


def test_outbox_depth_due_lag_and_expired_leases(client, merchant, other_merchant):
    now = timezone.now()
    dispatch(merchant, due_at=now - timedelta(seconds=120))
    dispatch(other_merchant, kind="receipt", due_at=now - timedelta(seconds=30))
    dispatch(merchant, due_at=now + timedelta(hours=1))  # planned, not due yet
    dispatch(merchant, status="sending", lease_until=now - timedelta(seconds=5))
    dispatch(merchant, status="sending", lease_until=now + timedelta(minutes=5))
    dispatch(merchant, status="sent")
    dispatch(merchant, status="skipped")

    samples = scrape(client)

    pending = "pushpay_outbox_pending"
    assert value(samples, pending, status="planned", kind="scenario_step") == 2
    assert value(samples, pending, status="planned", kind="receipt") == 1
    assert value(samples, pending, status="sending", kind="scenario_step") == 2
    assert value(samples, pending, status="sending", kind="receipt") == 0  # known kinds show 0
    assert not [k for k in samples if k[0] == pending and dict(k[1])["status"] == "sent"]
    assert value(samples, "pushpay_outbox_due") == 2
    assert 120 <= value(samples, "pushpay_dispatch_lag_seconds") < 180
    assert value(samples, "pushpay_outbox_expired_leases") == 1
    assert value(samples, "pushpay_metrics_database_up") == 1


def test_no_lag_when_nothing_is_due(client, merchant):
    dispatch(merchant, due_at=timezone.now() + timedelta(minutes=1))
    dispatch(merchant, status="sent", due_at=timezone.now() - timedelta(days=1))
    samples = scrape(client)
    assert value(samples, "pushpay_dispatch_lag_seconds") == 0
    assert value(samples, "pushpay_outbox_due") == 0


def test_deliveries_by_channel_outcome_and_mode_count_each_attempt_once(client, merchant):
    email = dispatch(merchant, status="sent")
    sms = dispatch(merchant, status="planned", channel="sms")
    hook = dispatch(merchant, status="failed", channel="webhook", livemode=True)
    attempt(email, "retry")
    attempt(email, "sent")
    attempt(sms, "retry")
    attempt(hook, "failed")

    first = scrape(client)
    total = "pushpay_delivery_attempts_total"
    assert value(first, total, channel="email", outcome="sent", mode="test") == 1
    assert value(first, total, channel="email", outcome="retry", mode="test") == 1
    assert value(first, total, channel="sms", outcome="retry", mode="test") == 1
    assert value(first, total, channel="webhook", outcome="failed", mode="live") == 1

    attempt(sms, "sent")
    second = scrape(client)
    third = scrape(client)
    assert value(second, total, channel="sms", outcome="sent", mode="test") == 1
    assert value(third, total, channel="email", outcome="retry", mode="test") == 1  # not twice
    assert sum(v for k, v in third.items() if k[0] == total) == DeliveryAttempt.objects.count()


def test_an_attempt_is_counted_once_it_has_settled(client, merchant, settings):
    settings.METRICS_SETTLE_SECONDS = 60
    row = dispatch(merchant, status="sent")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        attempt(row, "sent")
        samples = scrape(client)
        assert ("pushpay_delivery_attempts_total", ()) not in samples
        assert not [k for k in samples if k[0] == "pushpay_delivery_attempts_total"]
        clock.shift(timedelta(seconds=61))
        samples = scrape(client)
    assert value(
        samples, "pushpay_delivery_attempts_total", channel="email", outcome="sent", mode="test"
    )


def test_payment_outcomes_by_method_operation_and_result(client, merchant):
    request = make_request(merchant)
    payer, other = request.participants.all()[:2]
    for participant, number in ((payer, SUCCEEDS), (other, DECLINED)):
        token = client.post(
            "/sandbox/tokens", card_details(number), content_type="application/json"
        ).json()["token"]
        client.post(f"/pay/{participant.link_token}/", {"card_token": token})

    samples = scrape(client)
    name = "pushpay_payment_operations_total"
    expected = {}
    for method, operation, result in LegOperation.objects.values_list(
        "leg__method", "operation", "result"
    ):
        key = (method, operation, result)
        expected[key] = expected.get(key, 0) + 1
    got = {
        (labels["method"], labels["operation"], labels["result"]): v
        for (sample, pairs), v in samples.items()
        if sample == name
        for labels in [dict(pairs)]
    }
    assert got == expected
    assert got[("card", "authorise", "succeeded")] == 1
    assert got[("card", "capture", "succeeded")] == 1
    assert got[("card", "authorise", "failed")] == 1
    assert {dict(k[1])["mode"] for k in samples if k[0] == name} == {"test"}


def test_the_request_metrics_count_views_by_status(client):
    client.get("/app/")  # not logged in: a redirect to the login page
    samples = scrape(client)
    by_view = [
        (dict(k[1]), v)
        for k, v in samples.items()
        if k[0] == "django_http_responses_total_by_status_view_method_total"
    ]
    assert any(
        labels["status"] == "302" and labels["method"] == "GET" and v >= 1 for labels, v in by_view
    ), by_view


def test_a_database_outage_still_serves_the_request_metrics(client):
    with mock.patch.object(Dispatch.objects, "filter", side_effect=OperationalError("down")):
        samples = scrape(client)
    assert value(samples, "pushpay_metrics_database_up") == 0
    assert not [k for k in samples if k[0].startswith("pushpay_outbox")]
    assert any(k[0].startswith("django_http_") for k in samples)


def test_a_restored_older_table_restarts_the_counts_instead_of_freezing_them(client, merchant):
    row = dispatch(merchant, status="sent")
    attempts = [attempt(row, "sent") for _ in range(3)]
    total = "pushpay_delivery_attempts_total"
    assert value(scrape(client), total, channel="email", outcome="sent", mode="test") == 3
    DeliveryAttempt.objects.filter(pk__in=[a.pk for a in attempts[1:]]).delete()
    assert value(scrape(client), total, channel="email", outcome="sent", mode="test") == 1
