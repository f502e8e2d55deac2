"""Reconciliation ("lettrage"): once a request is final, one statement ties every leg that
took money to it, with fee and net from the merchant's rules, announced by one
``reconciliation_ready`` event and one email; a later refund makes the next version."""

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from notifications.dispatcher import dispatch_due
from notifications.models import Dispatch
from payments import services
from payments.models import DailyReconciliation, FeeRule, Leg, Reconciliation
from payments.services import LegRequest
from payments.tasks import build_daily_reconciliations
from pushpay.errors import InvalidInput
from requests_app.events import CATALOGUE
from requests_app.models import RequestEvent
from scenarios.models import OutboxMessage
from tests.factories import MerchantFactory, make_request, participants
from tests.payments.conftest import SUCCEEDS

FIFTY = "1000000050"
URL = "/api/v1/payment-requests"


@pytest.fixture
def merchant(db):
    return MerchantFactory(name="Alpha Shop", contact_email="books@alpha.example")


@pytest.fixture
def rules(merchant):
    services.payment_method_enable(merchant=merchant, method="holiday_voucher")
    services.fee_rule_set(merchant=merchant, method="card", fixed_fee=25, percent_bp=140)
    services.fee_rule_set(merchant=merchant, method="holiday_voucher", fixed_fee=0, percent_bp=250)


def combined_request(merchant, tokenise, *, livemode=False, reference=None):
    """An 80.00 share paid with 50.00 of holiday vouchers and 30.00 by card."""
    extra = {"reference": reference} if reference else {}
    payment_request = make_request(
        merchant, total_amount=8000, participants=participants(1, amount=8000), **extra
    )
    checkout = services.checkout_open(
        participant=payment_request.participants.get(),
        legs=[
            LegRequest(method="holiday_voucher", source=FIFTY, amount=5000),
            LegRequest(method="card", source=tokenise(SUCCEEDS), amount=3000),
        ],
    )
    assert checkout.status == "succeeded"
    payment_request.refresh_from_db()
    assert payment_request.status == "paid"
    return payment_request


def ready_events(payment_request):
    return RequestEvent.objects.filter(
        request=payment_request, type=RequestEvent.Type.RECONCILIATION_READY
    )


# --- Fees -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixed", "bp", "amount", "fee"),
    [
        (25, 140, 3000, 67),  # 25 + 42
        (0, 140, 1250, 18),  # 17.5 rounds half up
        (0, 140, 1249, 17),  # 17.486 rounds down
        (0, 250, 5000, 125),
        (10, 0, 5000, 10),
        (0, 10_000, 999, 999),
    ],
)
def test_a_fee_is_fixed_plus_basis_points_rounded_half_up(fixed, bp, amount, fee):
    assert FeeRule(fixed_fee=fixed, percent_bp=bp).fee_for(amount) == fee


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [("fixed_fee", -1), ("fixed_fee", "25"), ("percent_bp", 10_001), ("percent_bp", True)],
)
def test_a_fee_rule_refuses_what_makes_no_sense(merchant, field, value):
    kwargs = {"fixed_fee": 25, "percent_bp": 140, field: value}
    with pytest.raises(InvalidInput) as refused:
        services.fee_rule_set(merchant=merchant, method="card", **kwargs)
    assert (refused.value.code, refused.value.field) == ("invalid_fee", field)


@pytest.mark.django_db
def test_a_fee_rule_names_a_known_method_and_is_one_per_method(merchant):
    with pytest.raises(InvalidInput) as refused:
        services.fee_rule_set(merchant=merchant, method="bitcoin", fixed_fee=0, percent_bp=0)
    assert refused.value.code == "unknown_payment_method"
    services.fee_rule_set(merchant=merchant, method="card", fixed_fee=1, percent_bp=1)
    services.fee_rule_set(merchant=merchant, method="card", fixed_fee=25, percent_bp=140)
    assert list(FeeRule.objects.values_list("fixed_fee", "percent_bp")) == [(25, 140)]


