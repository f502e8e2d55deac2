"""POST /api/v1/payment-requests/batch: each item created or refused on its own, in order."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from requests_app.models import PaymentRequest
from tests.factories import api_secret_for

URL = "/api/v1/payment-requests/batch"


def item(reference: str, **overrides) -> dict:
    data = {
        "reference": reference,
        "currency": "EUR",
        "total_amount": 1000,
        "participants": [{"name": "Ann", "email": "ann@example.com", "amount": 1000}],
    }
    data.update(overrides)
    return data


def post(api, items, **headers):
    return api.post(URL, {"requests": items}, format="json", **headers)


@pytest.mark.django_db
def test_a_batch_of_1000_creates_the_valid_items_and_explains_each_refusal(api):
    items = [item(f"B-{i}") for i in range(1000)]
    items[3] = item("B-3", currency="XXQ")
    items[10] = item("B-10", participants=[{"name": "Ann", "email": "not-an-email"}])
    items[500] = "not an object"
    items[999] = item("B-999", total_amount=2000)  # shares do not sum

    response = post(api, items)

    assert response.status_code == 200, response.content[:500]
    data = response.json()
    assert data["created"] == 996 and data["refused"] == 4
    assert [r["index"] for r in data["results"]] == list(range(1000))
    refused = {r["index"]: r["error"] for r in data["results"] if r["status"] == "refused"}
    assert set(refused) == {3, 10, 500, 999}
    assert refused[3]["code"] == "unknown_currency" and refused[3]["field"] == "currency"
    assert refused[10]["field"] == "participants[0].email"
    assert refused[500]["code"] == "not_an_object"
    assert refused[999]["code"] == "shares_do_not_sum_to_total"
    assert all(r["request"] is None for r in data["results"] if r["status"] == "refused")
    first = data["results"][0]
    assert first["status"] == "created" and first["error"] is None
    assert first["request"]["reference"] == "B-0" and first["request"]["id"].startswith("pr_")
    assert PaymentRequest.objects.count() == 996
    assert not PaymentRequest.objects.filter(reference__in=["B-3", "B-10", "B-999"]).exists()


@pytest.mark.django_db
def test_a_replay_with_the_same_key_returns_the_same_results_and_creates_nothing(api):
    items = [item("R-1"), item("R-2", currency="nope"), item("R-3")]
    first = post(api, items, HTTP_IDEMPOTENCY_KEY="batch-1")
    second = post(api, items, HTTP_IDEMPOTENCY_KEY="batch-1")

    assert first.status_code == second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert PaymentRequest.objects.count() == 2


@pytest.mark.django_db
def test_the_same_key_with_another_batch_is_refused(api):
    post(api, [item("K-1")], HTTP_IDEMPOTENCY_KEY="batch-2")
    response = post(api, [item("K-2")], HTTP_IDEMPOTENCY_KEY="batch-2")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert PaymentRequest.objects.count() == 1


@pytest.mark.django_db
def test_a_duplicate_reference_refuses_that_item_only(api):
    post(api, [item("D-0")])
    response = post(api, [item("D-1"), item("D-1"), item("D-0"), item("D-2")])

    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "refused", "refused", "created"]
    assert results[1]["error"]["code"] == "duplicate_reference"
    assert results[1]["error"]["type"] == "conflict_error"
    assert results[2]["error"]["code"] == "duplicate_reference"
    assert PaymentRequest.objects.filter(reference="D-1").count() == 1
    assert PaymentRequest.objects.count() == 3


@pytest.mark.django_db
def test_1001_items_are_refused_whole(api):
    response = post(api, [item(f"L-{i}") for i in range(1001)])
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "batch_too_large"
    assert response.json()["error"]["field"] == "requests"
    assert PaymentRequest.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"requests": []}, 422, "empty_batch"),
        ({}, 422, "required"),
        ([item("X")], 400, "not_an_object"),
        ({"requests": {"reference": "X"}}, 400, "not_a_list"),
        ({"requests": [item("X")], "extra": 1}, 400, "unknown_field"),
        ("just a string", 400, "not_an_object"),
    ],
)
def test_a_malformed_batch_is_refused_in_the_error_shape(api, body, status, code):
    response = api.post(URL, body, format="json")
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert PaymentRequest.objects.count() == 0


def _queries_for(api, n: int, prefix: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = post(api, [item(f"{prefix}-{i}") for i in range(n)])
    assert response.json()["created"] == n
    return len(queries)


@pytest.mark.django_db
def test_queries_per_item_are_constant(api):
    _queries_for(api, 1, "warm")  # the key's first use and caches are not per-item costs
    ten = _queries_for(api, 10, "Q10")
    twenty = _queries_for(api, 20, "Q20")
    hundred = _queries_for(api, 100, "Q100")

    per_item = (twenty - ten) / 10
    assert per_item <= 20
    assert hundred - twenty == per_item * 80


@pytest.mark.django_db
def test_created_requests_belong_to_the_keys_merchant_and_mode(api, merchant, other_api):
    response = post(api, [item("T-1"), item("T-2")])
    ids = [r["request"]["id"] for r in response.json()["results"]]
    assert all(r["request"]["livemode"] is False for r in response.json()["results"])
    assert set(PaymentRequest.objects.values_list("merchant", "livemode")) == {(merchant.pk, False)}
    for public_id in ids:
        assert other_api.get(f"/api/v1/payment-requests/{public_id}").status_code == 404
    live = APIClient()
    live.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant, mode='live')}")
    for public_id in ids:
        assert live.get(f"/api/v1/payment-requests/{public_id}").status_code == 404
    # The other merchant may reuse the same references: they are its own.
    assert post(other_api, [item("T-1")]).json()["created"] == 1


@pytest.mark.django_db
def test_batch_is_not_taken_for_a_request_id(api):
    assert api.get(URL).status_code == 405
