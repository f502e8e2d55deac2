"""Issue 11, holds in collections: with capture on completion a successful hold is the
payer's success. They see that the amount is held, taken when the collection completes and
released otherwise — never "the payment did not go through" with the Pay button again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments.models import Checkout
from payments.sandbox.selectors import sandbox_card_balance
from requests_app.services import ParticipantData
from tests.factories import make_request
from tests.payments.conftest import CHALLENGE, DECLINED, SUCCEEDS

pytestmark = pytest.mark.django_db


def held_collection(merchant, language="en"):
    """Two payers of 10.00 whose shares are only captured once both are held."""
    soon = timezone.now() + timedelta(days=3)
    return make_request(
        merchant,
        capture_mode="on_completion",
        total_amount=2000,
        participants=[
            ParticipantData(name="Zoé", email="z@example.com", amount=1000, language=language),
            ParticipantData(name="Yann", email="y@example.com", amount=1000, language=language),
        ],
        deadline=soon,
        expires_at=soon,
    )


def url(participant):
    return f"/pay/{participant.link_token}/"


def hold(client, payer, token):
    response = client.post(url(payer), {"card_token": token})
    assert response.status_code == 302, response.content.decode()[:500]
    return response


def test_a_successful_hold_leads_to_the_held_page_in_french(client, merchant, tokenise):
    payer = held_collection(merchant, language="fr").participants.first()

    response = hold(client, payer, tokenise(SUCCEEDS))
    checkout = Checkout.objects.get()
    assert checkout.status == "authorised"
    assert response.url == f"/pay/{payer.link_token}/held/{checkout.public_id}/?lang=fr"
    page = client.get(response.url)

    html = page.content.decode()
    assert page.status_code == 200
    assert '<html lang="fr">' in html
    assert "Paiement réservé" in html and "10,00" in html
    assert "rien n'a encore été débité" in html
    assert "quand la collecte sera complète" in html and "la réservation est levée" in html
    assert "did not go through" not in html and "Le paiement n'a pas abouti" not in html
    assert 'data-testid="pay-button"' not in html and "card_token" not in html


def test_the_held_page_speaks_english_when_asked(client, merchant, tokenise):
    payer = held_collection(merchant, language="fr").participants.first()
    held_url = hold(client, payer, tokenise(SUCCEEDS)).url

    html = client.get(held_url.replace("lang=fr", "lang=en")).content.decode()

    assert '<html lang="en">' in html and "Payment held" in html and "€10.00" in html
    assert "nothing has been taken yet" in html
    assert "taken when the collection is complete" in html and "released" in html
    assert 'data-testid="pay-button"' not in html


def test_reopening_the_link_while_held_says_so_and_never_offers_to_pay_twice(
    client, merchant, tokenise
):
    payer = held_collection(merchant).participants.first()
    first_card = tokenise(SUCCEEDS)
    hold(client, payer, first_card)

    page = client.get(url(payer)).content.decode()
    second_card = tokenise("5555555555554444")
    again = client.post(url(payer), {"card_token": second_card})

    assert "€10.00 is held for this payment" in page and 'data-testid="state"' in page
    assert 'data-testid="pay-button"' not in page and "card_token" not in page
    assert again.status_code == 200 and "is held for this payment" in again.content.decode()
    assert Checkout.objects.count() == 1
    assert sandbox_card_balance(token=first_card).held == 1000
    assert sandbox_card_balance(token=second_card).held == 0


def test_once_the_collection_completes_the_held_page_leads_to_the_receipt(
    client, merchant, tokenise
):
    first, second = held_collection(merchant).participants.all()
    held_url = hold(client, first, tokenise(SUCCEEDS)).url
    completed = hold(client, second, tokenise("5555555555554444"))

    assert "/receipt/co_" in completed.url
    back = client.get(held_url)
    assert back.status_code == 302 and "/receipt/co_" in back.url
    assert "You have paid €10.00" in client.get(url(first)).content.decode()


def test_a_held_page_is_only_reachable_with_its_own_link(
    client, merchant, other_merchant, tokenise
):
    first, second = held_collection(merchant).participants.all()
    hold(client, first, tokenise(SUCCEEDS))
    checkout_id = Checkout.objects.get().public_id
    theirs = held_collection(other_merchant).participants.first()
    assert client.get(f"/pay/{first.link_token}/held/{checkout_id}/").status_code == 200

    for token, checkout in [
        (second.link_token, checkout_id),  # another payer of the same request
        (theirs.link_token, checkout_id),  # another merchant's payer
        ("not-a-token", checkout_id),
        (first.link_token, "co_nothing"),
        (first.link_token, "x" * 400),
    ]:
        assert client.get(f"/pay/{token}/held/{checkout}/").status_code == 404


@pytest.mark.parametrize("number", [DECLINED, CHALLENGE])
def test_a_checkout_that_is_not_held_has_no_held_page(client, merchant, tokenise, number):
    first, second = held_collection(merchant).participants.all()
    held_url = hold(client, first, tokenise(SUCCEEDS)).url
    client.post(url(second), {"card_token": tokenise(number)})
    checkout = Checkout.objects.get(participant=second)
    assert checkout.status in ("failed", "requires_action")

    response = client.get(f"/pay/{second.link_token}/held/{checkout.public_id}/")

    assert response.status_code == 404
    assert client.get(held_url).status_code == 200


def test_back_from_3d_secure_with_a_hold_the_payer_sees_the_held_page(client, merchant, tokenise):
    payer = held_collection(merchant, language="fr").participants.first()
    challenge = client.post(url(payer), {"card_token": tokenise(CHALLENGE)}).url

    back = client.post(challenge, {"decision": "approve"})
    response = client.get(back["Location"])

    assert Checkout.objects.get().status == "authorised"
    assert response.status_code == 302 and "/held/co_" in response.url
    assert "Paiement réservé" in client.get(response.url).content.decode()


def test_the_held_page_reads_the_database_a_fixed_number_of_times(
    client, merchant, tokenise, django_assert_num_queries
):
    payer = held_collection(merchant).participants.first()
    held_url = hold(client, payer, tokenise(SUCCEEDS)).url

    with django_assert_num_queries(3):  # the link's participant, the checkout, its leg
        assert client.get(held_url).status_code == 200