# --- The statement ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_vouchers_and_a_card_make_one_reconciliation_with_two_lines_and_their_fees(
    merchant, rules, tokenise
):
    payment_request = combined_request(merchant, tokenise)

    reconciliation = Reconciliation.objects.get(request=payment_request)
    assert reconciliation.version == 1
    assert reconciliation.request_status == "paid"
    lines = [
        (line["method"], line["amount"], line["fee"], line["net"], line["status"])
        for line in reconciliation.lines
    ]
    assert lines == [
        ("holiday_voucher", 5000, 125, 4875, "captured"),
        ("card", 3000, 67, 2933, "captured"),
    ]
    legs = {leg.method: leg for leg in Leg.objects.filter(checkout__request=payment_request)}
    assert [line["provider_reference"] for line in reconciliation.lines] == [
        legs["holiday_voucher"].provider_reference,
        legs["card"].provider_reference,
    ]
    assert all(line["provider_reference"] for line in reconciliation.lines)
    totals = reconciliation.totals
    assert (totals["amount"], totals["refunded"], totals["fee"], totals["net"]) == (
        8000,
        0,
        192,
        7808,
    )
    assert totals["by_method"]["card"] == {
        "count": 1,
        "amount": 3000,
        "refunded": 0,
        "fee": 67,
        "net": 2933,
    }
    assert totals["by_method"]["holiday_voucher"]["net"] == 4875


@pytest.mark.django_db
def test_the_event_is_recorded_once_and_the_merchant_is_emailed_in_its_language(
    merchant, rules, tokenise
):
    merchant.default_language = "fr"
    merchant.save()
    payment_request = combined_request(merchant, tokenise)

    (event,) = ready_events(payment_request)
    assert CATALOGUE[event.type].integrator_name == "reconciliation.ready"
    assert event.payload["version"] == 1
    assert event.payload["totals"]["net"] == 7808
    (row,) = Dispatch.objects.filter(kind="reconciliation")
    assert (row.recipient, row.language) == ("books@alpha.example", "fr")
    assert row.dedupe_key == f"reconciliation:{payment_request.public_id}:v1"

    dispatch_due(worker_id="w")

    email = OutboxMessage.objects.get(to="books@alpha.example")
    assert payment_request.reference in email.subject
    assert "Rapprochement" in email.subject
    for body in (email.text, email.html):
        assert "78,08" in body  # the net, in French
        assert "1,92" in body  # the fees
        assert f"/app/requests/{payment_request.public_id}/reconciliation/" in body


@pytest.mark.django_db
def test_replaying_the_reaction_writes_nothing_new(merchant, rules, tokenise):
    payment_request = combined_request(merchant, tokenise)

    assert services.reconciliation_refresh(payment_request=payment_request) is None

    assert Reconciliation.objects.filter(request=payment_request).count() == 1
    assert ready_events(payment_request).count() == 1
    assert Dispatch.objects.filter(kind="reconciliation").count() == 1


@pytest.mark.django_db
def test_a_later_refund_makes_version_2_with_the_leg_refunded_and_its_fee_kept(
    merchant, rules, tokenise
):
    payment_request = combined_request(merchant, tokenise)
    # A rule changed after the statement never rewrites the fee already stated.
    services.fee_rule_set(merchant=merchant, method="card", fixed_fee=999, percent_bp=0)
    participant = payment_request.participants.get()

    services.payment_request_refund(
        payment_request=payment_request, lines=[services.RefundLine(participant, 3000)]
    )

    latest = Reconciliation.objects.filter(request=payment_request).order_by("-version").first()
    assert latest.version == 2
    assert latest.request_status == "partially_refunded"
    by_method = {line["method"]: line for line in latest.lines}
    card = by_method["card"]
    assert (card["status"], card["amount_refunded"], card["fee"], card["net"]) == (
        "refunded",
        3000,
        67,
        -67,
    )
    assert latest.totals["refunded"] == 3000
    assert [e.payload["version"] for e in ready_events(payment_request)] == [1, 2]
    assert sorted(
        Dispatch.objects.filter(kind="reconciliation").values_list("dedupe_key", flat=True)
    ) == [
        f"reconciliation:{payment_request.public_id}:v1",
        f"reconciliation:{payment_request.public_id}:v2",
    ]


