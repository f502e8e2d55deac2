"""The wallets API: open, credit, adjust and read wallets with an API key, in the key's
mode, with the one error shape."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments.wallet import services as wallet_services
from payments.wallet.models import Wallet, WalletTransaction
from tests.factories import api_secret_for


def open_wallet(api, **body):
    response = api.post(
        "/api/v1/wallets", body or {"holder_email": "Ann@Example.com"}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def error(response, status):
    assert response.status_code == status, response.content
    return response.json()["error"]


@pytest.mark.django_db
def test_a_wallet_is_opened_credited_and_read_with_its_ledger(api, merchant):
    wallet = open_wallet(api)
    assert (wallet["holder_email"], wallet["balance"], wallet["held"], wallet["livemode"]) == (
        "ann@example.com",
        0,
        0,
        False,
    )
    expires = (timezone.now() + timedelta(days=30)).isoformat()

    credited = api.post(
        f"/api/v1/wallets/{wallet['id']}/credits",
        {"amount": 1500, "reason": "Welcome", "expires_at": expires},
        format="json",
    )
    assert credited.status_code == 201, credited.content
    adjusted = api.post(
        f"/api/v1/wallets/{wallet['id']}/adjustments",
        {"amount": -500, "reason": "Typo"},
        format="json",
    )
    assert adjusted.status_code == 201, adjusted.content

    body = api.get(f"/api/v1/wallets/{wallet['id']}").json()
    assert (body["balance"], body["held"], body["spendable"]) == (1000, 0, 1000)
    assert [(e["kind"], e["amount"]) for e in body["entries"]] == [
        ("adjustment", 500),
        ("credit", 1500),
    ]
    assert sorted(map(tuple, (p.values() for p in body["entries"][1]["postings"]))) == [
        ("available", 1500),
        ("goodwill", -1500),
    ]
    found = api.get("/api/v1/wallets", {"holder_email": "ANN@example.com "}).json()
    assert [w["id"] for w in found["results"]] == [wallet["id"]]
    assert api.get("/api/v1/wallets", {"holder_email": "bob@example.com"}).json()["results"] == []


@pytest.mark.django_db
def test_a_phone_holder_and_one_wallet_per_holder(api):
    wallet = open_wallet(api, holder_phone="+33 6 12 34 56 78")
    assert wallet["holder_phone"] == "+33612345678"
    again = api.post("/api/v1/wallets", {"holder_phone": "+33612345678"}, format="json")
    assert error(again, 409)["code"] == "wallet_exists"
    both = api.post(
        "/api/v1/wallets", {"holder_phone": "+33612345678", "holder_email": "a@b.fr"}, format="json"
    )
    assert error(both, 422)["code"] == "holder_required"
    assert error(api.post("/api/v1/wallets", {}, format="json"), 422)["code"] == "holder_required"
    bad = api.post("/api/v1/wallets", {"holder_phone": "0612"}, format="json")
    assert error(bad, 422)["code"] == "invalid_phone"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"amount": 10.5}, 422, "invalid_amount"),
        ({"amount": "10"}, 422, "invalid_amount"),
        ({"amount": 0}, 422, "amount_not_positive"),
        ({"amount": 100, "colour": "red"}, 400, "unknown_field"),
        ({"amount": 100, "expires_at": "2001-01-01T00:00:00Z"}, 422, "expires_in_past"),
        ({"amount": 100, "reason": "x" * 301}, 422, "max_length"),
        ([1, 2], 400, "not_an_object"),
    ],
)
def test_a_bad_credit_is_a_clear_error_and_moves_nothing(api, body, status, code):
    wallet = open_wallet(api)
    response = api.post(f"/api/v1/wallets/{wallet['id']}/credits", body, format="json")
    assert error(response, status)["code"] == code
    assert not WalletTransaction.objects.exists()


@pytest.mark.django_db
def test_removing_more_than_the_balance_is_refused(api):
    wallet = open_wallet(api)
    response = api.post(
        f"/api/v1/wallets/{wallet['id']}/adjustments", {"amount": -1, "reason": "x"}, format="json"
    )
    assert error(response, 409)["code"] == "insufficient_balance"
    missing = api.post(f"/api/v1/wallets/{wallet['id']}/adjustments", {"amount": 5}, format="json")
    assert error(missing, 422)["field"] == "reason"


@pytest.mark.django_db
def test_another_merchants_or_the_other_modes_wallet_is_a_404(api, other_api, merchant):
    wallet = open_wallet(api)
    live = wallet_services.wallet_create(merchant=merchant, livemode=True, holder_email="z@z.fr")
    assert error(other_api.get(f"/api/v1/wallets/{wallet['id']}"), 404)["code"] == "not_found"
    credit = other_api.post(
        f"/api/v1/wallets/{wallet['id']}/credits", {"amount": 100}, format="json"
    )
    assert error(credit, 404)["code"] == "not_found"
    assert error(api.get(f"/api/v1/wallets/{live.public_id}"), 404)["code"] == "not_found"
    assert other_api.get("/api/v1/wallets").json()["results"] == []
    assert not WalletTransaction.objects.exists()


@pytest.mark.django_db
def test_a_live_key_opens_a_live_wallet(merchant):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant, mode='live')}")
    body = open_wallet(client)
    assert body["livemode"] is True
    assert Wallet.objects.get(public_id=body["id"]).livemode is True


@pytest.mark.django_db
def test_a_credit_replayed_with_its_idempotency_key_credits_once(api):
    wallet = open_wallet(api)
    url = f"/api/v1/wallets/{wallet['id']}/credits"
    first = api.post(url, {"amount": 700}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    again = api.post(url, {"amount": 700}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.get(f"/api/v1/wallets/{wallet['id']}").json()["balance"] == 700


@pytest.mark.django_db
def test_the_list_reads_in_a_fixed_number_of_queries(api, merchant, django_assert_max_num_queries):
    for index in range(5):
        wallet = wallet_services.wallet_create(
            merchant=merchant, livemode=False, holder_email=f"h{index}@example.com"
        )
        wallet_services.wallet_credit(wallet=wallet, amount=100 + index)
    with django_assert_max_num_queries(8):
        body = api.get("/api/v1/wallets").json()
    assert sorted(w["spendable"] for w in body["results"]) == [100, 101, 102, 103, 104]
