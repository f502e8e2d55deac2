"""A payer holding cashback sees their wallet and its balance, spends it with "Use my balance"
and pays the rest by card, in French at 360 px."""

import re

import pytest
from playwright.sync_api import expect

from payments import services as payment_services
from payments.wallet import services as wallet_services
from requests_app.services import ParticipantData
from tests.e2e.test_payer_journey import fill_card
from tests.factories import make_request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_cashback_wallet_and_card_in_french_at_360px(
    page, live_server, merchant, screenshot, axe_check
):
    payment_services.payment_method_enable(merchant=merchant, method="wallet")
    pr = make_request(
        merchant,
        total_amount=4000,
        participants=[
            ParticipantData(name="Zoé", email="zoe@example.com", amount=4000, language="fr")
        ],
    )
    payer = pr.participants.get()
    wallet = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email="zoe@example.com"
    )
    wallet_services.wallet_credit(wallet=wallet, amount=1500, reason="Bienvenue")

    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    expect(page.get_by_test_id("held-balance-wallet")).to_have_text("Votre solde : 15,00\xa0€.")
    page.get_by_label("Cagnotte cashback", exact=True).check()
    page.get_by_role("button", name="Utiliser mon solde").click()
    expect(page.get_by_label(re.compile("^Montant payé par Cagnotte cashback"))).to_have_value(
        "15,00"
    )
    page.get_by_label("Carte", exact=True).check()
    expect(page.get_by_label(re.compile("^Montant payé par Carte"))).to_have_value("25,00")
    fill_card(page, "4242 4242 4242 4242")
    screenshot("payer-wallet-fr-360")
    axe_check()
    page.get_by_role("button", name=re.compile("^Payer 40,00")).click()

    expect(page.get_by_role("heading", name="Paiement reçu")).to_be_visible()
    axe_check()
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 4000)
    assert wallet_services.wallet_spendable(wallet=wallet) == 0
