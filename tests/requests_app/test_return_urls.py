"""return_url and cancel_url: where the payer is sent after paying or on leaving."""

import pytest

from pushpay.errors import InvalidInput
from requests_app.models import PaymentRequest
from tests.factories import make_request
from tests.payments.conftest import SUCCEEDS

URL = "/api/v1/payment-requests"


def body(**overrides) -> dict:
    data = {
        "reference": "RU-1",
        "currency": "EUR",
        "total_amount": 1000,
        "participants": [{"name": "Ann", "email": "ann@example.com", "amount": 1000}],
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_https_urls_are_stored_and_returned(api):
    response = api.post(
        URL,
        body(return_url="https://shop.example/thanks?o=1", cancel_url="https://shop.example/cart"),
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["return_url"] == "https://shop.example/thanks?o=1"
    assert response.json()["cancel_url"] == "https://shop.example/cart"
    stored = PaymentRequest.objects.get()
    assert stored.return_url == "https://shop.example/thanks?o=1"
    detail = api.get(f"{URL}/{stored.public_id}").json()
    assert detail["cancel_url"] == "https://shop.example/cart"


@pytest.mark.django_db
def test_they_are_optional_and_empty_by_default(api):
    data = api.post(URL, body(), format="json").json()
    assert data["return_url"] == "" and data["cancel_url"] == ""


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["return_url", "cancel_url"])
@pytest.mark.parametrize(
    "url, code",
    [
        ("javascript:alert(1)", "invalid_url"),
        ("ftp://shop.example/file", "invalid_url"),
        ("http://shop.example/thanks", "invalid_url"),
        ("https://", "invalid_url"),
        ("https://shop.example/" + "a" * 600, "max_length"),
    ],
)
def test_bad_urls_are_refused_in_production(api, settings, field, url, code):
    settings.DEBUG = False
    response = api.post(URL, body(**{field: url}), format="json")
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["field"] == field
    assert PaymentRequest.objects.count() == 0


@pytest.mark.django_db
def test_plain_http_is_allowed_in_development_only(api, settings):
    settings.DEBUG = True
    response = api.post(URL, body(return_url="http://127.0.0.1:8000/back"), format="json")
    assert response.status_code == 201, response.content
    settings.DEBUG = False
    again = api.post(
        URL, body(reference="RU-2", cancel_url="http://127.0.0.1:8000/back"), format="json"
    )
    assert again.status_code == 422 and again.json()["error"]["code"] == "invalid_url"


@pytest.mark.django_db
def test_the_service_refuses_a_url_too_long_whoever_calls_it(merchant):
    with pytest.raises(InvalidInput) as refused:
        make_request(merchant, return_url="https://shop.example/" + "a" * 480)
    assert refused.value.code == "url_too_long" and refused.value.field == "return_url"


@pytest.mark.django_db
def test_a_batch_item_with_a_bad_url_is_refused_alone(api, settings):
    settings.DEBUG = False
    response = api.post(
        f"{URL}/batch",
        {"requests": [body(return_url="javascript:alert(1)"), body(reference="RU-9")]},
        format="json",
    )
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["refused", "created"]
    assert results[0]["error"]["field"] == "return_url"


@pytest.mark.django_db
def test_the_receipt_links_back_to_the_merchant_and_the_payer_page_to_cancel(
    client, merchant, tokenise
):
    pr = make_request(
        merchant,
        return_url="https://shop.example/thanks",
        cancel_url="https://shop.example/cart",
    )
    payer = pr.participants.first()
    page = client.get(f"/pay/{payer.link_token}/").content.decode()
    assert 'href="https://shop.example/cart"' in page
    assert f"Cancel and go back to {merchant.name}" in page

    response = client.post(f"/pay/{payer.link_token}/", {"card_token": tokenise(SUCCEEDS)})
    receipt = client.get(response.url).content.decode()
    assert 'href="https://shop.example/thanks"' in receipt
    assert f"Back to {merchant.name}" in receipt


@pytest.mark.django_db
def test_the_receipt_speaks_french_and_shows_no_link_without_a_return_url(
    client, merchant, tokenise
):
    pr = make_request(merchant, return_url="https://shop.example/merci", language="fr")
    payer = pr.participants.first()
    page = client.get(f"/pay/{payer.link_token}/").content.decode()
    assert 'data-testid="cancel-link"' not in page
    response = client.post(f"/pay/{payer.link_token}/", {"card_token": tokenise(SUCCEEDS)})
    receipt = client.get(response.url).content.decode()
    assert f"Retour à {merchant.name}" in receipt

    plain = make_request(merchant)
    other = plain.participants.first()
    response = client.post(f"/pay/{other.link_token}/", {"card_token": tokenise(SUCCEEDS)})
    assert 'data-testid="return-link"' not in client.get(response.url).content.decode()
