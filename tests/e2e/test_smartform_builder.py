"""A French-speaking operator builds a smart form with four field types without typing JSON:
one try with two mistakes shows both at their fields, the live preview shows the payer's form
in French and English as it is typed, a field is moved up, and the form is saved; the builder
is then read in English. Screenshots at 360 px and 1280 px in both languages, axe-clean."""

import re

import pytest
from playwright.sync_api import expect

from merchants.models import OperatorPreference
from smartforms.models import Form
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE, DESKTOP = 360, 1280


@pytest.fixture
def operator(merchant):
    user = MembershipFactory(merchant=merchant, role="admin").user
    OperatorPreference.objects.create(user=user, language="fr")
    return user


def log_in(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/app/forms/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Email").fill(user.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Formulaires")).to_be_visible()


def fill_row(row, *, kind: str, key: str, fr: str, en: str, **options: str) -> None:
    row.get_by_label("Type").select_option(kind)
    row.get_by_label("Clé", exact=True).fill(key)
    row.get_by_label("Libellé en français").fill(fr)
    row.get_by_label("Libellé en anglais").fill(en)
    for label, value in options.items():
        row.get_by_label(label, exact=True).fill(value)


def fits_the_screen(page, width: int) -> None:
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll}px wide on a {width}px screen"


def at_both_sizes(page, screenshot, axe_check, name: str) -> None:
    for width in (DESKTOP, PHONE):
        page.set_viewport_size({"width": width, "height": 900})
        fits_the_screen(page, width)
        screenshot(f"{name}-{width}")
        axe_check()
    page.set_viewport_size({"width": DESKTOP, "height": 900})


def test_a_french_operator_builds_a_four_type_form_and_previews_it_in_both_languages(
    page, live_server, merchant, operator, screenshot, axe_check
):
    log_in(page, live_server, operator)
    page.get_by_role("link", name="Nouveau formulaire").click()
    expect(page.get_by_role("heading", name="Nouveau formulaire")).to_be_visible()
    page.locator("#id_name").fill("Inscription au gala")
    rows = page.get_by_test_id("builder-row")
    preview_fr = page.get_by_test_id("preview-fr")
    preview_en = page.get_by_test_id("preview-en")

    fill_row(rows.nth(0), kind="text", key="company", fr="Société", en="Company")
    rows.nth(0).get_by_label("Aide en français (facultatif)").fill("Comme sur votre facture")
    rows.nth(0).get_by_label("Obligatoire").check()
    # The live preview follows the typing, in both languages, without saving anything.
    expect(preview_fr.get_by_label("Société")).to_be_visible()
    expect(preview_fr).to_contain_text("Comme sur votre facture")
    expect(preview_en.get_by_label("Company")).to_be_visible()
    # Only the text type's options are offered for a text field.
    expect(rows.nth(0).get_by_label("Longueur maximale")).to_be_visible()
    expect(rows.nth(0).get_by_label("Choix", exact=True)).to_be_hidden()

    page.get_by_role("button", name="Ajouter un champ").click()
    expect(rows).to_have_count(2)
    fill_row(rows.nth(1), kind="single_choice", key="size", fr="Taille", en="Size")
    rows.nth(1).get_by_label("Choix", exact=True).fill("s | Petit | Small\nm | Moyen | Medium")
    expect(preview_fr.get_by_label("Moyen")).to_be_visible()
    expect(preview_en.get_by_label("Medium")).to_be_visible()

    page.get_by_role("button", name="Ajouter un champ").click()
    # Two mistakes: the smallest number above the largest, and a key used twice.
    fill_row(
        rows.nth(2),
        kind="number",
        key="guests",
        fr="Invités",
        en="Guests",
        **{"Plus petit nombre": "20", "Plus grand nombre": "10", "Décimales": "0"},
    )
    page.get_by_role("button", name="Ajouter un champ").click()
    fill_row(
        rows.nth(3),
        kind="consent",
        key="company",
        fr="J'accepte les conditions",
        en="I accept the terms",
    )
    rows.nth(3).get_by_label("Obligatoire").check()
    expect(page.get_by_test_id("preview-left-out")).to_contain_text(
        "2 champs contiennent encore une erreur"
    )

    page.get_by_role("button", name="Créer le formulaire").click()
    expect(page.get_by_test_id("builder-errors")).to_contain_text("2 problèmes à corriger")
    expect(page.get_by_test_id("error-fields-2-number_min")).to_have_text(
        "Le minimum est au-dessus du maximum."
    )
    expect(page.get_by_test_id("error-fields-3-key")).to_contain_text("utilise déjà cette clé")
    expect(rows.nth(3).get_by_label("Clé", exact=True)).to_have_attribute("aria-invalid", "true")
    assert Form.objects.count() == 0
    screenshot("smartform-builder-errors-fr")
    axe_check()

    rows.nth(2).get_by_label("Plus petit nombre", exact=True).fill("1")
    rows.nth(3).get_by_label("Clé", exact=True).fill("terms")
    # A message goes once its input is edited: it no longer says anything true.
    expect(page.get_by_test_id("error-fields-3-key")).to_have_count(0)
    expect(rows.nth(3).get_by_label("Clé", exact=True)).not_to_have_attribute(
        "aria-invalid", "true"
    )
    expect(preview_fr.get_by_label("Invités")).to_be_visible()
    expect(page.get_by_test_id("preview-left-out")).to_have_count(0)

    # The guest count goes before the size: the preview follows at once.
    rows.nth(2).get_by_role("button", name="Monter").click()
    expect(rows.nth(1).get_by_label("Clé", exact=True)).to_have_value("guests")
    expect(preview_fr.locator("label").nth(1)).to_contain_text("Invités")
    expect(preview_en.get_by_label("I accept the terms")).to_be_visible()
    at_both_sizes(page, screenshot, axe_check, "smartform-builder-fr")

    # A field added by mistake is removed again: it leaves the preview and is not saved.
    page.get_by_role("button", name="Ajouter un champ").click()
    fill_row(rows.nth(4), kind="email", key="extra", fr="Courriel en trop", en="Extra email")
    expect(preview_fr.get_by_label("Courriel en trop")).to_be_visible()
    rows.nth(4).get_by_role("button", name="Retirer").click()
    expect(rows.nth(4)).to_be_hidden()
    expect(preview_fr.get_by_label("Courriel en trop")).to_have_count(0)

    page.get_by_role("button", name="Créer le formulaire").click()
    expect(page.get_by_role("heading", name="Inscription au gala")).to_be_visible()
    form = Form.objects.get(merchant=merchant)
    fields = form.current_version.fields
    assert [(f["key"], f["type"]) for f in fields] == [
        ("company", "text"),
        ("guests", "number"),
        ("size", "single_choice"),
        ("terms", "consent"),
    ]
    assert fields[1]["min"] == 1 and fields[1]["max"] == 10 and fields[1]["decimal_places"] == 0
    assert fields[2]["choices"][1] == {"value": "m", "label": {"fr": "Moyen", "en": "Medium"}}

    # The same builder in English, the saved form back in its rows.
    page.get_by_role("link", name="Modifier", exact=True).first.click()
    expect(rows).to_have_count(4)
    page.get_by_test_id("language-switch").get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Edit “Inscription au gala”")).to_be_visible()
    expect(page.get_by_role("button", name="Add a field")).to_be_visible()
    expect(preview_en.get_by_label("Guests")).to_be_visible()
    expect(preview_fr.get_by_label("Société")).to_be_visible()
    at_both_sizes(page, screenshot, axe_check, "smartform-builder-en")


