"""Test mode and live mode: a public test card never settles a live request.

The attack these tests replay: with production settings and a merchant's live key, tokenise
the documented test card 4242 4242 4242 4242 exactly as the payer page's script does, then
pay a live share with it.
"""

import dataclasses
from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from rest_framework.test import APIClient

from payments import registry
from payments.adapters.sandbox_card import SandboxCardAdapter
from payments.models import Checkout, Leg
from payments.registry import PaymentMethod, adapter_for
from payments.sandbox.models import SandboxAuthorisation
from pushpay.errors import InvalidInput
from requests_app.models import PaymentRequest
from tests.factories import api_secret_for, make_request
from tests.payments.conftest import SUCCEEDS, card_details

pytestmark = pytest.mark.django_db


def client_with(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def request_body(reference: str = "DINNER-1") -> dict:
    return {
        "reference": reference,
        "currency": "EUR",
        "total_amount": 3000,
        "split": "equal",
        "participants": [{"name": "Ann", "email": "ann@example.com"}],
        "deadline": (timezone.now() + timedelta(days=7)).isoformat(),
    }


def tokenise_like_the_page_script(client) -> str:
    """What static/payments/sandbox-tokenize.js does: a JSON POST to /sandbox/tokens."""
    response = client.post(
        "/sandbox/tokens", card_details(SUCCEEDS), content_type="application/json"
    )
    assert response.status_code == 201
    return response.json()["token"]


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]
    return settings


def test_a_live_key_cannot_create_a_request_no_live_provider_can_pay(merchant, production):
    live = client_with(api_secret_for(merchant, mode="live"))

    response = live.post("/api/v1/payment-requests", request_body(), format="json")

    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (
        "payment_methods_unavailable",
        "allowed_payment_methods",
    )
    assert "card" in error["message"]
    assert not PaymentRequest.objects.exists()


def test_the_test_card_leaves_a_live_share_unpaid_and_creates_no_leg(
    client, merchant, production, live_cards
):
    live = client_with(api_secret_for(merchant, mode="live"))
    created = live.post("/api/v1/payment-requests", request_body(), format="json")
    assert created.status_code == 201, created.content
    assert created.json()["livemode"] is True
    share = created.json()["participants"][0]
    token = tokenise_like_the_page_script(client)

    response = client.post(
        share["payment_url"].removeprefix("http://testserver"), {"card_token": token}
    )

    assert response.status_code == 422
    assert "Test cards cannot pay this request" in response.content.decode()
    assert not Leg.objects.exists() and not Checkout.objects.exists()
    assert live_cards.calls == []  # the live acquirer was never asked
    assert not SandboxAuthorisation.objects.exists()
    payment_request = live.get(f"/api/v1/payment-requests/{created.json()['id']}").json()
    assert (payment_request["amount_collected"], payment_request["status"]) == (0, "open")
    assert payment_request["participants"][0]["status"] == "pending"


def test_the_same_card_with_a_test_key_pays_a_test_request(client, merchant, production):
    test = client_with(api_secret_for(merchant, mode="test"))
    created = test.post("/api/v1/payment-requests", request_body(), format="json").json()
    assert created["livemode"] is False
    token = tokenise_like_the_page_script(client)

    response = client.post(
        created["participants"][0]["payment_url"].removeprefix("http://testserver"),
        {"card_token": token},
    )

    assert response.status_code == 302 and "/receipt/co_" in response.url
    after = test.get(f"/api/v1/payment-requests/{created['id']}").json()
    assert (after["amount_collected"], after["status"]) == (3000, "paid")
    assert Leg.objects.get().livemode is False


def test_a_live_request_without_a_live_card_provider_offers_no_card_form(client, merchant):
    # A live request made while a provider was configured, which has since gone away.
    payment_request = make_request(merchant)
    PaymentRequest.objects.filter(pk=payment_request.pk).update(livemode=True)
    payment_request.participants.update(livemode=True)
    payer = payment_request.participants.first()

    page = client.get(f"/pay/{payer.link_token}/").content.decode()
    refused = client.post(f"/pay/{payer.link_token}/", {"card_token": "tok_anything"})

    assert "This payment method is not available" in page
    assert "sandbox-tokenize.js" not in page and "card_token" not in page
    assert "Test mode" not in page
    assert refused.status_code == 422
    assert "This payment method is not available" in refused.content.decode()
    assert not Leg.objects.exists()


