"""The "New request" form offers installments through the same create service as the API:
the settings typed in major units reach ``installments``, and every refusal of the service
comes back at the form field it is about."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments import services as payment_services
from requests_app.models import PaymentRequest
from tests.requests_app.test_backoffice_actions import new_request_post, operator_client  # noqa: F401

pytestmark = pytest.mark.django_db
URL = "/app/requests/new/"


def plan_post(**overrides) -> dict:
    data = {
        "installments": "on",
        "installments_count": "3",
        "installments_interval_unit": "month",
        "installments_interval_count": "1",
        "installments_pay_at_once_allowed": "on",
    }
    data.update(overrides)
    return new_request_post(**data)


def test_a_ticked_plan_is_stored_as_every_payers_offer(operator_client):  # noqa: F811
    response = operator_client.post(
        URL,
        plan_post(
            installments_deposit_amount="5,00",
            installments_fee_amount="1.50",
            installments_interval_unit="week",
            installments_interval_count="2",
        ),
    )
    assert response.status_code == 302
    created = PaymentRequest.objects.get()
    expected = {
        "count": 3,
        "interval_unit": "week",
        "interval_count": 2,
        "start_date": None,
        "deposit_amount": 500,
        "deposit_date": None,
        "fee_amount": 150,
        "pay_at_once_allowed": True,
    }
    assert created.installments == expected
    assert [p.installment_offer for p in created.participants.all()] == [expected, expected]


def test_dates_and_plan_only_are_passed_on(operator_client):  # noqa: F811
    start = timezone.localdate() + timedelta(days=40)
    deposit = timezone.localdate() + timedelta(days=10)
    response = operator_client.post(
        URL,
        plan_post(
            installments_pay_at_once_allowed="",
            installments_start_date=start.isoformat(),
            installments_deposit_amount="5",
            installments_deposit_date=deposit.isoformat(),
        ),
    )
    assert response.status_code == 302
    offer = PaymentRequest.objects.get().participants.first().installment_offer
    assert offer["start_date"] == start.isoformat()
    assert offer["deposit_date"] == deposit.isoformat()
    assert offer["pay_at_once_allowed"] is False


@pytest.mark.parametrize(
    ("overrides", "field", "code_text"),
    [
        ({"installments_count": "13"}, "installments_count", None),
        ({"installments_count": "1"}, "installments_count", None),
        ({"installments_count": ""}, "installments_count", "count is required."),
        (
            {"installments_interval_count": "91", "installments_interval_unit": "day"},
            "installments_interval_count",
            None,
        ),
        ({"installments_deposit_amount": "50"}, "installments_deposit_amount", None),
        (
            {"installments_deposit_date": (timezone.localdate() + timedelta(days=3)).isoformat()},
            "installments_deposit_date",
            "A deposit date needs a deposit amount.",
        ),
        ({"installments_start_date": "2020-01-01"}, "installments_start_date", None),
        ({"installments_fee_amount": "12,5x"}, "installments_fee_amount", None),
        ({"installments_interval_unit": "year"}, "installments_interval_unit", None),
    ],
)
def test_a_refused_setting_shows_at_its_field_and_creates_nothing(
    operator_client,  # noqa: F811
    overrides,
    field,
    code_text,
):
    response = operator_client.post(URL, plan_post(**overrides))
    assert response.status_code == 422
    form = response.context["form"]
    assert form.errors.get(field), form.errors
    if code_text:
        assert form.errors[field][0].startswith(code_text)
    assert 'aria-invalid="true"' in response.content.decode()
    assert not PaymentRequest.objects.exists()


def test_a_plan_on_free_amounts_is_refused_at_the_checkbox(operator_client):  # noqa: F811
    response = operator_client.post(URL, plan_post(amount_mode="free", total_amount=""))
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "free-amount" in errors["installments"][0]
    assert not PaymentRequest.objects.exists()


def test_a_plan_without_card_is_refused_at_the_checkbox(operator_client, merchant):  # noqa: F811
    payment_services.payment_method_enable(merchant=merchant, method="paypal")
    response = operator_client.post(URL, plan_post(allowed_payment_methods="paypal"))
    assert response.status_code == 422
    assert response.context["form"].errors.get("installments")
    assert not PaymentRequest.objects.exists()


def test_unticked_creates_no_offer_whatever_the_settings_say(operator_client):  # noqa: F811
    response = operator_client.post(
        URL, plan_post(installments="", installments_count="99", installments_fee_amount="zz")
    )
    assert response.status_code == 302
    created = PaymentRequest.objects.get()
    assert created.installments is None
    assert all(p.installment_offer is None for p in created.participants.all())


def test_the_page_shows_the_settings_with_pay_at_once_ticked(operator_client):  # noqa: F811
    response = operator_client.get(URL)
    form = response.context["form"]
    assert form["installments_pay_at_once_allowed"].value() is True
    assert form["installments"].value() is not True
    assert 'name="installments_count"' in response.content.decode()