def test_the_builder_works_without_javascript(browser, live_server, merchant):
    user = MembershipFactory(merchant=merchant, role="admin").user
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/app/forms/new/")
        page.get_by_label("Email").fill(user.username)
        page.get_by_label("Password").fill("correct-horse-battery")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="New form")).to_be_visible()
        rows = page.get_by_test_id("builder-row")
        page.locator("#id_name").fill("Sans script")
        rows.nth(0).get_by_label("Key", exact=True).fill("company")
        rows.nth(0).get_by_label("Label in English").fill("Company")
        page.get_by_role("button", name="Add a field").click()  # a round trip
        expect(rows).to_have_count(2)
        expect(rows.nth(0).get_by_label("Key", exact=True)).to_have_value("company")
        rows.nth(1).get_by_label("Type").select_option("single_choice")
        rows.nth(1).get_by_label("Key", exact=True).fill("size")
        rows.nth(1).get_by_label("Label in English").fill("Size")
        page.get_by_role("button", name="Preview").click()  # shows the choice options too
        rows.nth(1).get_by_label("Choices", exact=True).fill("s | Petit | Small")
        rows.nth(1).get_by_role("button", name="Move up").click()
        expect(rows.nth(0).get_by_label("Key", exact=True)).to_have_value("size")
        expect(page.get_by_test_id("preview-en").get_by_label("Small")).to_be_visible()
        page.get_by_role("button", name="Create form").click()
        expect(page.get_by_role("heading", name="Sans script")).to_be_visible()
        form = Form.objects.get(merchant=merchant)
        assert [f["key"] for f in form.current_version.fields] == ["size", "company"]
    finally:
        context.close()
