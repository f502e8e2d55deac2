"""A payer pays with PayPal on (the local stand-in of) PayPal's approval page, in a browser,
under the production Content-Security-Policy: the pay form's redirect to PayPal must be
allowed, and the payer comes back paid (or cancelled, with nothing held)."""

import pytest
from playwright.sync_api import expect

from payments.models import Checkout, Leg
from requests_app.services import ParticipantData
from tests.factories import make_request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def paypal_payer(merchant):
    return make_request(
        merchant,
        total_amount=2500,
        allowed_payment_methods=["paypal"],
        participants=[ParticipantData(name="Zoé", email="zoe@example.com", amount=2500)],
    ).participants.get()


def test_a_payer_approves_at_paypal_and_comes_back_paid(
    page, live_server, merchant, settings, paypal_stub, paypal_test_account, screenshot
):
    settings.PAYPAL_CHECKOUT_ORIGINS = [paypal_stub.origin]
    payer = paypal_payer(merchant)

    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    page.get_by_test_id("pay-button").click()
    page.wait_for_url(f"{paypal_stub.base_url('sandbox')}/checkoutnow?token=**")
    expect(page.get_by_text("Amount: 25.00 EUR")).to_be_visible()
    screenshot("paypal-rest-approval")
    page.get_by_role("button", name="Approve").click()

    page.wait_for_url(f"{live_server.url}/pay/{payer.link_token}/receipt/**")
    screenshot("paypal-rest-receipt")
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 2500)
    leg = Leg.objects.get()
    assert (leg.provider, leg.status) == ("paypal", "captured")


def test_a_payer_who_cancels_at_paypal_is_back_on_the_pay_page_with_nothing_held(
    page, live_server, merchant, settings, paypal_stub, paypal_test_account
):
    settings.PAYPAL_CHECKOUT_ORIGINS = [paypal_stub.origin]
    payer = paypal_payer(merchant)

    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    page.get_by_test_id("pay-button").click()
    page.wait_for_url(f"{paypal_stub.base_url('sandbox')}/checkoutnow?token=**")
    page.get_by_role("button", name="Cancel").click()

    page.wait_for_url(f"{live_server.url}/pay/{payer.link_token}/?**")
    assert Checkout.objects.get().status == Checkout.Status.CANCELLED
    assert not paypal_stub.calls("POST", "/authorize")
    expect(page.get_by_test_id("pay-button")).to_be_visible()
