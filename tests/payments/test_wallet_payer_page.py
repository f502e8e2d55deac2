"""The payer page offers the cashback wallet only to a payer who holds one with a balance,
and a wallet + card payment goes through the page."""

import pytest

from payments import services
from payments.wallet import services as wallet_services
from tests.factories import make_request, participants
from tests.payments.conftest import SUCCEEDS


@pytest.fixture
def payer(merchant):
    services.payment_method_enable(merchant=merchant, method="wallet")
    pr = make_request(merchant, total_amount=8000, participants=participants(2, amount=4000))
    return pr.participants.order_by("id").first()


def page(client, participant) -> str:
    return client.get(f"/pay/{participant.link_token}/?lang=fr").content.decode()


@pytest.mark.django_db
def test_only_a_payer_holding_a_balance_sees_the_wallet(client, merchant, payer):
    assert "Cagnotte cashback" not in page(client, payer)  # no wallet
    wallet = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email=payer.email
    )
    assert "Cagnotte cashback" not in page(client, payer)  # an empty one
    wallet_services.wallet_credit(wallet=wallet, amount=1500, reason="welcome")
    assert "Cagnotte cashback" in page(client, payer)
    assert "Votre solde : 15,00\xa0€." in page(client, payer)
    other = payer.request.participants.order_by("id").last()
    assert "Cagnotte cashback" not in page(client, other)  # not theirs


@pytest.mark.django_db
def test_wallet_and_card_pay_a_share_through_the_page(client, merchant, payer, tokenise):
    wallet = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email=payer.email
    )
    wallet_services.wallet_credit(wallet=wallet, amount=1500, reason="welcome")
    response = client.post(
        f"/pay/{payer.link_token}/",
        {
            "methods": ["wallet", "card"],
            "amount_wallet": "15,00",
            "amount_card": "25,00",
            "card_token": tokenise(SUCCEEDS),
            "lang": "fr",
        },
    )
    assert response.status_code == 302
    assert "/receipt/" in response["Location"]
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 4000)
    wallet.refresh_from_db()
    assert wallet_services.wallet_spendable(wallet=wallet) == 0
