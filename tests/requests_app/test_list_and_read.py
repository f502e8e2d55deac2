"""Listing with cursor pagination and filters; query counts that do not grow."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from requests_app.models import PaymentRequest
from tests.factories import make_request, participants

URL = "/api/v1/payment-requests"


@pytest.mark.django_db
def test_cursor_pagination_walks_every_request_once_newest_first(api, merchant):
    created = [make_request(merchant, reference=f"P-{i}").public_id for i in range(7)]

    seen, url = [], f"{URL}?limit=3"
    while url:
        page = api.get(url).json()
        assert set(page) == {"next", "previous", "results"}
        seen += [r["id"] for r in page["results"]]
        url = page["next"]

    assert seen == list(reversed(created))


@pytest.mark.django_db
def test_a_tampered_cursor_is_a_clear_400_naming_the_cursor(api, merchant):
    # Not a 404: the list exists, the query parameter is what is wrong.
    make_request(merchant)
    response = api.get(URL, {"cursor": "garbage"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"
    assert response.json()["error"]["field"] == "cursor"


@pytest.mark.django_db
def test_it_filters_by_status_reference_and_creation_date(api, merchant):
    open_one = make_request(merchant, reference="OPEN-1")
    cancelled = make_request(merchant, reference="GONE-1")
    from requests_app.services import payment_request_cancel

    payment_request_cancel(payment_request=cancelled)
    old = make_request(merchant, reference="OLD-1")
    PaymentRequest.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))

    def ids(**params):
        return {r["id"] for r in api.get(URL, params).json()["results"]}

    assert ids(status="cancelled") == {cancelled.public_id}
    assert ids(status=["open", "cancelled"]) == {
        open_one.public_id,
        cancelled.public_id,
        old.public_id,
    }
    assert ids(reference="OPEN-1") == {open_one.public_id}
    week_ago = (timezone.now() - timedelta(days=7)).isoformat()
    assert ids(created_before=week_ago) == {old.public_id}
    assert old.public_id not in ids(created_after=week_ago)


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{"status": "bogus"}, {"created_after": "not-a-date"}])
def test_a_bad_filter_is_a_400_naming_the_parameter(api, params):
    response = api.get(URL, params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_filter"
    assert error["field"] == next(iter(params))


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_requests_or_participants(api, merchant):
    make_request(
        merchant, reference="SMALL", total_amount=1000, participants=participants(1, amount=1000)
    )
    api.get(URL)  # warm up: the first call of a key records its last use
    with CaptureQueriesContext(connection) as small:
        assert api.get(URL).status_code == 200

    for i in range(5):
        make_request(
            merchant,
            reference=f"BIG-{i}",
            total_amount=20000,
            participants=participants(20, amount=1000),
        )
    with CaptureQueriesContext(connection) as big:
        assert len(api.get(URL).json()["results"]) == 6

    assert len(big) == len(small)


@pytest.mark.django_db
def test_create_query_count_does_not_grow_with_participants(api, future):
    def create(reference, n):
        people = [{"name": f"P{i}", "email": f"p{i}@example.com"} for i in range(n)]
        with CaptureQueriesContext(connection) as queries:
            response = api.post(
                URL,
                {
                    "reference": reference,
                    "currency": "EUR",
                    "total_amount": 100 * n,
                    "split": "equal",
                    "participants": people,
                },
                format="json",
            )
        assert response.status_code == 201, response.content
        return len(queries)

    api.get(URL)  # warm up: the first call of a key records its last use
    assert create("ONE", 1) == create("FIFTY", 50)


@pytest.mark.django_db
def test_retrieve_returns_the_request_with_its_participants(api, merchant):
    pr = make_request(merchant)
    data = api.get(f"{URL}/{pr.public_id}").json()
    assert data["id"] == pr.public_id
    assert len(data["participants"]) == 3
    assert data["amount_remaining"] == 3000


@pytest.mark.django_db
def test_the_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    doc = schema.json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/payment-requests" in doc["paths"]
    assert "/api/v1/payment-requests/{public_id}/cancel" in doc["paths"]
    assert client.get("/api/v1/docs/").status_code == 200


@pytest.mark.django_db
def test_too_many_calls_are_throttled_with_a_429(api, settings):
    from django.core.cache import cache
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    cache.clear()
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "api_key": "3/min"}
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    try:
        statuses = [api.get(URL).status_code for _ in range(4)]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
        cache.clear()
    assert statuses == [200, 200, 200, 429]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value",
    ["2026-01-01T00:00:00-22:45", "2026-01-01T00:00:00+23:59", "0001-01-01T00:00:00+10:00"],
)
def test_a_date_filter_with_an_offset_the_database_refuses_is_a_clear_answer(api, value):
    response = api.get("/api/v1/payment-requests", {"created_after": value})
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "invalid_filter"
