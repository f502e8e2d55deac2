"""The request API's ``installments`` settings: offered on the request or per participant,
checked with the schedule's own rules against each share, stored, and read back with the
payer's plan and its installments."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payments import services as payment_services
from payments.installments import services as plan_services
from payments.installments.offers import installment_offer_parse
from pushpay.errors import InvalidInput
from requests_app.models import Participant, PaymentRequest
from tests.payments.conftest import SUCCEEDS

URL = "/api/v1/payment-requests"
BATCH = "/api/v1/payment-requests/batch"


def in_days(days: int) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


def body(future, **overrides) -> dict:
    data = {
        "reference": "INST-1",
        "currency": "EUR",
        "total_amount": 90000,
        "participants": [
            {"name": "Ann", "email": "ann@example.com", "amount": 60000},
            {"name": "Ben", "email": "ben@example.com", "amount": 30000},
        ],
        "deadline": future(30),
        "expires_at": future(60),
    }
    data.update(overrides)
    return data


def error_of(response) -> dict:
    return response.json()["error"]


OFFER = {"count": 3, "interval_unit": "month", "fee_amount": 300}


@pytest.mark.django_db
def test_a_request_offer_is_stored_and_every_participant_is_offered_it(api, future):
    response = api.post(URL, body(future, installments=OFFER), format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    stored = {
        "count": 3,
        "interval_unit": "month",
        "interval_count": 1,
        "start_date": None,
        "deposit_amount": 0,
        "deposit_date": None,
        "fee_amount": 300,
        "pay_at_once_allowed": True,
    }
    assert data["installments"] == stored
    assert [p["installments"] for p in data["participants"]] == [stored, stored]
    assert [p["installment_plan"] for p in data["participants"]] == [None, None]
    assert PaymentRequest.objects.get().installments == stored
    assert set(Participant.objects.values_list("installments", flat=True)) == {None}
    again = api.get(f"{URL}/{data['id']}").json()
    assert again["participants"][1]["installments"] == stored


@pytest.mark.django_db
def test_a_participants_own_offer_wins_over_the_requests(api, future):
    participants = body(future)["participants"]
    participants[1]["installments"] = {
        "count": 2,
        "interval_unit": "week",
        "deposit_amount": 10000,
        "start_date": in_days(10),
        "pay_at_once_allowed": False,
    }
    response = api.post(
        URL, body(future, installments=OFFER, participants=participants), format="json"
    )

    assert response.status_code == 201, response.content
    ann, ben = response.json()["participants"]
    assert ann["installments"]["count"] == 3
    assert ben["installments"]["count"] == 2
    assert ben["installments"]["start_date"] == in_days(10)
    assert ben["installments"]["pay_at_once_allowed"] is False
    assert Participant.objects.get(name="Ann").installments is None


@pytest.mark.parametrize(
    ("settings", "status", "code", "field"),
    [
        ({"count": 1, "interval_unit": "month"}, 422, "out_of_range", "count"),
        ({"count": 13, "interval_unit": "month"}, 422, "out_of_range", "count"),
        ({"count": 10**20, "interval_unit": "month"}, 422, "out_of_range", "count"),
        ({"count": "3", "interval_unit": "month"}, 422, "invalid_integer", "count"),
        ({"count": 3.0, "interval_unit": "month"}, 422, "invalid_integer", "count"),
        ({"count": 3, "interval_unit": "year"}, 422, "invalid_choice", "interval_unit"),
        ({"interval_unit": "month"}, 422, "required", "count"),
        ({"count": 3}, 422, "required", "interval_unit"),
        (
            {"count": 3, "interval_unit": "day", "interval_count": 91},
            422,
            "out_of_range",
            "interval_count",
        ),
        (
            {"count": 3, "interval_unit": "month", "deposit_amount": 30000},
            422,
            "out_of_range",
            "deposit_amount",
        ),
        (
            {"count": 3, "interval_unit": "month", "fee_amount": 30001},
            422,
            "out_of_range",
            "fee_amount",
        ),
        (
            {"count": 3, "interval_unit": "month", "start_date": "2001-01-01"},
            422,
            "date_in_past",
            "start_date",
        ),
        (
            {"count": 3, "interval_unit": "month", "start_date": "31/01/2030"},
            422,
            "invalid_date",
            "start_date",
        ),
        (
            {"count": 3, "interval_unit": "month", "deposit_date": in_days(3)},
            422,
            "deposit_date_without_deposit",
            "deposit_date",
        ),
        (
            {
                "count": 3,
                "interval_unit": "month",
                "deposit_amount": 100,
                "deposit_date": in_days(5),
                "start_date": in_days(5),
            },
            422,
            "start_before_deposit",
            "start_date",
        ),
        (
            {"count": 3, "interval_unit": "month", "pay_at_once_allowed": "yes"},
            422,
            "invalid_boolean",
            "pay_at_once_allowed",
        ),
        ({"count": 3, "interval_unit": "month", "colour": "red"}, 400, "unknown_field", "colour"),
    ],
)
@pytest.mark.django_db
def test_bad_settings_of_a_participant_are_refused_with_their_path(
    api, future, settings, status, code, field
):
    participants = body(future)["participants"]
    participants[1]["installments"] = settings

    response = api.post(URL, body(future, participants=participants), format="json")

    assert response.status_code == status, response.content
    assert (error_of(response)["code"], error_of(response)["field"]) == (
        code,
        f"participants[1].installments.{field}",
    )
    assert not PaymentRequest.objects.exists()


@pytest.mark.django_db
def test_settings_that_are_not_an_object_are_a_malformed_body(api, future):
    response = api.post(URL, body(future, installments=[3, "month"]), format="json")
    assert response.status_code == 400, response.content
    assert (error_of(response)["code"], error_of(response)["field"]) == (
        "not_an_object",
        "installments",
    )


@pytest.mark.django_db
def test_a_request_offer_is_checked_against_each_share_it_spreads(api, future):
    participants = [
        {"name": "Ann", "email": "ann@example.com", "amount": 5000},
        {"name": "Ben", "email": "ben@example.com", "amount": 2},
    ]
    response = api.post(
        URL,
        body(
            future,
            total_amount=5002,
            participants=participants,
            installments={"count": 3, "interval_unit": "month"},
        ),
        format="json",
    )
    assert response.status_code == 422, response.content
    error = error_of(response)
    assert (error["code"], error["field"]) == ("installment_too_small", "installments.count")
    assert "participants[1]" in error["message"]


@pytest.mark.django_db
def test_a_free_amount_request_cannot_offer_installments(api, future):
    free = body(
        future,
        amount_mode="free",
        total_amount=None,
        participants=[{"name": "Ann", "email": "ann@example.com"}],
    )
    response = api.post(URL, {**free, "installments": OFFER}, format="json")
    assert response.status_code == 422, response.content
    assert (error_of(response)["code"], error_of(response)["field"]) == (
        "installments_need_a_share",
        "installments",
    )
    free["participants"][0]["installments"] = OFFER
    response = api.post(URL, free, format="json")
    assert (error_of(response)["code"], error_of(response)["field"]) == (
        "installments_need_a_share",
        "participants[0].installments",
    )


@pytest.mark.django_db
def test_installments_need_the_card_among_the_allowed_methods(api, merchant, future):
    payment_services.payment_method_enable(merchant=merchant, method="paypal")
    response = api.post(
        URL,
        body(future, installments=OFFER, allowed_payment_methods=["paypal"]),
        format="json",
    )
    assert response.status_code == 422, response.content
    assert (error_of(response)["code"], error_of(response)["field"]) == (
        "installments_need_card",
        "installments",
    )
    ok = api.post(
        URL,
        body(future, installments=OFFER, allowed_payment_methods=["card", "paypal"]),
        format="json",
    )
    assert ok.status_code == 201, ok.content


@pytest.mark.django_db
def test_the_request_shows_each_payers_plan_with_its_installments(api, other_api, future, tokenise):
    created = api.post(URL, body(future, installments=OFFER), format="json").json()
    ann = Participant.objects.get(public_id=created["participants"][0]["id"])
    plan = plan_services.installment_plan_start(
        participant=ann, source=tokenise(SUCCEEDS), **_settings(OFFER)
    )

    data = api.get(f"{URL}/{created['id']}").json()

    shown = data["participants"][0]["installment_plan"]
    assert (shown["id"], shown["status"], shown["amount"], shown["fee_amount"]) == (
        plan.public_id,
        "active",
        60300,
        300,
    )
    assert [(i["amount"], i["status"]) for i in shown["installments"]] == [
        (20300, "paid"),
        (20000, "scheduled"),
        (20000, "scheduled"),
    ]
    assert data["participants"][1]["installment_plan"] is None
    assert other_api.get(f"{URL}/{created['id']}").status_code == 404
    listed = api.get(URL).json()["results"][0]["participants"][0]["installment_plan"]
    assert listed["id"] == plan.public_id


def _settings(offer: dict) -> dict:
    return {k: v for k, v in offer.items() if k != "pay_at_once_allowed"}


@pytest.mark.django_db
def test_reading_many_payers_plans_costs_no_query_per_payer(api, future, tokenise):
    def read_with(count: int) -> int:
        participants = [
            {"name": f"P{i}", "email": f"p{i}@example.com", "amount": 3000} for i in range(count)
        ]
        created = api.post(
            URL,
            body(
                future,
                reference=f"Q-{count}",
                total_amount=3000 * count,
                participants=participants,
                installments=OFFER,
            ),
            format="json",
        ).json()
        for row in Participant.objects.filter(request__public_id=created["id"]):
            plan_services.installment_plan_start(
                participant=row, source=tokenise(SUCCEEDS), **_settings(OFFER)
            )
        with CaptureQueriesContext(connection) as queries:
            assert api.get(f"{URL}/{created['id']}").status_code == 200
        return len(queries)

    assert read_with(1) == read_with(4)


@pytest.mark.django_db
def test_an_added_participant_may_carry_their_own_offer(api, future):
    created = api.post(URL, body(future), format="json").json()
    added = api.post(
        f"{URL}/{created['id']}/participants",
        {"name": "Cleo", "email": "cleo@example.com", "amount": 9000, "installments": OFFER},
        format="json",
    )
    assert added.status_code == 201, added.content
    assert added.json()["installments"]["count"] == 3
    bad = api.post(
        f"{URL}/{created['id']}/participants",
        {
            "name": "Dan",
            "email": "dan@example.com",
            "amount": 9000,
            "installments": {"count": 99, "interval_unit": "month"},
        },
        format="json",
    )
    assert bad.status_code == 422, bad.content
    assert error_of(bad)["field"] == "installments.count"
    assert not Participant.objects.filter(name="Dan").exists()


@pytest.mark.django_db
def test_a_batch_item_with_bad_settings_is_refused_alone(api, future):
    good = body(future, reference="B-1", installments=OFFER)
    bad = body(future, reference="B-2", installments={"count": 3, "interval_unit": "fortnight"})
    response = api.post(BATCH, {"requests": [good, bad]}, format="json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert results[0]["status"] == "created"
    assert results[0]["request"]["installments"]["count"] == 3
    assert (results[1]["error"]["code"], results[1]["error"]["field"]) == (
        "invalid_choice",
        "installments.interval_unit",
    )


def test_the_parser_is_one_function_other_apis_call_with_a_dict():
    from datetime import date

    stored = installment_offer_parse(
        {"count": 2, "interval_unit": "week", "deposit_amount": 500, "pay_at_once_allowed": False},
        amount=3000,
        currency="EUR",
        today=date(2030, 1, 10),
    )
    assert stored["deposit_amount"] == 500 and stored["pay_at_once_allowed"] is False
    assert (
        installment_offer_parse(None, amount=3000, currency="EUR", today=date(2030, 1, 10)) is None
    )
    with pytest.raises(InvalidInput) as exc:
        installment_offer_parse(
            {"count": 2, "interval_unit": "week"},
            amount=3000,
            currency="EURO",
            today=date(2030, 1, 10),
            field="plan",
        )
    assert exc.value.field == "plan"  # the currency is the caller's, not one of the settings


@pytest.mark.django_db
def test_a_request_with_a_smart_form_cannot_offer_installments(api, merchant, future):
    from smartforms.services import form_create

    form = form_create(
        merchant=merchant,
        name="Notes",
        fields=[{"key": "note", "type": "text", "label": {"en": "Note"}, "required": False}],
    )
    response = api.post(URL, body(future, installments=OFFER, form=form.public_id), format="json")
    assert response.status_code == 422, response.content
    assert (error_of(response)["code"], error_of(response)["field"]) == (
        "installments_with_form",
        "installments",
    )
    assert not PaymentRequest.objects.exists()
    created = api.post(URL, body(future, form=form.public_id), format="json").json()
    added = api.post(
        f"{URL}/{created['id']}/participants",
        {"name": "Cleo", "email": "cleo@example.com", "amount": 9000, "installments": OFFER},
        format="json",
    )
    assert added.status_code == 422, added.content
    assert error_of(added)["code"] == "installments_with_form"
    assert not Participant.objects.filter(name="Cleo").exists()
