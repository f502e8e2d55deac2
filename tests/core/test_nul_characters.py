"""NUL characters anywhere in a request are a clear 400, never a database error."""

import pytest

from requests_app.models import PaymentRequest


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/payment-requests/pr_%00x",
        "/api/v1/scenarios/sc%00",
        "/api/v1/forms?cursor=%00",
        "/api/v1/payment-requests?reference=a%00b",
    ],
)
def test_a_nul_in_the_url_is_refused(api, url):
    response = api.get(url)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_characters"


@pytest.mark.django_db
def test_a_nul_in_a_payer_link_is_refused(client):
    assert client.get("/pay/abc%00def/").status_code == 400


@pytest.mark.django_db
def test_a_nul_inside_json_is_refused_and_nothing_is_created(api):
    body = {
        "reference": "A",
        "currency": "EUR",
        "total_amount": 100,
        "participants": [{"name": "a", "email": "a@example.com", "amount": 100}],
        "metadata": {"note": "a\u0000b"},
    }
    response = api.post("/api/v1/payment-requests", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert PaymentRequest.objects.count() == 0
