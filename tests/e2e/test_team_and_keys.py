"""An owner, in French, creates an API key (its secret shown once, gone on the next visit),
invites a member (the invitation email leaves through the outbox) and opens the settings;
every page reached through the Configuration menu and passing axe-core."""

import pytest
from django.core import mail
from playwright.sync_api import expect

from merchants.models import ApiKey, Invitation, OperatorPreference
from merchants.services import hash_secret
from notifications.dispatcher import dispatch_due
from tests.e2e.test_backoffice import log_in
from tests.e2e.test_small_screens import speaks
from tests.factories import MembershipFactory, MerchantFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner(db):
    merchant = MerchantFactory(name="Alpha Shop", default_language="fr")
    user = MembershipFactory(merchant=merchant, role="owner").user
    OperatorPreference.objects.create(user=user, language="fr")
    return user


def _configuration(page, link: str) -> None:
    nav = page.get_by_role("navigation", name="Principal")
    nav.get_by_role("button", name="Configuration").click()
    nav.get_by_role("link", name=link).click()


def test_an_owner_creates_a_key_sees_it_once_and_invites_a_member_in_french(
    page, live_server, owner, screenshot, axe_check
):
    log_in(page, live_server, owner)
    speaks(page, "fr")

    _configuration(page, "Clés API")
    expect(page.get_by_role("heading", name="Clés API")).to_be_visible()
    axe_check()
    page.get_by_role("link", name="Nouvelle clé de test").click()
    page.get_by_label("Nom").fill("Serveur boutique")
    axe_check()
    page.get_by_role("button", name="Créer la clé").click()

    banner = page.get_by_test_id("api-key-secret")
    expect(banner).to_contain_text("copiez-le maintenant")
    secret = banner.locator("code").inner_text().strip()
    assert secret.startswith("sk_test_")
    key = ApiKey.objects.get(name="Serveur boutique")
    assert key.secret_hash == hash_secret(secret) and key.mode == "test"
    axe_check()
    screenshot("team_keys_secret_once_fr")

    page.reload()
    expect(page.get_by_test_id("api-key-table")).to_contain_text("Serveur boutique")
    expect(page.get_by_test_id("api-key-secret")).to_have_count(0)
    assert secret not in page.content()

    _configuration(page, "Équipe")
    expect(page.get_by_role("heading", name="Équipe")).to_be_visible()
    page.get_by_label("E-mail", exact=True).fill("nouvelle@example.com")
    page.get_by_label("Rôle", exact=True).select_option("admin")
    page.get_by_role("button", name="Envoyer l'invitation").click()
    expect(page.get_by_text("Invitation envoyée à nouvelle@example.com.")).to_be_visible()
    expect(page.get_by_test_id("invitation-table")).to_contain_text("nouvelle@example.com")
    axe_check()
    screenshot("team_invitation_sent_fr")
    assert Invitation.objects.get().role == "admin"

    dispatch_due(worker_id="e2e")
    sent = mail.outbox[-1]
    assert sent.to == ["nouvelle@example.com"]
    assert "Vous êtes invité à rejoindre l'équipe de Alpha Shop" in sent.body
    assert "avec le rôle Administrateur" in sent.body

    _configuration(page, "Réglages du marchand")
    expect(page.get_by_role("heading", name="Réglages du marchand")).to_be_visible()
    page.get_by_label("Nom de l'expéditeur").fill("Alpha Boutique")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Réglages enregistrés.")).to_be_visible()
    axe_check()
    screenshot("team_settings_fr")