@pytest.mark.django_db
def test_a_request_still_collecting_has_no_statement_and_nothing_is_announced(
    merchant, rules, tokenise
):
    payment_request = make_request(merchant)  # 3 x 10.00
    services.checkout_start(
        participant=payment_request.participants.first(), method="card", source=tokenise()
    )
    payment_request.refresh_from_db()
    assert payment_request.status == "partially_paid"
    assert not Reconciliation.objects.exists()
    assert not ready_events(payment_request).exists()


@pytest.mark.django_db
def test_a_request_cancelled_with_money_taken_is_reconciled(merchant, rules, tokenise, api):
    payment_request = make_request(merchant)
    services.checkout_start(
        participant=payment_request.participants.first(), method="card", source=tokenise()
    )

    response = api.post(f"{URL}/{payment_request.public_id}/cancel", {}, format="json")

    assert response.status_code == 200
    (reconciliation,) = Reconciliation.objects.filter(request=payment_request)
    assert reconciliation.request_status == "cancelled"
    assert [line["amount"] for line in reconciliation.lines] == [1000]


@pytest.mark.django_db
def test_a_request_cancelled_with_nothing_taken_has_nothing_to_reconcile(merchant, api):
    payment_request = make_request(merchant)
    api.post(f"{URL}/{payment_request.public_id}/cancel", {}, format="json")
    assert not Reconciliation.objects.exists()
    body = api.get(f"{URL}/{payment_request.public_id}/reconciliation").json()
    assert (body["final"], body["lines"], body["totals"]["amount"]) == (True, [], 0)


# --- API --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_returns_the_lines_and_totals(merchant, rules, tokenise, api):
    payment_request = combined_request(merchant, tokenise)

    response = api.get(f"{URL}/{payment_request.public_id}/reconciliation")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["final"], body["version"], body["reference"]) == (
        True,
        1,
        payment_request.reference,
    )
    assert [
        {k: line[k] for k in ("method", "amount", "fee", "net", "status")} for line in body["lines"]
    ] == [
        {
            "method": "holiday_voucher",
            "amount": 5000,
            "fee": 125,
            "net": 4875,
            "status": "captured",
        },
        {"method": "card", "amount": 3000, "fee": 67, "net": 2933, "status": "captured"},
    ]
    assert all(line["provider_reference"] for line in body["lines"])
    assert body["totals"]["net"] == 7808
    assert set(body["totals"]["by_method"]) == {"card", "holiday_voucher"}


@pytest.mark.django_db
def test_a_request_still_collecting_shows_provisional_lines(merchant, rules, tokenise, api):
    payment_request = make_request(merchant)
    services.checkout_start(
        participant=payment_request.participants.first(), method="card", source=tokenise()
    )

    body = api.get(f"{URL}/{payment_request.public_id}/reconciliation").json()

    assert (body["final"], body["version"], body["id"]) == (False, None, None)
    assert [(line["amount"], line["fee"]) for line in body["lines"]] == [(1000, 39)]


@pytest.mark.django_db
def test_the_csv_is_the_same_statement_as_an_attachment(merchant, rules, tokenise, api):
    payment_request = combined_request(merchant, tokenise)

    response = api.get(f"{URL}/{payment_request.public_id}/reconciliation.csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        f'attachment; filename="{payment_request.public_id}-reconciliation.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["row"], r["method"], r["amount"], r["fee"], r["net"]) for r in rows] == [
        ("leg", "holiday_voucher", "5000", "125", "4875"),
        ("leg", "card", "3000", "67", "2933"),
        ("method", "holiday_voucher", "5000", "125", "4875"),
        ("method", "card", "3000", "67", "2933"),
        ("total", "", "8000", "192", "7808"),
    ]


@pytest.mark.django_db
def test_a_client_that_accepts_only_csv_gets_it_and_errors_stay_json(
    merchant, rules, tokenise, api
):
    payment_request = combined_request(merchant, tokenise)

    response = api.get(
        f"{URL}/{payment_request.public_id}/reconciliation.csv", HTTP_ACCEPT="text/csv"
    )
    assert response.status_code == 200
    assert response.content.decode().startswith("row,request,reference,leg")

    missing = api.get(f"{URL}/pr_nope/reconciliation.csv", HTTP_ACCEPT="text/csv")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["reconciliation", "reconciliation.csv"])
