"""3-D Secure through the sandbox challenge page, driven like a payer's browser."""

import pytest

from payments.adapters.base import FailureReason, PaymentStatus
from payments.models import SandboxLedgerEntry
from payments.sandbox.selectors import sandbox_card_balance

from .conftest import CHALLENGE

pytestmark = pytest.mark.django_db

RETURN_URL = "http://testserver/pay/abc/return/?step=2"


@pytest.fixture
def challenged(card, tokenise):
    token = tokenise(CHALLENGE)
    result = card.authorise(
        amount=4200, currency="EUR", source=token, idempotency_key="leg-1", return_url=RETURN_URL
    )
    assert result.status == PaymentStatus.REQUIRES_ACTION
    return token, result


def test_the_challenge_page_shows_the_amount_and_both_buttons(client, challenged):
    _, result = challenged

    page = client.get(result.action_url)

    assert page.status_code == 200
    html = page.content.decode()
    assert "€42.00" in html
    assert 'value="approve"' in html and ">Approve<" in html
    assert 'value="refuse"' in html and ">Refuse<" in html
    assert "4000000000003220" not in html


def test_approving_holds_the_money_and_sends_the_payer_back(client, card, challenged):
    token, result = challenged

    response = client.post(result.action_url, {"decision": "approve"})

    assert response.status_code == 302
    assert response["Location"] == f"{RETURN_URL}&reference={result.provider_reference}"
    assert card.retrieve(reference=result.provider_reference).status == PaymentStatus.AUTHORISED
    assert sandbox_card_balance(token=token).held == 4200


def test_refusing_fails_the_authorisation_and_holds_nothing(client, card, challenged):
    token, result = challenged

    response = client.post(result.action_url, {"decision": "refuse"})

    assert response.status_code == 302
    retrieved = card.retrieve(reference=result.provider_reference)
    assert retrieved.status == PaymentStatus.FAILED
    assert retrieved.failure_reason == FailureReason.AUTHENTICATION_FAILED
    assert sandbox_card_balance(token=token).held == 0


def test_a_second_answer_does_not_flip_the_first(client, card, challenged):
    _, result = challenged
    client.post(result.action_url, {"decision": "approve"})

    client.post(result.action_url, {"decision": "refuse"})

    assert card.retrieve(reference=result.provider_reference).status == PaymentStatus.AUTHORISED
    assert SandboxLedgerEntry.objects.filter(kind="hold").count() == 1
    assert "finished" in client.get(result.action_url).content.decode()


def test_the_challenge_page_needs_a_csrf_token_to_approve(challenged):
    from django.test import Client

    _, result = challenged
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(result.action_url, {"decision": "approve"})

    assert response.status_code == 403


def test_an_unknown_decision_is_refused_and_changes_nothing(client, card, challenged):
    _, result = challenged

    response = client.post(result.action_url, {"decision": "maybe"})

    assert response.status_code == 400
    status = card.retrieve(reference=result.provider_reference).status
    assert status == PaymentStatus.REQUIRES_ACTION


def test_an_unknown_challenge_is_a_404(client):
    assert client.get("/sandbox/3ds/auth_doesnotexist/").status_code == 404


def test_voiding_an_unanswered_challenge_cancels_it_and_the_page_no_longer_offers_approval(
    client, card, challenged
):
    token, result = challenged

    voided = card.void(reference=result.provider_reference, idempotency_key="leg-1-void")
    client.post(result.action_url, {"decision": "approve"})

    assert (voided.status, voided.amount) == (PaymentStatus.CANCELLED, 0)
    assert card.retrieve(reference=result.provider_reference).status == PaymentStatus.CANCELLED
    assert sandbox_card_balance(token=token).held == 0


def test_without_a_return_url_the_payer_stays_on_a_finished_page(client, card, tokenise):
    result = card.authorise(
        amount=100, currency="EUR", source=tokenise(CHALLENGE), idempotency_key="k"
    )

    response = client.post(result.action_url, {"decision": "approve"})

    assert response.status_code == 200
    assert "You can close this page" in response.content.decode()


def test_the_challenge_page_reads_the_database_once(client, challenged, django_assert_num_queries):
    _, result = challenged

    with django_assert_num_queries(1):
        assert client.get(result.action_url).status_code == 200
