"""The pages a payer or an operator may land on from a phone, in English and French, at 360 px:
each one renders in the visitor's language, fits the screen and passes axe-core. The
screenshots go to test-artifacts/ for a person to look at."""

import re

import pytest
from playwright.sync_api import expect

from requests_app.services import ParticipantData
from tests.e2e.test_backoffice import log_in
from tests.e2e.test_payer_journey import fill_card
from tests.factories import MembershipFactory, make_request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 780}
LANGUAGES = ["en", "fr"]

TEXT = {
    "en": {
        "pay": "^Pay",
        "paid": "Payment received",
        "locked": "Login locked",
        "lockout": "failed 2 times in a row",
        "forbidden": "You cannot see this page",
        "progress": "collected",
        "banner": "You are in test mode",
    },
    "fr": {
        "pay": "^Payer",
        "paid": "Paiement reçu",
        "locked": "Connexion bloquée",
        "lockout": "a échoué 2 fois de suite",
        "forbidden": "Vous ne pouvez pas voir cette page",
        "progress": "collecté",
        "banner": "Vous êtes en mode test",
    },
}


@pytest.fixture
def phone(page):
    page.set_viewport_size(PHONE)
    return page


def speaks(page, language: str) -> None:
    """The browser asks for ``language`` first, as a French or English phone does."""
    page.set_extra_http_headers({"Accept-Language": f"{language},en;q=0.5"})


def fits_the_screen(page) -> None:
    """Nothing wider than the phone: no sideways scrolling."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px screen"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_payer_pays_and_reads_the_receipt_on_a_phone(
    phone, live_server, merchant, screenshot, axe_check, language
):
    payment_request = make_request(
        merchant,
        total_amount=2500,
        description="Dîner d'équipe" if language == "fr" else "Team dinner",
        participants=[
            ParticipantData(name="Zoé", email="zoe@example.com", amount=2500, language=language)
        ],
    )
    payer = payment_request.participants.get()

    phone.goto(f"{live_server.url}/pay/{payer.link_token}/")
    expect(phone.locator("html")).to_have_attribute("lang", language)
    fits_the_screen(phone)
    screenshot(f"payer-page-{language}-360")
    axe_check()

    fill_card(phone, "4242 4242 4242 4242")
    phone.get_by_role("button", name=re.compile(TEXT[language]["pay"])).click()

    expect(phone.get_by_role("heading", name=TEXT[language]["paid"])).to_be_visible()
    expect(phone.get_by_test_id("receipt-amount")).to_contain_text("25")
    expect(phone.locator("html")).to_have_attribute("lang", language)
    fits_the_screen(phone)
    screenshot(f"payer-receipt-{language}-360")
    axe_check()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_public_progress_page_reads_well_on_a_phone(
    phone, live_server, merchant, screenshot, axe_check, language
):
    payment_request = make_request(merchant, public_progress=True, description="Cadeau")

    phone.goto(f"{live_server.url}/progress/{payment_request.progress_token}/?lang={language}")

    expect(phone.locator("main")).to_contain_text(TEXT[language]["progress"])
    expect(phone.locator("html")).to_have_attribute("lang", language)
    fits_the_screen(phone)
    screenshot(f"progress-{language}-360")
    axe_check()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_login_and_the_lockout_page_on_a_phone(
    phone, live_server, merchant, settings, screenshot, axe_check, language
):
    settings.AXES_FAILURE_LIMIT = 2
    user = MembershipFactory(merchant=merchant).user
    speaks(phone, language)

    phone.goto(f"{live_server.url}/accounts/login/")
    fits_the_screen(phone)
    axe_check()
    for _ in range(2):
        phone.locator("#id_username").fill(user.username)
        phone.locator("#id_password").fill("wrong")
        phone.locator("button[type=submit]").click()

    expect(phone.get_by_role("heading", name=TEXT[language]["locked"])).to_be_visible()
    expect(phone.get_by_test_id("lockout-message")).to_contain_text(TEXT[language]["lockout"])
    expect(phone.locator("html")).to_have_attribute("lang", language)
    fits_the_screen(phone)
    screenshot(f"lockout-{language}-360")
    axe_check()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_viewer_is_told_on_a_phone_what_they_cannot_do(
    phone, live_server, merchant, screenshot, axe_check, language
):
    viewer = MembershipFactory(merchant=merchant, role="viewer").user
    log_in(phone, live_server, viewer)
    expect(phone.get_by_test_id("mode-badge")).to_be_attached()
    speaks(phone, language)

    response = phone.goto(f"{live_server.url}/app/scenarios/new/")

    assert response.status == 403
    expect(phone.get_by_role("heading", name=TEXT[language]["forbidden"])).to_be_visible()
    role = {"en": "Your role (Viewer) does not allow you", "fr": "Votre rôle (Lecteur)"}
    expect(phone.locator("main")).to_contain_text(role[language])
    expect(phone.get_by_test_id("test-mode-banner")).to_contain_text(TEXT[language]["banner"])
    expect(phone.locator("html")).to_have_attribute("lang", language)
    fits_the_screen(phone)
    screenshot(f"forbidden-{language}-360")
    axe_check()
