"""The audit trail in a real browser, on a 360 px phone, in French (and English for the
screenshots): an operator renames a message template, pauses a scenario and pauses a
request's reminders, then finds each change on the audit page and on the object's page, with
who made it and when (in the merchant's zone); axe-core finds nothing."""

import re

import pytest
from playwright.sync_api import expect

from notifications.models import MessageTemplate
from tests.e2e.test_backoffice import log_in
from tests.e2e.test_small_screens import PHONE, fits_the_screen, speaks
from tests.factories import MembershipFactory, make_request
from tests.scenarios.helpers import make_scenario, step

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXT = {
    "fr": {
        "title": "Journal d'audit",
        "history": "Historique des modifications",
        "changed": "Modification",
        "template": "Modèle de message",
        "request": "Demande de paiement",
        "filter": "Filtrer",
    },
    "en": {
        "title": "Audit trail",
        "history": "Change history",
        "changed": "Changed",
        "template": "Message template",
        "request": "Payment request",
        "filter": "Filter",
    },
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_operator_finds_the_changes_just_made_with_who_and_when(
    page, live_server, merchant, screenshot, axe_check, language
):
    text = TEXT[language]
    template = MessageTemplate.objects.filter(merchant=merchant, channel="email").first()
    scenario = make_scenario(merchant, [step("request_created", template)], name="Relances")
    payment_request = make_request(merchant, reference="DINER-42")
    owner = MembershipFactory(merchant=merchant, role="owner").user

    page.set_viewport_size(PHONE)
    log_in(page, live_server, owner)
    expect(page.get_by_test_id("mode-badge")).to_be_attached()
    speaks(page, language)

    # A template renamed in its editor.
    page.goto(f"{live_server.url}/app/templates/{template.public_id}/edit/")
    page.locator("#id_name").fill("Rappel aimable")
    page.get_by_test_id("template-editor").locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/app/templates/{template.public_id}/$"))

    # A scenario paused, and a request's reminders paused, with their buttons.
    page.goto(f"{live_server.url}/app/scenarios/{scenario.public_id}/")
    page.locator("form[action$='/pause/'] button").click()
    page.goto(f"{live_server.url}/app/requests/{payment_request.public_id}/")
    page.locator("form[action$='/reminders/'] button[value='1']").click()
    expect(page.locator("form[action$='/reminders/'] button[value='0']")).to_be_visible()

    # The request's own page shows the change in its History section.
    history = page.get_by_test_id("history")
    expect(history.get_by_role("heading", name=text["history"])).to_be_visible()
    expect(history.get_by_test_id("audit-entry").first).to_contain_text(owner.email)
    expect(history.get_by_test_id("audit-entry").first).to_contain_text("notifications paused")
    fits_the_screen(page)
    screenshot(f"audit-request-history-phone-{language}")
    axe_check()

    # The audit page, from the configuration menu.
    page.goto(f"{live_server.url}/app/configuration/")
    page.get_by_test_id("configuration-links").get_by_test_id("nav-audit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(text["title"])
    entries = page.get_by_test_id("audit-entry")
    newest = entries.first
    expect(newest).to_contain_text(text["request"])
    expect(newest).to_contain_text(owner.email)
    expect(newest).to_contain_text("(Europe/Paris)")
    expect(newest.get_by_test_id("audit-action")).to_have_text(text["changed"])
    renamed = entries.filter(has_text="Rappel aimable").first
    expect(renamed).to_contain_text(text["template"])
    expect(renamed).to_contain_text(owner.email)
    expect(renamed.get_by_test_id("audit-diff")).to_contain_text(template.name)
    expect(entries.filter(has_text="is paused").first).to_contain_text("Relances")
    fits_the_screen(page)
    screenshot(f"audit-page-phone-{language}")
    axe_check()

    # Filtered to changed templates: only the renaming (the shipped ones were created);
    # its link leads to the template's page.
    page.locator("#id_kind").select_option("template")
    page.locator("#id_action").select_option("changed")
    page.get_by_test_id("audit-filter").click()
    expect(page.get_by_test_id("audit-entry")).to_have_count(1)
    page.get_by_test_id("audit-entry").get_by_test_id("audit-object").click()
    expect(page).to_have_url(re.compile(rf"/app/templates/{template.public_id}/$"))
    expect(page.get_by_test_id("history")).to_contain_text("Rappel aimable")
    # The template page as a whole, its scrolling source blocks reachable from the keyboard.
    axe_check()
