"""Idempotency-Key on POST: replay, mismatch, and concurrent first requests."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from merchants.models import IdempotencyRecord
from requests_app.models import PaymentRequest
from tests.factories import api_secret_for

URL = "/api/v1/payment-requests"


def body(future, reference="IDEM-1", total=1000):
    return {
        "reference": reference,
        "currency": "EUR",
        "total_amount": total,
        "participants": [{"name": "Ann", "email": "ann@example.com", "amount": total}],
        "deadline": future(3),
    }


@pytest.mark.django_db
def test_the_same_key_and_body_replays_the_first_response(api, future):
    payload = body(future)
    first = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert PaymentRequest.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused(api, future):
    api.post(URL, body(future), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    response = api.post(URL, body(future, total=2000), format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert response.json()["error"]["field"] == "Idempotency-Key"
    assert PaymentRequest.objects.get().total_amount == 1000


@pytest.mark.django_db
def test_the_same_key_on_another_endpoint_is_refused(api, future):
    created = api.post(URL, body(future), format="json", HTTP_IDEMPOTENCY_KEY="k-3").json()
    response = api.post(
        f"{URL}/{created['id']}/cancel", {}, format="json", HTTP_IDEMPOTENCY_KEY="k-3"
    )
    assert response.status_code == 422
    assert PaymentRequest.objects.get().status == "open"


@pytest.mark.django_db
def test_a_validation_error_is_replayed_too(api, future):
    bad = body(future, total=-1)
    first = api.post(URL, bad, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    second = api.post(URL, bad, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    assert first.status_code == second.status_code == 422
    assert second.headers.get("Idempotent-Replayed") == "true"


@pytest.mark.django_db
def test_keys_are_per_merchant(api, other_api, future):
    mine = api.post(URL, body(future), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    theirs = other_api.post(URL, body(future), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "clé"])
def test_a_malformed_key_is_refused(api, future, key):
    response = api.post(URL, body(future), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert PaymentRequest.objects.count() == 0


@pytest.mark.django_db
def test_an_expired_key_can_be_used_again(api, future, settings):
    api.post(URL, body(future), format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyRecord.objects.update(created_at="2000-01-01T00:00:00Z")

    response = api.post(
        URL, body(future, reference="IDEM-2"), format="json", HTTP_IDEMPOTENCY_KEY="old"
    )

    assert response.status_code == 201
    assert PaymentRequest.objects.count() == 2


@pytest.mark.django_db
def test_the_purge_task_removes_only_expired_keys(api, future):
    from merchants.tasks import purge_idempotency_keys

    api.post(URL, body(future), format="json", HTTP_IDEMPOTENCY_KEY="fresh")
    api.post(URL, body(future, reference="IDEM-2"), format="json", HTTP_IDEMPOTENCY_KEY="stale")
    IdempotencyRecord.objects.filter(key="stale").update(created_at="2000-01-01T00:00:00Z")

    assert purge_idempotency_keys() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_with_one_key_create_one_request(postgres_only, merchant, future):
    secret = api_secret_for(merchant)
    barrier = threading.Barrier(2)
    payload = body(future)
    responses = []

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        barrier.wait()
        try:
            responses.append(client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert PaymentRequest.objects.count() == 1
    assert sorted(r.status_code for r in responses) == [201, 201]
    assert responses[0].json()["id"] == responses[1].json()["id"]


@pytest.mark.django_db
def test_an_expired_key_reused_with_another_body_is_a_new_request(api, future):
    api.post(URL, body(future), format="json", HTTP_IDEMPOTENCY_KEY="old-2")
    IdempotencyRecord.objects.update(created_at="2000-01-01T00:00:00Z")

    response = api.post(
        URL,
        body(future, reference="IDEM-3", total=2500),
        format="json",
        HTTP_IDEMPOTENCY_KEY="old-2",
    )

    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert IdempotencyRecord.objects.get(key="old-2").response_body["total_amount"] == 2500


@pytest.mark.django_db
def test_a_key_in_use_is_not_deleted_by_a_second_claim(api, future):
    payload = body(future)
    first = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="live-1").json()

    again = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="live-1")

    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first
    assert IdempotencyRecord.objects.filter(key="live-1").count() == 1
