"""A payer approves or cancels a PayPal payment on the sandbox PayPal page, in a browser."""

import pytest
from playwright.sync_api import expect

from payments import services
from payments.sandbox.paypal_selectors import sandbox_paypal_balance
from requests_app.services import ParticipantData
from tests.factories import make_request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def paypal_checkout(merchant, live_server, language):
    """A share waiting at PayPal, started as the combined checkout will start it."""
    services.payment_method_enable(merchant=merchant, method="paypal")
    pr = make_request(
        merchant,
        total_amount=8000,
        participants=[
            ParticipantData(name="Zoé", email="zoe@example.com", amount=8000, language=language)
        ],
    )
    payer = pr.participants.get()
    checkout = services.checkout_start(
        participant=payer,
        method="paypal",
        source="paypal",
        return_url=lambda co: f"{live_server.url}/pay/{payer.link_token}/return/{co.public_id}/",
    )
    return payer, checkout.legs.get()


def test_a_french_payer_approves_at_paypal_on_a_small_screen_and_is_paid(
    page, live_server, merchant, screenshot, axe_check
):
    payer, leg = paypal_checkout(merchant, live_server, "fr")
    page.set_viewport_size({"width": 360, "height": 740})

    page.goto(f"{leg.action_url}?lang=fr")

    expect(page.get_by_role("heading", name="Payer avec PayPal")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_test_id("paypal-amount")).to_have_text("80,00\xa0€")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot("sandbox-paypal-fr-360")
    axe_check()
    page.get_by_role("button", name="Approuver").click()

    expect(page.get_by_role("heading", name="Paiement reçu")).to_be_visible()
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 8000)
    totals = sandbox_paypal_balance(merchant=merchant, references=[leg.provider_reference])
    assert (totals.held, totals.debited) == (0, 8000)


def test_a_payer_who_cancels_at_paypal_is_told_nothing_was_charged(
    page, live_server, merchant, screenshot, axe_check
):
    payer, leg = paypal_checkout(merchant, live_server, "en")

    page.goto(f"{leg.action_url}?lang=en")
    screenshot("sandbox-paypal-en")
    axe_check()
    page.get_by_role("button", name="Cancel").click()

    expect(page.get_by_test_id("payment-error")).to_contain_text("Nothing was charged")
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("failed", 0)
    totals = sandbox_paypal_balance(merchant=merchant, references=[leg.provider_reference])
    assert (totals.held, totals.debited) == (0, 0)
