"""Daily reconciliations over the API: the days the back office lists, in the key's mode,
newest day first, each with the CSV the back office downloads."""

from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payments import services
from tests.factories import api_secret_for
from tests.payments.test_reconciliation import PAID_AT, combined_request, rules  # noqa: F401

URL = "/api/v1/reconciliations"


@pytest.fixture
def days(merchant):
    first = date(2026, 3, 1)
    return [
        services.daily_reconciliation_build(
            merchant=merchant, livemode=False, day=first + timedelta(days=n)
        )
        for n in range(3)
    ]


@pytest.mark.django_db
def test_the_list_is_newest_day_first_without_the_csv_text(api, days):
    body = api.get(URL).json()

    assert [item["day"] for item in body["results"]] == ["2026-03-03", "2026-03-02", "2026-03-01"]
    first = body["results"][0]
    assert first["id"] == days[2].public_id and first["object"] == "daily_reconciliation"
    assert first["livemode"] is False and first["row_count"] == 0
    assert first["download"] == f"/api/v1/reconciliations/{days[2].public_id}/download"
    assert "csv_text" not in first


@pytest.mark.django_db
def test_the_list_pages_with_a_cursor(api, days):
    first = api.get(URL, {"limit": 2}).json()
    assert len(first["results"]) == 2 and first["next"]

    second = api.get(first["next"]).json()

    assert [item["day"] for item in second["results"]] == ["2026-03-01"]
    assert second["next"] is None


@pytest.mark.django_db
def test_listing_costs_the_same_queries_for_three_days_or_thirty(api, merchant, days):
    api.get(URL)  # the key's last_used_at is written once a minute, not per call
    with CaptureQueriesContext(connection) as few:
        api.get(URL)
    for n in range(3, 30):
        services.daily_reconciliation_build(
            merchant=merchant, livemode=False, day=date(2026, 3, 1) + timedelta(days=n)
        )
    with CaptureQueriesContext(connection) as many:
        api.get(URL)
    assert len(many) == len(few)


@pytest.mark.django_db
def test_an_unreadable_cursor_is_a_400_not_a_404(api, days):
    response = api.get(URL, {"cursor": "%%%not-a-cursor"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"
    assert response.json()["error"]["field"] == "cursor"


@pytest.mark.django_db
def test_the_download_is_the_days_csv(api, merchant, tokenise, rules):  # noqa: F811
    with time_machine.travel(PAID_AT, tick=False):
        combined_request(merchant, tokenise)
    daily = services.daily_reconciliation_build(
        merchant=merchant, livemode=False, day=PAID_AT.date()
    )

    one = api.get(f"{URL}/{daily.public_id}")
    download = api.get(f"{URL}/{daily.public_id}/download", HTTP_ACCEPT="text/csv")

    assert one.status_code == 200 and one.json()["row_count"] == 2
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"] == (
        'attachment; filename="reconciliation-2026-03-10-test.csv"'
    )
    assert download.content.decode() == daily.csv_text and daily.csv_text.count("\n") == 3


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "/download"])
def test_another_merchants_day_and_the_other_modes_are_404(api, merchant, other_merchant, suffix):
    day = date(2026, 3, 10)
    theirs = services.daily_reconciliation_build(merchant=other_merchant, livemode=False, day=day)
    live = services.daily_reconciliation_build(merchant=merchant, livemode=True, day=day)

    for daily in (theirs, live):
        response = api.get(f"{URL}/{daily.public_id}{suffix}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert api.get(URL).json()["results"] == []


@pytest.mark.django_db
def test_a_live_key_lists_the_live_days_only(merchant, days):
    from rest_framework.test import APIClient

    live_day = services.daily_reconciliation_build(
        merchant=merchant, livemode=True, day=date(2026, 3, 10)
    )
    live = APIClient()
    live.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant, mode='live')}")

    body = live.get(URL).json()

    assert [item["id"] for item in body["results"]] == [live_day.public_id]
    assert body["results"][0]["livemode"] is True
