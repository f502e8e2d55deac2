"""The combined checkout in a real browser, on a phone-sized screen: holiday vouchers plus a
card for one share, "Use my balance", and a declined card releasing the vouchers."""

import re

import pytest
from playwright.sync_api import expect

from payments import services as payment_services
from payments.sandbox import vouchers
from requests_app.services import ParticipantData
from tests.e2e.test_payer_journey import card_debits, fill_card
from tests.factories import make_request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FIFTY = "1000000050"
PHONE = {"width": 360, "height": 800}


def share(merchant, language):
    payment_services.payment_method_enable(merchant=merchant, method="holiday_voucher")
    payment_services.payment_method_enable(merchant=merchant, method="paypal")
    pr = make_request(
        merchant,
        description="Séjour au ski",
        total_amount=8000,
        participants=[
            ParticipantData(name="Zoé", email="zoe@example.com", amount=8000, language=language)
        ],
    )
    return pr.participants.get()


def voucher_state(merchant):
    return vouchers.voucher_balance(merchant=merchant, number=FIFTY)


def no_horizontal_scroll(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide"


def test_vouchers_and_a_card_pay_an_80_share_in_french_at_360px(
    page, live_server, merchant, screenshot, axe_check
):
    payer = share(merchant, "fr")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    left = page.get_by_test_id("left-to-pay")
    expect(left).to_contain_text("Reste à payer")
    expect(left).to_contain_text("80,00")
    pay = page.get_by_role("button", name=re.compile("^Payer 80,00"))
    expect(pay).to_be_disabled()
    screenshot("payer-combined-fr-360")
    axe_check()
    no_horizontal_scroll(page)

    page.get_by_label("Chèques-Vacances", exact=True).check()
    page.get_by_label("Numéro de bénéficiaire").fill(FIFTY)
    page.get_by_role("button", name="Utiliser mon solde").click()
    voucher_amount = page.get_by_label(re.compile("^Montant payé par Chèques-Vacances"))
    expect(voucher_amount).to_have_value("50,00")
    expect(left).to_contain_text("30,00")
    page.get_by_label("Carte", exact=True).check()
    expect(page.get_by_label(re.compile("^Montant payé par Carte"))).to_have_value("30,00")
    expect(left).to_contain_text("0,00")
    fill_card(page, "4242 4242 4242 4242")
    expect(pay).to_be_enabled()
    screenshot("payer-combined-fr-360-filled")
    axe_check()
    no_horizontal_scroll(page)
    pay.click()

    expect(page.get_by_role("heading", name="Paiement reçu")).to_be_visible()
    expect(page.get_by_test_id("receipt-amount")).to_have_text("80,00\xa0€")
    expect(page.get_by_test_id("receipt-leg")).to_have_count(2)
    screenshot("payer-combined-receipt-fr-360")
    axe_check()
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 8000)
    assert voucher_state(merchant).spent == 5000
    assert card_debits(payer) == 3000


def test_vouchers_and_a_declined_card_show_the_error_and_release_the_vouchers(
    page, live_server, merchant, screenshot, axe_check
):
    payer = share(merchant, "en")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    screenshot("payer-combined-en-360")
    page.get_by_label("Holiday vouchers", exact=True).check()
    page.get_by_label("Beneficiary number").fill(FIFTY)
    page.get_by_role("button", name="Use my balance").click()
    expect(page.get_by_label(re.compile("^Amount paid with Holiday vouchers"))).to_have_value(
        "50.00"
    )
    expect(page.get_by_test_id("left-to-pay")).to_contain_text("€30.00")
    page.get_by_label("Card", exact=True).check()
    fill_card(page, "4000 0000 0000 0002")
    page.get_by_role("button", name="Pay €80.00").click()

    error = page.get_by_test_id("payment-error")
    expect(error).to_contain_text("Your bank declined the payment")
    expect(error).to_contain_text("released")
    expect(error).to_contain_text("declined")
    screenshot("payer-combined-declined-en-360")
    axe_check()
    no_horizontal_scroll(page)
    state = voucher_state(merchant)
    assert (state.available, state.held, state.spent) == (5000, 0, 0)
    payer.refresh_from_db()
    assert payer.amount_paid == 0


def test_an_unknown_beneficiary_is_announced_in_french(
    page, live_server, merchant, screenshot, axe_check
):
    payer = share(merchant, "fr")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    page.get_by_label("Chèques-Vacances", exact=True).check()
    page.get_by_label("Numéro de bénéficiaire").fill("1234567890")
    page.get_by_role("button", name="Utiliser mon solde").click()
    alert = page.get_by_test_id("source-error-holiday_voucher")
    expect(alert).to_have_text("Aucun compte Chèques-Vacances ne porte ce numéro de bénéficiaire.")
    expect(alert).to_have_attribute("role", "alert")
    expect(page.get_by_label("Numéro de bénéficiaire")).to_have_attribute("aria-invalid", "true")
    screenshot("payer-combined-unknown-fr-360")
    axe_check()


def test_vouchers_then_paypal_go_to_paypal_and_back_and_cancel_releases_everything(
    page, live_server, merchant, screenshot, axe_check
):
    payer = share(merchant, "fr")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    page.get_by_label("Chèques-Vacances", exact=True).check()
    page.get_by_label("Numéro de bénéficiaire").fill(FIFTY)
    page.get_by_role("button", name="Utiliser mon solde").click()
    expect(page.get_by_test_id("left-to-pay")).to_contain_text("30,00")
    page.get_by_label("PayPal", exact=True).check()
    expect(page.get_by_label(re.compile("^Montant payé par PayPal"))).to_have_value("30,00")
    page.get_by_role("button", name=re.compile("^Payer 80,00")).click()

    # The card is not used: its tokeniser lets the form go, and the payer lands at PayPal.
    expect(page).to_have_url(re.compile("/sandbox/paypal/"))
    assert voucher_state(merchant).held == 5000
    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    waiting = page.get_by_test_id("waiting")
    expect(waiting).to_contain_text("Chèques-Vacances 50,00\xa0€ — réservé")
    expect(waiting).to_contain_text("PayPal 30,00\xa0€ — en attente de votre confirmation")
    screenshot("payer-combined-waiting-fr-360")
    axe_check()
    no_horizontal_scroll(page)
    page.get_by_role("button", name="Annuler ce paiement").click()

    expect(page.get_by_test_id("notice")).to_contain_text("Vous avez annulé ce paiement.")
    state = voucher_state(merchant)
    assert (state.available, state.held) == (5000, 0)
    axe_check()

    page.get_by_label("Chèques-Vacances", exact=True).check()
    page.get_by_label("Numéro de bénéficiaire").fill(FIFTY)
    page.get_by_role("button", name="Utiliser mon solde").click()
    expect(page.get_by_test_id("left-to-pay")).to_contain_text("30,00")
    page.get_by_label("PayPal", exact=True).check()
    page.get_by_role("button", name=re.compile("^Payer 80,00")).click()
    page.get_by_role("button", name="Approuver").click()
    expect(page.get_by_role("heading", name="Paiement reçu")).to_be_visible()
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 8000)
    assert voucher_state(merchant).spent == 5000
