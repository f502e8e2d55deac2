"""Refunds as a list: every refund call of the merchant's legs in the key's mode, newest
first, filtered by request, whatever the provider answered."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payments import services
from payments.adapters.base import ProviderTimeout
from payments.adapters.sandbox_card import SandboxCardAdapter
from tests.payments.test_refunds import paid_request, refund

URL = "/api/v1/refunds"


@pytest.mark.django_db
def test_a_refund_of_a_request_lists_one_refund_per_leg(api, merchant, tokenise):
    payment_request, _ = paid_request(merchant, tokenise)
    assert refund(api, payment_request).status_code == 200

    body = api.get(URL, {"request": payment_request.public_id}).json()

    assert len(body["results"]) == 3 and body["next"] is None
    participants = {p.public_id for p in payment_request.participants.all()}
    assert {r["participant"] for r in body["results"]} == participants
    for item in body["results"]:
        assert item["object"] == "refund" and item["livemode"] is False
        assert item["request"] == payment_request.public_id
        assert (item["amount"], item["amount_refunded"]) == (1000, 1000)
        assert item["status"] == "succeeded"
        assert item["currency"] == "EUR" and item["method"] == "card"
        assert item["leg"].startswith("lg_") and item["checkout"].startswith("co_")
        assert item["provider_reference"]


@pytest.mark.django_db
def test_a_refund_without_an_answer_is_listed_as_such(api, merchant, tokenise, monkeypatch):
    payment_request, _ = paid_request(merchant, tokenise)

    def timeout(self, **kwargs):
        raise ProviderTimeout("no answer")

    monkeypatch.setattr(SandboxCardAdapter, "refund", timeout)
    refund(api, payment_request)

    statuses = [r["status"] for r in api.get(URL).json()["results"]]
    assert statuses and set(statuses) == {"no_answer"}


@pytest.mark.django_db
def test_the_filter_keeps_requests_apart_and_a_bad_one_is_a_400(api, merchant, tokenise):
    first, _ = paid_request(merchant, tokenise)
    second, _ = paid_request(merchant, tokenise)
    services.payment_request_refund(payment_request=first)

    assert len(api.get(URL).json()["results"]) == 3
    assert api.get(URL, {"request": second.public_id}).json()["results"] == []
    assert api.get(URL, {"request": "pr_nothing"}).json()["results"] == []
    refused = api.get(URL, {"request": "x" * 41})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_filter"


@pytest.mark.django_db
def test_another_merchants_and_the_other_modes_refunds_are_not_listed(
    api, other_api, merchant, tokenise, live_cards
):
    from rest_framework.test import APIClient

    from tests.factories import api_secret_for

    payment_request, _ = paid_request(merchant, tokenise)
    services.payment_request_refund(payment_request=payment_request)

    assert other_api.get(URL).json()["results"] == []
    assert other_api.get(URL, {"request": payment_request.public_id}).json()["results"] == []
    live = APIClient()
    live.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant, mode='live')}")
    assert live.get(URL).json()["results"] == []
    assert len(api.get(URL).json()["results"]) == 3


@pytest.mark.django_db
def test_listing_refunds_costs_the_same_queries_for_one_request_or_three(api, merchant, tokenise):
    first, _ = paid_request(merchant, tokenise)
    services.payment_request_refund(payment_request=first)
    api.get(URL)  # the key's last_used_at, once a minute
    with CaptureQueriesContext(connection) as few:
        api.get(URL)
    for _ in range(2):
        more, _ = paid_request(merchant, tokenise)
        services.payment_request_refund(payment_request=more)
    with CaptureQueriesContext(connection) as many:
        body = api.get(URL).json()

    assert len(body["results"]) == 9
    assert len(many) == len(few)
