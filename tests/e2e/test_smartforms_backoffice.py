"""An operator defines a smart form, tries it as a French payer would, and archives it."""

import json
import re

import pytest
from playwright.sync_api import expect

from smartforms import services
from smartforms.models import Form, Submission
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FIELDS = [
    {
        "key": "company",
        "type": "text",
        "label": {"fr": "Société", "en": "Company"},
        "help_text": {"fr": "Comme sur votre facture", "en": "As on your invoice"},
        "required": True,
    },
    {"key": "email", "type": "email", "label": {"fr": "E-mail", "en": "Email"}, "required": True},
    {
        "key": "terms",
        "type": "consent",
        "label": {"fr": "J'accepte les conditions", "en": "I accept the terms"},
        "required": True,
    },
]


@pytest.fixture
def operator(merchant):
    return MembershipFactory(merchant=merchant).user


def log_in(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/app/forms/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Email").fill(user.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Forms")).to_be_visible()


def test_an_operator_creates_previews_and_archives_a_form(
    page, live_server, merchant, operator, screenshot, axe_check
):
    log_in(page, live_server, operator)

    page.get_by_role("link", name="New form").click()
    expect(page.get_by_role("heading", name="New form")).to_be_visible()
    # The builder is the default; this operator writes JSON in the advanced editor.
    page.get_by_role("link", name="Advanced: edit as JSON").click()
    expect(page.get_by_role("heading", name="New form")).to_be_visible()
    page.get_by_label("Name").fill("Gala registration")
    # A first try with a field key used twice is refused next to the editor.
    duplicated = json.dumps([FIELDS[0], FIELDS[0]], indent=2, ensure_ascii=False)
    page.get_by_label("Fields (JSON)").fill(duplicated)
    page.get_by_role("button", name="Create form").click()
    expect(page.get_by_test_id("fields-error")).to_contain_text("fields[1].key")
    assert Form.objects.count() == 0
    screenshot("smartforms-editor-error")
    axe_check()

    page.get_by_label("Fields (JSON)").fill(json.dumps(FIELDS, indent=2, ensure_ascii=False))
    page.get_by_role("button", name="Create form").click()
    expect(page.get_by_role("heading", name="Gala registration")).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("created as version 1")
    expect(page.get_by_test_id("field-table").locator("tbody tr")).to_have_count(3)

    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_test_id("version-notice")).to_contain_text("not used yet")
    screenshot("smartforms-editor")
    axe_check()
    page.get_by_role("link", name="Cancel").click()

    page.get_by_role("link", name="Forms", exact=True).first.click()
    table = page.get_by_test_id("form-table")
    expect(table).to_contain_text("Gala registration")
    expect(table).to_contain_text("v1")
    screenshot("smartforms-list")
    axe_check()

    page.get_by_role("link", name="Preview Gala registration").click()
    page.get_by_role("link", name="Français").click()
    expect(page.get_by_label("Société")).to_be_visible()
    expect(page.get_by_text("Comme sur votre facture")).to_be_visible()
    page.get_by_label("Société").fill("Acme")
    page.get_by_label("E-mail").fill("pas-un-email")
    page.get_by_label("J'accepte les conditions").check()
    page.get_by_role("button", name="Check answers").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("« E-mail » : saisissez une adresse e-mail valide.")
    expect(page.get_by_label("E-mail")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Société")).to_have_value("Acme")
    screenshot("smartforms-preview-fr")
    axe_check()
    assert Submission.objects.count() == 0

    page.get_by_label("E-mail").fill("compta@example.com")
    page.get_by_role("button", name="Check answers").click()
    expect(page.get_by_test_id("preview-accepted")).to_contain_text("Nothing was saved")
    assert Submission.objects.count() == 0

    # A payer answers: version 1 is now locked, and the editor says what saving will do.
    form = Form.objects.get()
    services.submission_create(
        form_version=form.current_version,
        answers={"company": "Acme", "email": "compta@example.com", "terms": "on"},
        language="fr",
    )
    page.get_by_role("link", name="Gala registration").click()
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_test_id("version-notice")).to_contain_text("Version 1 is locked")
    expect(page.get_by_test_id("version-notice")).to_contain_text("version 2")
    screenshot("smartforms-editor-locked")
    axe_check()
    page.get_by_role("link", name="Cancel").click()

    page.get_by_role("link", name="Submissions (1)").click()
    submissions = page.get_by_test_id("submission-table")
    expect(submissions).to_contain_text("compta@example.com")
    expect(submissions.locator("tbody tr")).to_have_count(1)
    screenshot("smartforms-submissions")
    axe_check()

    page.get_by_role("link", name="Gala registration").click()
    page.get_by_role("link", name="Archive").click()
    expect(page.get_by_role("heading", name="Archive “Gala registration”?")).to_be_visible()
    page.get_by_role("button", name="Archive this form").click()
    expect(page.get_by_role("status").first).to_contain_text("archived")
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    assert Form.objects.get().status == Form.Status.ARCHIVED
    screenshot("smartforms-detail-archived")
    axe_check()
