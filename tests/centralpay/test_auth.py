"""HTTP Basic with our API keys; the key's mode applies; wrong credentials are a 401."""

import pytest
from django.test import Client

from merchants.services import api_key_create, api_key_revoke
from requests_app.models import PaymentRequest
from tests.factories import api_secret_for

from .conftest import CentralPayClient, basic, simple_fields

pytestmark = pytest.mark.django_db


def test_the_key_as_the_login_with_any_password(secret):
    for password in ("", "whatever", "%Fn9njixhz"):
        response = CentralPayClient(basic(secret, password)).form(
            "/paymentRequest", simple_fields(merchantPaymentRequestId=f"O-{password}")
        )
        assert response.status_code == 200, response.content
    assert PaymentRequest.objects.count() == 3


def test_the_merchant_login_with_the_key_as_the_password(merchant, secret):
    for login in (merchant.slug, merchant.public_id):
        response = CentralPayClient(basic(login, secret)).form(
            "/paymentRequest", simple_fields(merchantPaymentRequestId=f"O-{login}")
        )
        assert response.status_code == 200, response.content


def test_no_csrf_token_is_asked_of_an_api_client(secret):
    client = CentralPayClient(basic(secret))
    client.client = Client(enforce_csrf_checks=True)
    response = client.form("/paymentRequest", simple_fields())
    assert response.status_code == 200, response.content


def test_a_bearer_key_works_too(secret):
    response = CentralPayClient(f"Bearer {secret}").form("/paymentRequest", simple_fields())
    assert response.status_code == 200


def wrong(merchant, other_merchant):
    """Credentials that must all be refused the same way."""
    good = api_secret_for(merchant)
    return [
        basic("sk_test_" + "x" * 40, ""),
        basic("ff71e627-07d2-4a03", "%Fn9njixhz"),  # CentralPay credentials, left unchanged
        basic(other_merchant.slug, good),  # our key under someone else's login
        basic("someone", "sk_live_nope"),
        "Basic !!!not-base64!!!",
        "Basic " + "A" * 3000,
        "Basic",
        "Digest username=x",
        "Bearer sk_test_nope",
    ]


def test_wrong_credentials_are_a_401_in_the_error_shape(merchant, other_merchant):
    for authorization in wrong(merchant, other_merchant):
        client = CentralPayClient(authorization)
        for response in (
            client.form("/paymentRequest", simple_fields()),
            client.get("/paymentRequest/pr_x"),
        ):
            assert response.status_code == 401, (authorization, response.status_code)
            body = response.json()
            assert body["error"]["type"] == "authentication_error"
            assert body["errors"][0]["code"] == body["error"]["code"]
    assert PaymentRequest.objects.count() == 0


def test_no_credentials_are_a_401_asking_for_basic(client):
    response = client.post(
        "/v2/rest/paymentRequest", "totalAmount=1", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="centralpay"'


def test_a_revoked_key_is_a_401(merchant):
    key = api_key_create(merchant=merchant, mode="test")
    api_key_revoke(api_key=key.api_key)
    response = CentralPayClient(basic(key.secret)).form("/paymentRequest", simple_fields())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"


def test_the_keys_mode_applies(cp, live_cp, live_cards):
    live = live_cp.create(simple_fields(merchantPaymentRequestId="LIVE-1"))
    test = cp.create(simple_fields(merchantPaymentRequestId="TEST-1"))

    assert PaymentRequest.objects.get(public_id=live["paymentRequestId"]).livemode is True
    assert PaymentRequest.objects.get(public_id=test["paymentRequestId"]).livemode is False
    # Each mode is a wall: the other mode's request is not found.
    assert cp.get(f"/paymentRequest/{live['paymentRequestId']}").status_code == 404
    assert live_cp.get(f"/paymentRequest/{test['paymentRequestId']}").status_code == 404
