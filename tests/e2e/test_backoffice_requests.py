"""An operator's day in French, in a real browser: find, create, cancel and refund requests;
every page passes axe-core in French and in English, and fits a 360 px screen."""

import pytest
from playwright.sync_api import expect

from merchants.models import OperatorPreference
from payments import services as payment_services
from requests_app.models import PaymentRequest
from tests.e2e.test_backoffice import log_in
from tests.factories import MembershipFactory, make_request
from tests.payments.conftest import tokenise  # noqa: F401 (a fixture)
from tests.scenarios.helpers import make_scenario, step


def fits_the_screen(page, width: int = 360) -> None:
    """No sideways scrolling of the page itself (wide tables scroll inside their region)."""
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 8).map(e => e.tagName + '.' + e.className)"""
    )
    scrolled = page.evaluate("() => document.documentElement.scrollWidth")
    assert scrolled <= width, f"{page.url} is {scrolled}px wide: {wide}"


pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
CARDS = ["4242424242424242", "5555555555554444", "4012888888881881"]


def paid(merchant, tokenise, reference):  # noqa: F811
    payment_request = make_request(merchant, reference=reference)
    for participant, card in zip(payment_request.participants.all(), CARDS, strict=True):
        payment_services.checkout_start(
            participant=participant, method="card", source=tokenise(card)
        )
    return payment_request


def test_an_operator_works_through_the_day_in_french(
    page,
    live_server,
    merchant,
    email_template,
    tokenise,  # noqa: F811 (the imported fixture)
    screenshot,
    axe_check,
    settings,
):
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    owner = MembershipFactory(merchant=merchant, role="owner").user
    OperatorPreference.objects.create(user=owner, language="fr")
    make_scenario(merchant, [step("request_created", email_template)], name="Relances")
    from requests_app.services import ParticipantData

    make_request(
        merchant,
        reference="DINER-1",
        total_amount=2000,
        participants=[
            ParticipantData(name="Camille Martin", email="camille@example.com", amount=1000),
            ParticipantData(name="Louis Petit", email="louis@example.com", amount=1000),
        ],
    )
    to_cancel = make_request(merchant, reference="SALLE-2")
    whole = paid(merchant, tokenise, "CADEAU-3")
    partial = paid(merchant, tokenise, "SORTIE-4")

    log_in(page, live_server, owner)
    expect(page.get_by_role("heading", name="Demandes de paiement")).to_be_visible()
    fits_the_screen(page, 1280)  # the French bar stays on one line
    axe_check()
    page.get_by_role("searchbox", name="Rechercher").fill("AMIL")
    page.get_by_role("button", name="Filtrer").click()
    table = page.get_by_test_id("request-table")
    expect(table).to_contain_text("DINER-1")
    expect(table).not_to_contain_text("SALLE-2")
    screenshot("backoffice-fr-search")
    axe_check()

    # --- A new request for two, split equally ---------------------------------------------
    page.get_by_test_id("new-request").click()
    expect(page.get_by_role("heading", name="Nouvelle demande")).to_be_visible()
    axe_check()
    page.get_by_label("Référence").fill("PIQUE-NIQUE")
    page.get_by_label("Total", exact=True).fill("50,01")
    page.locator("[name=participants-0-name]").fill("Ana Lopez")
    page.locator("[name=participants-0-email]").fill("ana@example.com")
    page.locator("[name=participants-1-name]").fill("Ben Roy")
    page.locator("[name=participants-1-email]").fill("ben@example.com")
    page.get_by_role("button", name="Répartir le total à parts égales").click()
    expect(page.locator("[name=participants-0-amount]")).to_have_value("25.01")
    expect(page.locator("[name=participants-1-amount]")).to_have_value("25.00")
    page.get_by_label("Scénario").select_option(label="Relances")
    screenshot("backoffice-fr-new-request")
    page.get_by_test_id("create-request").click()
    expect(page.get_by_role("heading", name="PIQUE-NIQUE")).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text(
        "Demande de paiement PIQUE-NIQUE créée"
    )
    messages = page.get_by_test_id("messages")
    expect(messages).to_contain_text("ana@example.com")
    expect(messages).to_contain_text("ben@example.com")
    expect(page.get_by_test_id("timeline")).to_contain_text("Demande créée")
    screenshot("backoffice-fr-request-detail")
    axe_check()
    created = PaymentRequest.objects.get(reference="PIQUE-NIQUE")
    assert [p.amount for p in created.participants.all()] == [2501, 2500]

    # --- Cancel another ----------------------------------------------------------------------
    page.goto(f"{live_server.url}/app/requests/{to_cancel.public_id}/")
    page.get_by_test_id("cancel-link").click()
    expect(page.get_by_role("heading", name="Annuler SALLE-2 ?")).to_be_visible()
    axe_check()
    page.get_by_test_id("confirm-form").get_by_role("button", name="Annuler la demande").click()
    expect(page.get_by_role("status").first).to_contain_text("La demande est annulée.")
    to_cancel.refresh_from_db()
    assert to_cancel.status == "cancelled"

    # --- Refund one paid request wholly ------------------------------------------------------
    page.goto(f"{live_server.url}/app/requests/{whole.public_id}/")
    page.get_by_test_id("refund-link").click()
    axe_check()
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_test_id("refund-confirmation")).to_contain_text("30,00")
    screenshot("backoffice-fr-refund-confirmation")
    axe_check()
    page.get_by_test_id("refund-confirm").click()
    expect(page.get_by_role("status").first).to_contain_text("Le remboursement est effectué.")
    whole.refresh_from_db()
    assert (whole.status, whole.amount_refunded) == ("refunded", 3000)

    # --- And another partly: 4.00 to its first payer ------------------------------------------
    first = partial.participants.order_by("position").first()
    page.goto(f"{live_server.url}/app/requests/{partial.public_id}/refund/")
    page.get_by_label("Participants choisis").check()
    page.get_by_label(first.name, exact=True).check()
    page.get_by_label(f"Montant à rembourser à {first.name}").fill("4")
    screenshot("backoffice-fr-refund-form")
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_test_id("refund-lines")).to_contain_text("4,00")
    page.get_by_test_id("refund-confirm").click()
    expect(page.get_by_test_id("amount-refunded")).to_contain_text("4,00")
    first.refresh_from_db()
    assert (first.status, first.amount_refunded) == ("partially_refunded", 400)
    axe_check()

    # --- The same pages in English, remembered -------------------------------------------------
    page.get_by_test_id("language-switch").get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Participants")).to_be_visible()
    expect(page.get_by_test_id("request-actions")).to_contain_text("Refund")
    axe_check()
    assert OperatorPreference.objects.get(user=owner).language == "en"
    for path, name in [
        ("/app/", "backoffice-en-list"),
        ("/app/requests/new/", "backoffice-en-new-request"),
        (f"/app/requests/{created.public_id}/", "backoffice-en-request-detail"),
        (f"/app/requests/{created.public_id}/cancel/", "backoffice-en-cancel"),
        (f"/app/requests/{partial.public_id}/refund/", "backoffice-en-refund-form"),
        ("/app/configuration/", "backoffice-en-configuration"),
    ]:
        page.goto(live_server.url + path)
        if name.startswith("backoffice-360"):
            fits_the_screen(page)
        screenshot(name)
        axe_check()

    # --- Every other back-office page, in English then in French --------------------------------
    others = [
        "/app/outbox/",
        "/app/reconciliations/",
        "/app/scenarios/",
        "/app/templates/",
        "/app/forms/",
        "/app/wallets/",
        f"/app/requests/{whole.public_id}/",
        f"/app/requests/{partial.public_id}/reconciliation/",
    ]
    for language in ("en", "fr"):
        if language == "fr":
            page.get_by_test_id("language-switch").get_by_role("button", name="Français").click()
        for path in others:
            page.goto(live_server.url + path)
            expect(page.locator("html")).to_have_attribute("lang", language)
            axe_check()
    page.get_by_test_id("language-switch").get_by_role("button", name="English").click()

    # --- A phone: 360 px --------------------------------------------------------------------
    page.set_viewport_size({"width": 360, "height": 780})
    for path, name in [
        ("/app/", "backoffice-360-list"),
        ("/app/requests/new/", "backoffice-360-new-request"),
        (f"/app/requests/{created.public_id}/", "backoffice-360-request-detail"),
    ]:
        page.goto(live_server.url + path)
        if name.startswith("backoffice-360"):
            fits_the_screen(page)
        screenshot(name)
        axe_check()