def test_another_merchants_request_is_a_404(merchant, rules, tokenise, other_api, suffix):
    payment_request = combined_request(merchant, tokenise)

    response = other_api.get(f"{URL}/{payment_request.public_id}/{suffix}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["reconciliation", "reconciliation.csv"])
def test_a_live_key_does_not_see_a_test_requests_reconciliation(merchant, rules, tokenise, suffix):
    from rest_framework.test import APIClient

    from tests.factories import api_secret_for

    payment_request = combined_request(merchant, tokenise)
    live = APIClient()
    live.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant, mode='live')}")

    response = live.get(f"{URL}/{payment_request.public_id}/{suffix}")

    assert response.status_code == 404


# --- CSV injection ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["=1+1", "+33 6", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_a_formula_looking_text_cell_is_defused(text):
    assert services.csv_cell(text) == "'" + text


def test_numbers_and_plain_text_are_left_alone():
    assert services.csv_cell(-67) == -67
    assert services.csv_cell("REF-1") == "REF-1"
    assert services.csv_cell(None) == ""


@pytest.mark.django_db
def test_a_reference_that_looks_like_a_formula_is_escaped_in_both_csvs(
    merchant, rules, tokenise, api
):
    payment_request = combined_request(merchant, tokenise, reference="=HYPERLINK(1)")

    response = api.get(f"{URL}/{payment_request.public_id}/reconciliation.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {r["reference"] for r in rows} == {"'=HYPERLINK(1)"}

    today = datetime.now(UTC).astimezone(ZoneInfo(merchant.time_zone)).date()
    daily = services.daily_reconciliation_build(merchant=merchant, livemode=False, day=today)
    daily_rows = list(csv.DictReader(io.StringIO(daily.csv_text)))
    assert {r["reference"] for r in daily_rows} == {"'=HYPERLINK(1)"}


# --- Daily statements -------------------------------------------------------------------------

PAID_AT = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)  # 23:30 on 10 March in Paris


@pytest.mark.django_db
def test_the_daily_task_builds_yesterdays_csv_once_however_often_it_runs(merchant, rules, tokenise):
    with time_machine.travel(PAID_AT, tick=False):
        payment_request = combined_request(merchant, tokenise)
    with time_machine.travel(PAID_AT + timedelta(hours=2), tick=False):  # 01:30 on 11 March
        assert build_daily_reconciliations() == 1
        assert build_daily_reconciliations() == 1

    (daily,) = DailyReconciliation.objects.all()
    assert (daily.day.isoformat(), daily.livemode, daily.row_count) == ("2026-03-10", False, 2)
    rows = list(csv.DictReader(io.StringIO(daily.csv_text)))
    assert [(r["type"], r["method"], r["amount"], r["fee"], r["net"]) for r in rows] == [
        ("capture", "holiday_voucher", "5000", "125", "4875"),
        ("capture", "card", "3000", "67", "2933"),
    ]
    assert {r["request"] for r in rows} == {payment_request.public_id}
    assert rows[0]["at"].startswith("2026-03-10T23:30")


@pytest.mark.django_db
def test_a_refund_is_a_negative_row_of_the_day_it_happened(merchant, rules, tokenise):
    with time_machine.travel(PAID_AT, tick=False):
        payment_request = combined_request(merchant, tokenise)
    with time_machine.travel(PAID_AT + timedelta(days=1), tick=False):
        services.payment_request_refund(payment_request=payment_request)
    day = PAID_AT.date() + timedelta(days=1)  # 23:30 on 11 March in Paris

    daily = services.daily_reconciliation_build(merchant=merchant, livemode=False, day=day)

    rows = list(csv.DictReader(io.StringIO(daily.csv_text)))
    assert sorted((r["type"], r["method"], r["amount"], r["net"]) for r in rows) == [
        ("refund", "card", "-3000", "-3000"),
        ("refund", "holiday_voucher", "-5000", "-5000"),
    ]


