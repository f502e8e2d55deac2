"""An owner, in French, on a 360-pixel phone, turns two-factor login on (QR code and key,
confirmed by a code computed here from the key, as the authenticator app would), keeps the
recovery codes, logs out and logs back in with a code; then the same pages in English. Every
page passes axe-core and fits the screen; screenshots of each."""

import base64
import re
import time

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from merchants.models import OperatorPreference
from tests.e2e.test_small_screens import PHONE, fits_the_screen, speaks
from tests.factories import MembershipFactory, MerchantFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


@pytest.fixture
def owner(db):
    merchant = MerchantFactory(name="Alpha Shop", default_language="fr")
    user = MembershipFactory(merchant=merchant, role="owner").user
    OperatorPreference.objects.create(user=user, language="fr")
    return user


def app_code(key_text: str, *, steps_ahead: int = 0) -> str:
    """What the authenticator shows for the key on the page (``steps_ahead`` 30-second steps
    from now: the step just used to confirm cannot be used again)."""
    key = base64.b32decode(key_text.replace(" ", ""))
    return f"{totp(key, t0=-30 * steps_ahead):06d}"


def log_in(page, live_server, user, *, email_label: str, password_label: str, button: str):
    page.goto(f"{live_server.url}/app/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label(email_label).fill(user.username)
    page.get_by_label(password_label).fill(PASSWORD)
    page.get_by_role("button", name=button).click()


def log_out(page, menu: str, button: str) -> None:
    page.get_by_role("button", name=menu).click()
    page.get_by_role("button", name=button).click()


def test_an_owner_turns_two_factor_on_and_logs_in_with_it_in_french_on_a_phone(
    page, live_server, owner, screenshot, axe_check
):
    page.set_viewport_size(PHONE)
    speaks(page, "fr")
    log_in(
        page,
        live_server,
        owner,
        email_label="E-mail",
        password_label="Mot de passe",
        button="Se connecter",
    )
    expect(page.get_by_role("navigation", name="Principal")).to_be_visible()

    page.goto(f"{live_server.url}/app/account/security/")
    expect(page.get_by_role("heading", name="Sécurité du compte", level=1)).to_be_visible()
    expect(page.get_by_text("La double authentification est désactivée")).to_be_visible()
    axe_check()
    fits_the_screen(page)
    page.get_by_role("button", name="Activer la double authentification").click()

    qr = page.get_by_role("img", name="QR code à scanner avec votre application d'authentification")
    expect(qr).to_be_visible()
    assert qr.get_attribute("src").startswith("data:image/svg+xml;base64,")
    key_text = page.get_by_test_id("totp-key").inner_text()
    axe_check()
    fits_the_screen(page)
    screenshot("two_factor_setup_fr_360")

    # A wrong code first: refused at its field, nothing turned on.
    page.get_by_label("Code").fill("000000" if app_code(key_text) != "000000" else "111111")
    page.get_by_role("button", name="Confirmer et activer").click()
    expect(page.get_by_text("Ce code n'est pas valide.")).to_be_visible()
    axe_check()
    time.sleep(1.1)  # django-otp makes the device wait a second after a failure

    page.get_by_label("Code").fill(app_code(key_text))
    page.get_by_role("button", name="Confirmer et activer").click()
    expect(page.get_by_text("La double authentification est activée.")).to_be_visible()
    codes = page.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    axe_check()
    fits_the_screen(page)
    screenshot("two_factor_recovery_codes_fr_360")
    page.reload()
    expect(page.get_by_test_id("recovery-codes")).to_have_count(0)
    expect(page.get_by_test_id("two-factor-status")).to_have_text("10 codes de secours restants.")

    # Now the owner may require it of the merchant's owners.
    page.goto(f"{live_server.url}/app/settings/")
    page.get_by_label("Double authentification").select_option("owners")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Réglages enregistrés.")).to_be_visible()
    expect(page.get_by_label("Double authentification")).to_have_value("owners")
    axe_check()
    fits_the_screen(page)
    screenshot("two_factor_merchant_setting_fr_360")
    owner.memberships.get().merchant.refresh_from_db()
    assert owner.memberships.get().merchant.two_factor_policy == "owners"

    log_out(page, "Menu", "Déconnexion")
    log_in(
        page,
        live_server,
        owner,
        email_label="E-mail",
        password_label="Mot de passe",
        button="Se connecter",
    )
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/"))
    expect(page.get_by_role("heading", name="Double authentification")).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_have_count(0)  # no menu yet
    # Typing a back-office address leads back to the code step.
    page.goto(f"{live_server.url}/app/team/")
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/"))
    axe_check()
    fits_the_screen(page)
    screenshot("two_factor_code_step_fr_360")

    page.get_by_label("Code").fill(app_code(key_text, steps_ahead=1))
    page.get_by_role("button", name="Vérifier").click()
    expect(page).to_have_url(re.compile(r"/app/team/"))
    expect(page.get_by_role("heading", name="Équipe")).to_be_visible()

    # The same pages in English.
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("button", name="EN English").click()
    page.goto(f"{live_server.url}/app/account/security/")
    expect(page.get_by_role("heading", name="Two-factor login is on")).to_be_visible()
    axe_check()
    fits_the_screen(page)
    screenshot("two_factor_on_en_360")

    log_out(page, "Menu", "Log out")
    speaks(page, "en")
    log_in(
        page, live_server, owner, email_label="Email", password_label="Password", button="Log in"
    )
    expect(page.get_by_role("heading", name="Two-factor login")).to_be_visible()
    # A recovery code instead of the phone.
    page.get_by_label("Code").fill(codes[0])
    axe_check()
    fits_the_screen(page)
    screenshot("two_factor_code_step_en_360")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("You used a recovery code; 9 left.")).to_be_visible()
    axe_check()
