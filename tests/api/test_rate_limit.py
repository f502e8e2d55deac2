"""Rate limits are per API key: past the limit a key gets 429 with Retry-After, in the one
error shape and as the schema documents it, while the merchant's other keys go on."""

import pytest
from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from merchants.models import IdempotencyRecord
from tests.factories import api_secret_for

URL = "/api/v1/payment-requests"


@pytest.fixture
def three_per_minute():
    cache.clear()
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = {**api_settings.DEFAULT_THROTTLE_RATES, "api_key": "3/min"}
    yield
    SimpleRateThrottle.THROTTLE_RATES = original
    cache.clear()


def client_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.mark.django_db
def test_the_fourth_call_in_a_minute_is_a_429_with_retry_after(api, three_per_minute):
    statuses = [api.get(URL).status_code for _ in range(3)]

    limited = api.get(URL)

    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert limited["Content-Type"] == "application/json"
    retry_after = int(limited["Retry-After"])
    assert 0 < retry_after <= 60
    error = limited.json()["error"]
    assert (error["type"], error["code"], error["field"]) == (
        "rate_limit_error",
        "rate_limited",
        None,
    )


@pytest.mark.django_db
def test_the_limit_counts_per_key_not_per_merchant_or_address(api, merchant, three_per_minute):
    for _ in range(4):
        api.get(URL)
    assert api.get(URL).status_code == 429

    other_key = client_for(api_secret_for(merchant))

    assert other_key.get(URL).status_code == 200


@pytest.mark.django_db
def test_a_throttled_post_creates_nothing_and_is_not_recorded_for_replay(
    api, three_per_minute, future
):
    for _ in range(3):
        api.get(URL)
    body = {
        "reference": "LIMITED-1",
        "currency": "EUR",
        "total_amount": 1000,
        "participants": [{"name": "A", "email": "a@example.com"}],
        "deadline": future(),
    }

    limited = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="limited-1")

    assert limited.status_code == 429
    assert not IdempotencyRecord.objects.filter(key="limited-1").exists()


@pytest.mark.django_db
def test_the_schema_documents_the_429_and_its_header_on_every_operation(client):
    document = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    operations = [
        (path, operation)
        for path, item in document["paths"].items()
        if path.startswith("/api/v1/")
        for operation in item.values()
        if isinstance(operation, dict) and "responses" in operation
    ]
    assert operations
    for path, operation in operations:
        assert operation["responses"]["429"] == {"$ref": "#/components/responses/Error429"}, path
    header = document["components"]["responses"]["Error429"]["headers"]["Retry-After"]
    assert header["required"] is True
