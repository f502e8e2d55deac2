"""A French operator builds a three-step scenario in the builder, without typing any JSON: one
row is wrong twice, every error shows at once at its field, the row is fixed, the timeline
preview of an example request is read, and the page passes axe-core and fits 360 px in French
and in English (screenshots in test-artifacts/)."""

import re

import pytest
from playwright.sync_api import expect

from merchants.models import OperatorPreference
from scenarios.models import Scenario, Step
from tests.e2e.test_backoffice import log_in
from tests.e2e.test_backoffice_requests import fits_the_screen
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def row(page, index: int):
    return page.get_by_test_id("step-row").nth(index)


def test_a_french_operator_builds_a_scenario_sees_every_error_and_its_timeline(
    page, live_server, merchant, email_template, sms_template, screenshot, axe_check
):
    owner = MembershipFactory(merchant=merchant, role="owner").user
    OperatorPreference.objects.create(user=owner, language="fr")
    log_in(page, live_server, owner)
    page.goto(f"{live_server.url}/app/scenarios/")
    page.get_by_role("link", name="Nouveau scénario").click()
    expect(page.get_by_role("heading", name="Nouveau scénario")).to_be_visible()
    expect(page.get_by_test_id("json-editor-link")).to_have_text("Avancé : éditer en JSON")
    axe_check()

    page.get_by_label("Nom").fill("Relances")
    first = row(page, 0)
    first.get_by_label("Modèle").select_option(label=email_template.name)
    expect(first.get_by_test_id("template-sample")).to_contain_text("Payez")

    # Step 2: an SMS two days before the deadline, outside quiet hours.
    page.get_by_role("button", name="Ajouter une étape").click()
    second = row(page, 1)
    second.get_by_label("Quand").select_option("before_deadline")
    second.get_by_label("Jours", exact=True).fill("2")
    second.get_by_label("Canal").select_option("sms")
    # Only SMS templates are offered for an SMS step.
    expect(second.get_by_label("Modèle").locator(f"option[value='{email_template.public_id}']"))\
        .to_be_disabled()  # fmt: skip
    second.get_by_label("Modèle").select_option(label=sms_template.name)
    second.get_by_label("De", exact=True).fill("21:00")
    second.get_by_label("À", exact=True).fill("08:00")

    # Step 3: overdue reminders, wrong twice (an offset over a year, no message count).
    page.get_by_role("button", name="Ajouter une étape").click()
    third = row(page, 2)
    third.get_by_label("Quand").select_option("after_deadline")
    third.get_by_label("Jours", exact=True).fill("400")
    third.get_by_label("Tous les … jours").fill("3")
    third.get_by_label("Modèle").select_option(label=email_template.name)

    # Reordering: the SMS step goes down and back up, with its values.
    second.get_by_role("button", name=re.compile("Descendre")).click()
    expect(row(page, 2).get_by_label("Canal")).to_have_value("sms")
    expect(page.get_by_test_id("step-row").nth(2)).to_contain_text("Étape 3")
    row(page, 2).get_by_role("button", name=re.compile("Monter")).click()
    expect(row(page, 1).get_by_label("Canal")).to_have_value("sms")
    expect(row(page, 2).get_by_label("Jours", exact=True)).to_have_value("400")

    page.get_by_role("button", name="Créer le scénario").click()
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_contain_text("2 problèmes à corriger")
    items = summary.get_by_role("listitem")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("Étape 3 · Délai (jours)")
    expect(items.nth(0)).to_contain_text("Entre 0 et 365 jours.")
    expect(items.nth(1)).to_contain_text("Étape 3 · Messages au total")
    expect(items.nth(1)).to_contain_text("Combien de messages au total (2 à 20) ?")
    third = row(page, 2)
    expect(third.get_by_label("Jours", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(third.get_by_label("Messages au total")).to_have_attribute("aria-invalid", "true")
    expect(row(page, 1).get_by_label("Canal")).to_have_value("sms")  # nothing typed was lost
    assert Scenario.objects.count() == 0
    summary.get_by_role("link", name=re.compile("Délai")).click()
    expect(third.get_by_label("Jours", exact=True)).to_be_focused()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot("scenario-builder-fr-errors-1280")
    axe_check()

    third.get_by_label("Jours", exact=True).fill("1")
    third.get_by_label("Messages au total").fill("3")

    # --- The timeline of an example request -------------------------------------------------
    page.get_by_label("Demande envoyée le").fill("2026-03-02T10:00")
    page.get_by_label("Échéance").fill("2026-03-16T22:30")
    page.get_by_role("button", name="Aperçu").click()
    entries = page.get_by_test_id("timeline-entry")
    expect(entries).to_have_count(5)
    timeline = page.get_by_test_id("timeline-preview")
    expect(page.get_by_test_id("timeline-broken")).to_have_count(0)
    expect(entries.nth(0)).to_contain_text("2 mars 2026, 10:00")
    expect(entries.nth(0)).to_contain_text(email_template.name)
    # Two days before a 22:30 deadline falls in the SMS step's quiet hours: it waits till 08:00.
    expect(entries.nth(1)).to_contain_text("15 mars 2026, 08:00")
    expect(entries.nth(1)).to_contain_text("Europe/Paris")
    expect(entries.nth(1)).to_contain_text("SMS")
    expect(entries.nth(1)).to_contain_text("Repoussé à la fin des heures calmes")
    expect(entries.nth(2)).to_contain_text("17 mars 2026, 22:30")
    expect(entries.nth(3)).to_contain_text("20 mars 2026, 22:30")
    expect(entries.nth(4)).to_contain_text("message 3 sur 3")
    expect(timeline).to_have_attribute("aria-live", "polite")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot("scenario-builder-fr-1280")
    axe_check()

    page.set_viewport_size({"width": 360, "height": 800})
    fits_the_screen(page, 360)
    screenshot("scenario-builder-fr-360")
    axe_check()

    page.get_by_role("button", name="Créer le scénario").click()
    expect(page.get_by_role("heading", name="Relances")).to_be_visible()
    scenario = Scenario.objects.get(name="Relances")
    steps = list(Step.objects.filter(scenario=scenario).order_by("position"))
    assert [s.trigger for s in steps] == ["request_created", "before_deadline", "after_deadline"]
    assert steps[1].channel == "sms" and steps[1].template_id == sms_template.pk
    assert steps[1].quiet_start.strftime("%H:%M") == "21:00"
    assert (steps[2].offset_seconds, steps[2].repeat_every_seconds) == (86_400, 3 * 86_400)
    assert steps[2].repeat_max == 3

    # --- The same builder in English ----------------------------------------------------------
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_test_id("language-switch").get_by_role("button", name="English").click()
    page.goto(f"{live_server.url}/app/scenarios/{scenario.public_id}/build/")
    expect(page.get_by_role("heading", name="Edit “Relances”")).to_be_visible()
    expect(page.get_by_test_id("step-row")).to_have_count(3)
    expect(page.get_by_test_id("timeline-entry").first).to_be_visible()
    screenshot("scenario-builder-en-1280")
    axe_check()
    page.set_viewport_size({"width": 360, "height": 800})
    fits_the_screen(page, 360)
    screenshot("scenario-builder-en-360")
    axe_check()


def test_the_builder_works_without_javascript(
    browser, live_server, merchant, email_template, sms_template
):
    owner = MembershipFactory(merchant=merchant, role="owner").user
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    try:
        log_in(page, live_server, owner)
        page.goto(f"{live_server.url}/app/scenarios/build/")
        page.get_by_label("Name").fill("No script")
        row(page, 0).get_by_label("Template").select_option(label=email_template.name)
        page.get_by_role("button", name="Add a step").click()  # a round trip
        expect(page.get_by_test_id("step-row")).to_have_count(2)
        row(page, 1).get_by_label("Channel").select_option("sms")
        row(page, 1).get_by_label("Template").select_option(label=sms_template.name)
        row(page, 0).get_by_role("button", name=re.compile("Move down")).click()
        expect(row(page, 0).get_by_label("Channel")).to_have_value("sms")
        expect(page.get_by_label("Name")).to_have_value("No script")
        page.get_by_role("button", name="Preview").click()
        expect(page.get_by_test_id("timeline-entry")).to_have_count(2)
        assert Scenario.objects.count() == 0
        page.get_by_role("button", name="Create scenario").click()
        expect(page.get_by_role("heading", name="No script")).to_be_visible()
        steps = Step.objects.filter(scenario__name="No script").order_by("position")
        assert [s.channel for s in steps] == ["sms", "email"]
    finally:
        context.close()