def test_a_live_page_never_loads_the_sandbox_tokeniser(client, merchant, live_cards):
    live = client_with(api_secret_for(merchant, mode="live"))
    share = live.post("/api/v1/payment-requests", request_body(), format="json").json()[
        "participants"
    ][0]

    page = client.get(share["payment_url"].removeprefix("http://testserver")).content.decode()

    assert "data-live-acquirer-token" in page
    assert "sandbox-tokenize.js" not in page and "sandbox-card-number" not in page
    assert 'data-testid="test-mode-banner"' not in page


def test_a_real_token_on_a_live_request_reaches_the_live_provider_only(
    client, merchant, live_cards
):
    live = client_with(api_secret_for(merchant, mode="live"))
    share = live.post("/api/v1/payment-requests", request_body(), format="json").json()[
        "participants"
    ][0]

    response = client.post(
        share["payment_url"].removeprefix("http://testserver"), {"card_token": "tok_live_real"}
    )

    assert response.status_code == 302
    assert [operation for operation, _ in live_cards.calls] == ["authorise", "capture"]
    leg = Leg.objects.get()
    assert (leg.livemode, leg.checkout.livemode, leg.status) == (True, True, "captured")
    assert not SandboxAuthorisation.objects.exists()


@pytest.mark.parametrize(("language", "banner"), [("en", "Test mode"), ("fr", "Mode test")])
def test_a_test_request_page_says_no_real_money_moves(client, merchant, language, banner):
    payer = make_request(merchant).participants.first()

    page = client.get(f"/pay/{payer.link_token}/?lang={language}").content.decode()

    assert 'data-testid="test-mode-banner"' in page
    assert banner in page
    expected = "no real money moves" if language == "en" else "aucun argent réel"
    assert expected in page


def test_a_sandbox_can_never_be_registered_for_live_mode():
    with pytest.raises(ValueError, match="sandbox"):
        PaymentMethod(
            code="x",
            label="X",
            adapter_class=SandboxCardAdapter,
            live_adapter_class=SandboxCardAdapter,
        )


def test_a_sandbox_adapter_refuses_to_be_bound_to_live_mode(merchant):
    with pytest.raises(ImproperlyConfigured):
        SandboxCardAdapter(merchant=merchant, livemode=True)


def test_live_mode_never_falls_back_to_the_sandbox(merchant):
    assert isinstance(
        adapter_for(merchant=merchant, method="card", livemode=False), SandboxCardAdapter
    )
    with pytest.raises(InvalidInput) as refused:
        adapter_for(merchant=merchant, method="card", livemode=True)
    assert refused.value.code == "payment_method_unavailable"


def test_start_up_checks_report_a_registry_where_live_mode_reaches_a_sandbox(monkeypatch):
    assert not [e for e in run_checks() if e.id == "payments.E001"]
    tampered = dataclasses.replace(registry._methods["card"])
    object.__setattr__(tampered, "live_adapter_class", SandboxCardAdapter)  # bypass the guard
    monkeypatch.setitem(registry._methods, "card", tampered)

    errors = [e for e in run_checks() if e.id == "payments.E001"]

    assert len(errors) == 1 and "card" in errors[0].msg
    merchant_free = type("M", (), {"pk": 1})()
    with pytest.raises(ImproperlyConfigured):
        adapter_for(merchant=merchant_free, method="card", livemode=True)


def test_jobs_skip_a_live_hold_whose_provider_went_away_and_go_on(merchant, live_cards, client):
    from payments import services as payment_services

    soon = timezone.now() + timedelta(days=3)
    held = {"capture_mode": "on_completion", "deadline": soon, "expires_at": soon}
    payment_request = make_request(merchant, livemode=True, **held)
    payer = payment_request.participants.first()
    assert client.post(f"/pay/{payer.link_token}/", {"card_token": "tok_live_real"}).status_code
    assert Checkout.objects.get().status == "authorised"
    registry._methods["card"] = dataclasses.replace(
        registry._methods["card"], live_adapter_class=None
    )
    test_request = make_request(merchant, **held)
    token = tokenise_like_the_page_script(client)
    client.post(f"/pay/{test_request.participants.first().link_token}/", {"card_token": token})

    released = payment_services.checkouts_release(payment_request=payment_request, reason="x")
    released_test = payment_services.checkouts_release(payment_request=test_request, reason="x")

    assert (released, released_test) == (0, 1)  # the live hold waits, the test one goes
    assert Checkout.objects.get(request=payment_request).status == "authorised"