@pytest.mark.django_db
def test_the_daily_csv_keeps_merchants_and_modes_apart(
    merchant, other_merchant, rules, tokenise, client
):
    from tests.factories import MembershipFactory

    with time_machine.travel(PAID_AT, tick=False):
        combined_request(merchant, tokenise)
    day = PAID_AT.date()
    ours = services.daily_reconciliation_build(merchant=merchant, livemode=False, day=day)
    theirs = services.daily_reconciliation_build(merchant=other_merchant, livemode=False, day=day)
    live = services.daily_reconciliation_build(merchant=merchant, livemode=True, day=day)
    assert (ours.row_count, theirs.row_count, live.row_count) == (2, 0, 0)

    client.force_login(MembershipFactory(merchant=merchant, role="viewer").user)
    page = client.get("/app/reconciliations/")
    assert page.status_code == 200
    assert ours.public_id in page.content.decode()
    assert live.public_id not in page.content.decode()
    download = client.get(f"/app/reconciliations/{ours.public_id}/download.csv")
    assert download.status_code == 200
    assert download["Content-Disposition"] == (
        'attachment; filename="reconciliation-2026-03-10-test.csv"'
    )
    assert download.content.decode() == ours.csv_text
    assert client.get(f"/app/reconciliations/{theirs.public_id}/download.csv").status_code == 404
    assert client.get(f"/app/reconciliations/{live.public_id}/download.csv").status_code == 404


