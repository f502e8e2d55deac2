"""An operator who chose French reads the scenario, template, form, wallet, outbox and
reconciliation pages in French: headings, badges, column labels and hints, not only the menu.
English strings that used to be hard-coded must not leak through."""

import pytest

from merchants.models import OperatorPreference
from notifications.outbox import outbox_store
from payments.wallet import services as wallet_services
from smartforms.services import form_create
from tests.factories import MembershipFactory
from tests.scenarios.conftest import OUTBOX_BACKEND
from tests.scenarios.helpers import make_scenario, step

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(merchant):
    from notifications import services as template_services

    return template_services.template_create(
        merchant=merchant,
        name="Relance e-mail",
        channel="email",
        subject={"en": "Pay {{ request.reference }}"},
        body_text={"en": "Hello {{ payer.name }}, pay {{ amount_due }}: {{ pay_url }}"},
    )


@pytest.fixture
def french_client(client, merchant, settings):
    settings.EMAIL_BACKEND = OUTBOX_BACKEND
    settings.SMS_BACKEND = "outbox"
    user = MembershipFactory(merchant=merchant, role="owner").user
    OperatorPreference.objects.create(user=user, language="fr")
    client.force_login(user)
    return client


def page(client, url: str, **query) -> str:
    response = client.get(url, query)
    assert response.status_code == 200, url
    return response.content.decode()


def assert_french(html: str, heading: str, english: list[str]) -> None:
    assert heading in html
    leaked = [text for text in english if text in html]
    assert not leaked, f"English left on a French page: {leaked}"


def test_the_scenario_pages_are_in_french(french_client, merchant, template):
    scenario = make_scenario(merchant, [step("request_created", template)])

    html = page(french_client, "/app/scenarios/")
    assert_french(
        html, '<h1 class="h3 mb-0">Scénarios</h1>', [">Active<", "New scenario", ">Edit<"]
    )
    assert ">Actif<" in html and "Nouveau scénario" in html

    detail = page(french_client, f"/app/scenarios/{scenario.public_id}/")
    assert_french(
        detail,
        "Étapes de la version 1",
        [">Trigger<", ">Audience<", ">Pause<", "Each request keeps the version", ">Scenarios<"],
    )
    edit = page(french_client, f"/app/scenarios/{scenario.public_id}/edit/")
    assert_french(
        edit,
        "Vous modifiez la version 1.",
        ["You are editing version", ">Each step<", ">Your templates<", ">Cancel<"],
    )


def test_the_message_template_pages_are_in_french(french_client, merchant, template):
    html = page(french_client, "/app/templates/")
    assert_french(
        html,
        '<h1 class="h3 mb-0">Modèles de messages</h1>',
        ['text-bg-primary">Email<', "One email and one SMS per scenario stage"],
    )
    assert 'text-bg-primary">E-mail<' in html
    empty = page(french_client, "/app/templates/", status="archived")
    assert_french(empty, "Aucun modèle ne correspond à ces filtres.", ["No templates"])

    detail = page(french_client, f"/app/templates/{template.public_id}/")
    assert_french(detail, "M'envoyer un test", [">Send me a test<", ">Default stage<", ">Created<"])


def test_the_smart_form_pages_are_in_french(french_client, merchant):
    empty = page(french_client, "/app/forms/")
    assert_french(empty, '<h1 class="h3 mb-0">Formulaires</h1>', ["No forms yet."])
    assert "Aucun formulaire pour l'instant." in empty

    form = form_create(
        merchant=merchant,
        name="Inscription",
        fields=[{"key": "company", "type": "text", "label": {"en": "Company"}}],
    )
    detail = page(french_client, f"/app/forms/{form.public_id}/")
    assert_french(
        detail,
        "Champs de la version 1",
        [">Current version<", ">Help text<", "not used yet", ">Preview<", ">Forms<"],
    )
    submissions = page(french_client, f"/app/forms/{form.public_id}/submissions/")
    assert_french(submissions, "Réponses à « Inscription »", ["No submissions yet.", " in all"])


def test_the_wallet_pages_are_in_french(french_client, merchant):
    wallet = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email="ann@example.com"
    )
    wallet_services.wallet_credit(wallet=wallet, amount=500)
    wallet_services.cashback_rule_set(merchant=merchant, rate_bps=250, cap=1000, valid_days=30)

    html = page(french_client, "/app/wallets/")
    assert_french(
        html,
        '<h1 class="h3 mb-0">Cagnottes de cashback</h1>',
        ["Payers earn", "per payment", 'placeholder="Email or phone"', "Cap per payment"],
    )
    assert "(250 points de base)" in html and "utilisable pendant 30 jours" in html

    detail = page(french_client, f"/app/wallets/{wallet.public_id}/")
    assert_french(
        detail,
        "Cagnotte de ann@example.com",
        ["Wallet of", ">Ledger<", ">Credit goodwill<", ">Spendable now<", ">Reason<"],
    )


def test_the_outbox_is_in_french(french_client, merchant):
    empty = page(french_client, "/app/outbox/")
    assert_french(empty, "Boîte d'envoi</h1>", ["Nothing in the outbox yet"])

    outbox_store(channel="sms", to="+33612345678", text="Bonjour", merchant_id=merchant.pk)
    html = page(french_client, "/app/outbox/")
    assert_french(html, "SMS à +33612345678", ["SMS to "])


def test_the_daily_reconciliation_list_is_in_french(french_client):
    html = page(french_client, "/app/reconciliations/")
    assert_french(
        html,
        '<h1 class="h3 mb-3">Rapprochements quotidiens</h1>',
        ["Daily reconciliations", ">Day<", ">Built<", "No statement yet"],
    )


def test_flash_messages_follow_the_operators_language(french_client, merchant, template):
    scenario = make_scenario(merchant, [step("request_created", template)], name="Relances")

    response = french_client.post(f"/app/scenarios/{scenario.public_id}/pause/", follow=True)
    html = response.content.decode()
    assert "Scénario « Relances » mis en pause" in html
    assert "paused: messages falling due" not in html

    response = french_client.post("/app/wallets/new/", {"holder": "bob@example.com"}, follow=True)
    assert "Cagnotte ouverte pour bob@example.com." in response.content.decode()
