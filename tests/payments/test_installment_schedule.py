"""Installment schedules sum exactly, follow CentralPay's rule for the fee and the rounding
remainder, clamp month ends, and are previewed by the API without creating anything."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.installments.schedule import add_interval, schedule_build
from pushpay.errors import InvalidInput

TODAY = date(2026, 12, 1)
URL = "/api/v1/installment-plans/preview"


def build(**overrides):
    kwargs = {
        "amount": 100000,
        "currency": "EUR",
        "count": 3,
        "interval_unit": "month",
        "today": TODAY,
    }
    kwargs.update(overrides)
    return schedule_build(**kwargs)


def test_centralpay_s_example():
    schedule = build(deposit_amount=20000, fee_amount=1000)
    assert schedule.deposit.amount == 20000
    assert [line.amount for line in schedule.installments] == [27668, 26666, 26666]
    assert schedule.total == 101000


def test_month_steps_clamp_to_shorter_months_without_drifting():
    schedule = build(count=4, start_date=date(2027, 1, 31))
    assert [line.due_date for line in schedule.installments] == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
    ]
    assert add_interval(date(2028, 1, 31), "month", 1) == date(2028, 2, 29)  # leap year
    assert add_interval(date(2026, 11, 30), "month", 2) == date(2027, 1, 30)


def test_a_deposit_is_due_today_and_the_first_installment_one_interval_later():
    schedule = build(deposit_amount=5000, interval_unit="week", interval_count=2)
    assert schedule.deposit.due_date == TODAY
    assert [line.due_date for line in schedule.installments] == [
        date(2026, 12, 15),
        date(2026, 12, 29),
        date(2027, 1, 12),
    ]


def test_without_a_deposit_the_first_installment_is_due_at_once():
    schedule = build(interval_unit="day", interval_count=10)
    assert schedule.deposit is None
    assert schedule.installments[0].due_date == TODAY
    assert schedule.installments[1].due_date == date(2026, 12, 11)


@given(
    amount=st.integers(min_value=12, max_value=10**12),
    count=st.integers(min_value=2, max_value=12),
    deposit_share=st.floats(min_value=0, max_value=0.9),
    fee=st.integers(min_value=0, max_value=10**6),
    unit=st.sampled_from(["day", "week", "month"]),
)
def test_every_schedule_sums_exactly_to_amount_plus_fee(amount, count, deposit_share, fee, unit):
    deposit = int(amount * deposit_share)
    if amount - deposit < count:
        deposit = 0
    schedule = build(
        amount=amount,
        count=count,
        deposit_amount=deposit,
        fee_amount=min(fee, amount),
        interval_unit=unit,
    )
    assert schedule.total == amount + min(fee, amount)
    amounts = [line.amount for line in schedule.installments]
    assert len(amounts) == count
    assert all(a > 0 for a in amounts)
    # Every installment but the first is the same; the first carries fee and remainder.
    assert len(set(amounts[1:])) == 1
    assert 0 <= amounts[0] - amounts[1] - min(fee, amount) < count
    dates = [line.due_date for line in schedule.installments]
    assert dates == sorted(dates) and len(set(dates)) == count


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"count": 1}, "out_of_range"),
        ({"count": 13}, "out_of_range"),
        ({"count": True}, "invalid_integer"),
        ({"interval_unit": "year"}, "invalid_choice"),
        ({"interval_count": 0}, "out_of_range"),
        ({"interval_unit": "month", "interval_count": 13}, "out_of_range"),
        ({"deposit_amount": 100000}, "out_of_range"),
        ({"amount": 2, "count": 3}, "installment_too_small"),
        ({"amount": 0}, "out_of_range"),
        ({"amount": 10**14}, "out_of_range"),
        ({"currency": "XYZ"}, "unknown_currency"),
        ({"start_date": date(2026, 11, 30)}, "date_in_past"),
        ({"deposit_date": date(2026, 12, 5)}, "deposit_date_without_deposit"),
        (
            {"deposit_amount": 10, "deposit_date": date(2026, 12, 5), "start_date": TODAY},
            "start_before_deposit",
        ),
    ],
)
def test_impossible_plans_are_refused_with_the_field_at_fault(overrides, code):
    with pytest.raises(InvalidInput) as exc:
        build(**overrides)
    assert exc.value.code == code


@pytest.mark.django_db
def test_the_preview_endpoint_returns_the_exact_schedule(api, merchant):
    response = api.post(
        URL,
        {
            "amount": 100000,
            "currency": "EUR",
            "count": 3,
            "interval_unit": "month",
            "interval_count": 1,
            "start_date": "2030-01-31",
            "deposit_amount": 20000,
            "deposit_date": "2030-01-15",
            "fee_amount": 1000,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "deposit": {"due_date": "2030-01-15", "amount": 20000},
        "installments": [
            {"due_date": "2030-01-31", "amount": 27668},
            {"due_date": "2030-02-28", "amount": 26666},
            {"due_date": "2030-03-31", "amount": 26666},
        ],
        "total": 101000,
        "currency": "EUR",
        "fee_amount": 1000,
    }


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"amount": "1000", "currency": "EUR", "count": 3, "interval_unit": "month"}, 422, None),
        ({"amount": 1000, "currency": "EUR", "count": 3.0, "interval_unit": "month"}, 422, None),
        ({"amount": 1000, "currency": "EUR", "count": 3, "interval_unit": "x"}, 422, None),
        ({"amount": 1000, "currency": "EUR", "count": 3}, 422, "required"),
        (
            {"amount": 1000, "currency": "EUR", "count": 3, "interval_unit": "day", "x": 1},
            400,
            "unknown_field",
        ),
        (
            {
                "amount": 1000,
                "currency": "EUR",
                "count": 3,
                "interval_unit": "day",
                "start_date": "2020-01-01",
            },
            422,
            "date_in_past",
        ),
        ({"amount": 10**20, "currency": "EUR", "count": 3, "interval_unit": "day"}, 422, None),
        ([], 400, None),
    ],
)
@pytest.mark.django_db
def test_bad_previews_get_a_clear_error(api, body, status, code):
    response = api.post(URL, body, format="json")
    assert response.status_code == status, response.content
    error = response.json()["error"]
    if code:
        assert error["code"] == code


@pytest.mark.django_db
def test_the_preview_needs_a_key():
    from rest_framework.test import APIClient

    assert APIClient().post(URL, {}, format="json").status_code == 401


def test_a_deposit_date_in_the_past_is_named_as_the_deposit_date():
    with pytest.raises(InvalidInput) as exc:
        build(deposit_amount=10, deposit_date=date(2026, 11, 30))
    assert (exc.value.code, exc.value.field) == ("date_in_past", "deposit_date")
