"""Test and live mode as a payer and an operator see them, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_backoffice import log_in
from tests.factories import MembershipFactory, make_request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 780}


@pytest.mark.parametrize(
    ("language", "banner"),
    [("en", "Test mode — no real money moves."), ("fr", "Mode test — aucun argent réel")],
)
def test_a_test_request_says_so_to_the_payer_on_a_phone(
    page, live_server, merchant, screenshot, axe_check, language, banner
):
    payer = make_request(merchant, description="Team dinner").participants.first()
    page.set_viewport_size(PHONE)

    page.goto(f"{live_server.url}/pay/{payer.link_token}/?lang={language}")

    expect(page.get_by_test_id("test-mode-banner")).to_contain_text(banner)
    expect(page.get_by_test_id("pay-button")).to_be_visible()
    screenshot(f"payer-test-mode-{language}-360")
    axe_check()


def test_a_live_request_page_never_loads_the_sandbox_tokeniser(
    page, live_server, merchant, live_cards, screenshot, axe_check
):
    payer = make_request(merchant, description="Concert", livemode=True).participants.first()
    loaded = []
    page.on("request", lambda request: loaded.append(request.url))
    page.set_viewport_size(PHONE)

    page.goto(f"{live_server.url}/pay/{payer.link_token}/?lang=en")

    expect(page.get_by_test_id("pay-button")).to_be_visible()
    expect(page.get_by_test_id("test-mode-banner")).to_have_count(0)
    assert not [url for url in loaded if "sandbox" in url]
    screenshot("payer-live-mode-en-360")
    axe_check()


def test_without_a_live_card_provider_the_payer_is_told_cards_are_unavailable(
    page, live_server, merchant, screenshot, axe_check
):
    from requests_app.models import PaymentRequest

    payment_request = make_request(merchant, description="Concert")
    PaymentRequest.objects.filter(pk=payment_request.pk).update(livemode=True)
    payer = payment_request.participants.first()
    page.set_viewport_size(PHONE)

    page.goto(f"{live_server.url}/pay/{payer.link_token}/?lang=fr")

    expect(page.get_by_test_id("method-unavailable")).to_contain_text(
        "Ce moyen de paiement n'est pas disponible"
    )
    expect(page.get_by_label("Numéro de carte")).to_have_count(0)
    screenshot("payer-live-unavailable-fr-360")
    axe_check()


def test_an_operator_switches_between_test_and_live(
    page, live_server, merchant, live_cards, screenshot, axe_check
):
    make_request(merchant, reference="TEST-REQ")
    make_request(merchant, reference="LIVE-REQ", livemode=True)
    log_in(page, live_server, MembershipFactory(merchant=merchant).user)

    expect(page.get_by_test_id("mode-badge")).to_have_text("Test mode")
    expect(page.get_by_test_id("test-mode-banner")).to_be_visible()
    expect(page.get_by_role("link", name="TEST-REQ")).to_be_visible()
    expect(page.get_by_role("link", name="LIVE-REQ")).to_have_count(0)
    screenshot("backoffice-test-mode")
    axe_check()

    page.get_by_role("button", name="Switch to live").click()

    expect(page.get_by_test_id("mode-badge")).to_have_text("Live mode")
    expect(page.get_by_test_id("test-mode-banner")).to_have_count(0)
    expect(page.get_by_role("link", name="LIVE-REQ")).to_be_visible()
    expect(page.get_by_role("link", name="TEST-REQ")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/app/$"))
    screenshot("backoffice-live-mode")
    axe_check()
