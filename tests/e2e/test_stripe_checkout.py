"""A payer pays by card on (the local stand-in of) Stripe Checkout, in a browser, under the
production Content-Security-Policy: the pay form's redirect to Stripe must be allowed."""

import pytest
from playwright.sync_api import expect

from payments.models import Leg
from requests_app.services import ParticipantData
from tests.factories import make_request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_payer_is_handed_to_stripe_checkout_and_comes_back_paid(
    page,
    live_server,
    merchant,
    settings,
    stripe_stub,
    stripe_test_account,
):
    settings.STRIPE_CHECKOUT_ORIGINS = [stripe_stub.base_url]
    payer = make_request(
        merchant,
        total_amount=2500,
        participants=[ParticipantData(name="Zoé", email="zoe@example.com", amount=2500)],
    ).participants.get()

    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    expect(page.get_by_label("Card number")).to_have_count(0)  # no card input of ours
    page.get_by_test_id("pay-button").click()
    page.wait_for_url(f"{stripe_stub.base_url}/pay/cs_test_**")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Pay").click()

    page.wait_for_url(f"{live_server.url}/pay/{payer.link_token}/receipt/**")
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 2500)
    assert Leg.objects.get().provider == "stripe"


def test_without_the_checkout_origin_in_form_action_the_browser_blocks_the_hand_over(
    page,
    live_server,
    merchant,
    settings,
    stripe_stub,
    stripe_test_account,
    csp_violations,
):
    settings.STRIPE_CHECKOUT_ORIGINS = []  # what the policy was before Stripe
    payer = make_request(
        merchant,
        total_amount=2500,
        participants=[ParticipantData(name="Zoé", email="zoe@example.com", amount=2500)],
    ).participants.get()

    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    page.get_by_test_id("pay-button").click()
    page.wait_for_timeout(1500)

    assert not page.url.startswith(stripe_stub.base_url)
    assert any("form-action" in message for message in csp_violations)
    csp_violations.clear()  # expected here: this test is about that very block