# --- Back office ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_back_office_page_shows_the_lines_and_links_the_csv(merchant, rules, tokenise, client):
    from tests.factories import MembershipFactory

    payment_request = combined_request(merchant, tokenise)
    client.force_login(MembershipFactory(merchant=merchant, role="viewer").user)

    detail = client.get(f"/app/requests/{payment_request.public_id}/").content.decode()
    assert f"/app/requests/{payment_request.public_id}/reconciliation/" in detail
    page = client.get(f"/app/requests/{payment_request.public_id}/reconciliation/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Holiday vouchers" in html and "€50.00" in html and "€30.00" in html
    assert "€78.08" in html  # net
    assert f"/app/requests/{payment_request.public_id}/reconciliation.csv" in html
    csv_response = client.get(f"/app/requests/{payment_request.public_id}/reconciliation.csv")
    assert csv_response.status_code == 200
    assert "holiday_voucher" in csv_response.content.decode()


@pytest.mark.django_db
def test_the_back_office_page_of_another_merchant_is_a_404(
    merchant, other_merchant, rules, tokenise, client
):
    from tests.factories import MembershipFactory

    payment_request = combined_request(merchant, tokenise)
    client.force_login(MembershipFactory(merchant=other_merchant).user)
    assert (
        client.get(f"/app/requests/{payment_request.public_id}/reconciliation/").status_code == 404
    )
    assert (
        client.get(f"/app/requests/{payment_request.public_id}/reconciliation.csv").status_code
        == 404
    )


@pytest.mark.django_db
def test_a_statement_that_fails_never_undoes_the_payment_and_is_caught_up_later(
    merchant, rules, tokenise, monkeypatch
):
    from payments.services import reconciliation

    def broken(**kwargs):
        raise RuntimeError("statement store down")

    monkeypatch.setattr(reconciliation, "reconciliation_statement", broken)
    payment_request = combined_request(merchant, tokenise)  # paid all the same
    assert not Reconciliation.objects.exists()
    monkeypatch.undo()

    build_daily_reconciliations()
    build_daily_reconciliations()

    (statement,) = Reconciliation.objects.filter(request=payment_request)
    assert statement.totals["net"] == 7808
    assert ready_events(payment_request).count() == 1


@pytest.mark.django_db
def test_the_pages_and_the_api_read_in_as_many_queries_for_one_leg_as_for_six(
    merchant, rules, tokenise, client, api
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import MembershipFactory

    def paid_by_cards(count):
        payment_request = make_request(
            merchant, total_amount=1000 * count, participants=participants(count, amount=1000)
        )
        for participant in payment_request.participants.all():
            services.checkout_start(participant=participant, method="card", source=tokenise())
        return payment_request.public_id

    small, large = paid_by_cards(1), paid_by_cards(6)
    client.force_login(MembershipFactory(merchant=merchant).user)
    for url in (
        "/app/requests/{}/reconciliation/",
        "/app/requests/{}/reconciliation.csv",
        "/api/v1/payment-requests/{}/reconciliation",
    ):
        caller = api if url.startswith("/api/") else client
        caller.get(url.format(small))  # the session's first write is not the page's
        counts = []
        for public_id in (small, large):
            with CaptureQueriesContext(connection) as queries:
                assert caller.get(url.format(public_id)).status_code == 200
            counts.append(len(queries))
        assert counts[0] == counts[1], (url, counts)


def _chargeback(leg, status, fee=None, reference="dis_1"):
    from payments.services.disputes import dispute_record

    return dispute_record(
        provider="sandbox",
        provider_reference=reference,
        leg=leg,
        amount=1000,
        currency=leg.currency,
        reason="fraudulent",
        status=status,
        evidence_due_by=None,
        fee=fee,
    )


@pytest.mark.django_db
def test_a_chargeback_makes_a_new_version_and_its_close_another_the_lost_amount_off_the_net(
    merchant, rules, tokenise, client
):
    from tests.factories import MembershipFactory

    payment_request = combined_request(merchant, tokenise)
    card = Leg.objects.get(checkout__request=payment_request, method="card")
    first = Reconciliation.objects.get(request=payment_request)

    _chargeback(card, "needs_response", fee=1500)
    _chargeback(card, "under_review", fee=1500)  # moved on: the statement says so
    _chargeback(card, "lost", fee=1500)
    _chargeback(card, "lost", fee=1500)  # the same state again: nothing new

    versions = list(Reconciliation.objects.filter(request=payment_request).order_by("version"))
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert [v.disputes[0]["status"] for v in versions[1:]] == [
        "needs_response",
        "under_review",
        "lost",
    ]
    latest = versions[-1]
    assert latest.lines == first.lines  # the legs' lines are as they were
    assert (latest.totals["disputed_lost"], latest.totals["dispute_fees"]) == (1000, 1500)
    assert latest.totals["net"] == first.totals["net"] - 1000 - 1500
    assert len(ready_events(payment_request)) == 4

    client.force_login(MembershipFactory(merchant=merchant, role="viewer").user)
    html = client.get(f"/app/requests/{payment_request.public_id}/reconciliation/").content
    html = html.decode()
    assert 'data-testid="reconciliation-disputes"' in html and "dis_1" in html
    assert "€15.00" in html and "-€25.00" in html  # the dispute fee, and its net
    csv_text = client.get(f"/app/requests/{payment_request.public_id}/reconciliation.csv")
    rows = list(csv.DictReader(io.StringIO(csv_text.content.decode())))
    (dispute_row,) = [r for r in rows if r["row"] == "dispute"]
    assert (dispute_row["amount"], dispute_row["fee"], dispute_row["net"]) == (
        "1000",
        "1500",
        "-2500",
    )
    nets = sum(int(r["net"]) for r in rows if r["row"] in ("method", "dispute"))
    assert nets == int(rows[-1]["net"])


@pytest.mark.django_db
def test_a_statement_without_disputes_is_unchanged_and_not_rewritten_by_the_catch_up(
    merchant, rules, tokenise
):
    payment_request = combined_request(merchant, tokenise)
    latest = Reconciliation.objects.get(request=payment_request)

    assert latest.disputes == []
    assert "disputed_lost" not in latest.totals
    assert services.reconciliations_catch_up() == 0


@pytest.mark.django_db
def test_a_dispute_the_catch_up_finds_unstated_gets_its_version(merchant, rules, tokenise):
    payment_request = combined_request(merchant, tokenise)
    card = Leg.objects.get(checkout__request=payment_request, method="card")
    _chargeback(card, "needs_response")
    # As if the reaction had failed: the dispute's version is missing.
    Reconciliation.objects.filter(request=payment_request, version=2).delete()

    assert services.reconciliations_catch_up() == 1
    latest = Reconciliation.objects.filter(request=payment_request).order_by("-version").first()
    assert latest.disputes[0]["fee"] is None and latest.disputes[0]["net"] == 0
