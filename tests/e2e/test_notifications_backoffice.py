"""An operator writes an SMS template while watching its segment count, writes an email
template, sends a test to themselves and reads it in the outbox, then builds a scenario."""

import json
import re

import pytest
from playwright.sync_api import expect

from notifications.models import MessageTemplate
from scenarios.models import OutboxMessage, Scenario
from tests.factories import MembershipFactory, MerchantFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OUTBOX_BACKEND = "notifications.outbox_backend.OutboxEmailBackend"


@pytest.fixture
def merchant(db):
    # The story is about the templates an operator writes: start without the shipped ones.
    return MerchantFactory(name="Alpha Shop", shipped_templates=False)


@pytest.fixture
def operator(merchant):
    return MembershipFactory(merchant=merchant, user__email="camille.ops@example.com").user


@pytest.fixture(autouse=True)
def local_outbox(settings):
    settings.EMAIL_BACKEND = OUTBOX_BACKEND
    settings.SMS_BACKEND = "outbox"
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False


def log_in(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/app/templates/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Email").fill(user.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Message templates")).to_be_visible()


def test_an_operator_writes_templates_sends_a_test_and_builds_a_scenario(
    page, live_server, merchant, operator, screenshot, axe_check
):
    log_in(page, live_server, operator)

    # --- An SMS template: the segment count follows the typing ------------------------------
    page.get_by_role("link", name="New SMS template").click()
    expect(page.get_by_role("heading", name="New SMS template")).to_be_visible()
    page.get_by_label("Name").fill("Friendly nudge")
    message = page.get_by_label("Message (Français)")
    segments = page.get_by_test_id("sms-segments-fr")
    wording = "{{ merchant.name }} : il reste {{ amount_due }} a regler avant le {{ deadline }}. "
    message.press_sequentially(wording)
    expect(segments).to_have_text("1")
    expect(page.get_by_test_id("sms-encoding-fr")).to_have_text("GSM-7")
    characters = int(page.get_by_test_id("sms-characters-fr").inner_text())
    assert 60 < characters < 153
    message.press_sequentially(
        "Payez en ligne : {{ pay_url }} Pour toute question, repondez a ce message. Merci !"
    )
    expect(segments).to_have_text("2")
    # English falls back to the French text until it is written.
    expect(page.get_by_test_id("preview-en")).to_contain_text("falls back to Français")
    message.press_sequentially(" Bonne journée, à bientôt")
    expect(page.get_by_test_id("sms-encoding-fr")).to_have_text("UCS-2")
    expect(page.get_by_test_id("preview-fr-sms-hint")).to_contain_text(
        "Not in the GSM-7 alphabet: ô"
    )
    page.get_by_label("Message (English)").press_sequentially(
        "{{ merchant.name }}: {{ amount_due }} due. Pay: {{ pay_url }}"
    )
    expect(page.get_by_test_id("sms-segments-en")).to_have_text("1")
    expect(page.get_by_test_id("preview-en")).not_to_contain_text("falls back")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot("notifications-sms-editor")
    axe_check()
    assert MessageTemplate.objects.count() == 0  # the preview never saves

    page.get_by_role("button", name="Create template").click()
    expect(page.get_by_role("heading", name="Friendly nudge")).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("created")

    # --- An email template: refused once, with the line, then saved -------------------------
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("button", name="Configuration").click()
    nav.get_by_role("link", name="Message templates").click()
    expect(page.get_by_test_id("template-table")).to_contain_text("Friendly nudge")
    screenshot("notifications-template-list")
    axe_check()
    page.get_by_role("link", name="New email template").click()
    page.get_by_label("Name").fill("Payment reminder")
    page.get_by_label("Subject (English)").fill("Reminder: {{ request.reference }}")
    page.get_by_label("Text (English)").fill("Hello {{ payer.name }},\n\nIBAN: {{ payer.iban }}")
    page.get_by_label("Text (Français)").fill("Bonjour {{ payer.name }},\n\n{{ pay_url }}")
    page.get_by_label("Subject (Français)").press_sequentially("Rappel : {{ request.reference }}")
    expect(page.get_by_test_id("preview-fr-subject")).to_have_text("Rappel : INV-2026-0042")
    expect(page.get_by_test_id("preview-problems")).to_contain_text(
        "Line 3: unknown variable 'payer.iban'"
    )
    page.get_by_role("button", name="Create template").click()
    expect(page.get_by_test_id("error-body_text_en")).to_have_text(
        "Text (English): Line 3: unknown variable 'payer.iban'"
    )
    expect(page.get_by_label("Text (English)")).to_have_attribute("aria-invalid", "true")
    assert MessageTemplate.objects.count() == 1

    page.get_by_label("Text (English)").fill(
        "Hello {{ payer.name }},\n\nPlease pay {{ amount_due }} before {{ deadline }}:\n"
        "{{ pay_url }}"
    )
    page.get_by_label("HTML (English, optional)").press_sequentially(
        "<p>Hello <strong>{{ payer.name }}</strong>,</p><p>Please pay {{ amount_due }}.</p>"
        '<p><a href="{{ pay_url }}" style="background:#0d6efd;color:#fff;padding:8px 16px;'
        'border-radius:4px;text-decoration:none">Pay now</a></p>'
    )
    expect(page.get_by_test_id("preview-en-html")).to_be_visible()
    # The live check cleared the error the refused save had put next to the text.
    expect(page.get_by_test_id("error-body_text_en")).to_have_text("")
    frame = page.frame_locator('[data-testid="preview-en-html"]')
    expect(frame.get_by_text("Camille Martin")).to_be_visible()
    expect(page.get_by_test_id("preview-problems")).to_have_count(0)
    page.evaluate("window.scrollTo(0, 0)")  # the preview pane follows the scroll
    screenshot("notifications-email-editor")
    axe_check()
    page.get_by_role("button", name="Create template").click()
    expect(page.get_by_role("heading", name="Payment reminder")).to_be_visible()

    # --- Send me a test, then read it in the outbox -----------------------------------------
    page.get_by_label("Language").select_option("en")
    page.get_by_role("button", name="Send me a test").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "Test message (English) sent to camille.ops@example.com"
    )
    assert OutboxMessage.objects.filter(merchant=merchant, channel="email").count() == 1
    english_html = page.frame_locator(
        '[data-testid="template-preview"] [data-testid="preview-en-html"]'
    )
    expect(english_html.get_by_role("link", name="Pay now")).to_be_visible()
    page.get_by_test_id("template-preview").get_by_test_id(
        "preview-en-html"
    ).scroll_into_view_if_needed()
    screenshot("notifications-template-detail")
    axe_check()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Payers' messages").click()
    expect(page.get_by_role("heading", name="Outbox")).to_be_visible()
    card = page.get_by_test_id("outbox-message").first
    expect(card).to_contain_text("[Test] Reminder: INV-2026-0042")
    expect(card).to_contain_text("camille.ops@example.com")
    expect(card.get_by_test_id("outbox-text")).to_contain_text("Hello Camille Martin")
    expect(
        page.frame_locator('[data-testid="outbox-html"]').first.get_by_role("link", name="Pay now")
    ).to_be_visible()
    screenshot("notifications-outbox")
    axe_check()

    # --- A scenario using both templates ----------------------------------------------------
    email = MessageTemplate.objects.get(name="Payment reminder")
    sms = MessageTemplate.objects.get(name="Friendly nudge")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("button", name="Configuration").click()
    nav.get_by_role("link", name="Scenarios").click()
    expect(page.get_by_role("heading", name="Scenarios")).to_be_visible()
    axe_check()
    page.get_by_role("link", name="New scenario").click()
    # The builder is the default; this story types the steps in the advanced JSON editor.
    page.get_by_role("link", name="Advanced: edit as JSON").click()
    expect(page.get_by_test_id("template-ids")).to_contain_text(email.public_id)
    page.get_by_label("Name").fill("Standard")
    steps = [
        {"trigger": "request_created", "audience": "all_participants", "channel": "email",
         "template": email.public_id},
        {"trigger": "before_deadline", "offset": "P2D", "audience": "unpaid_participants",
         "channel": "sms", "template": sms.public_id,
         "quiet_hours": {"start": "21:00", "end": "08:00"}},
        {"trigger": "after_deadline", "offset": "P1D", "repeat_every": "P3D", "repeat_max": 3,
         "audience": "unpaid_participants", "channel": "email", "template": email.public_id},
    ]  # fmt: skip
    steps_input = page.get_by_label("Steps (JSON)")
    broken = [dict(steps[0]), {**steps[1], "offset": "-P2D"}]
    steps_input.fill(json.dumps(broken, indent=2))
    page.get_by_role("button", name="Create scenario").click()
    expect(page.get_by_test_id("steps-error")).to_contain_text("steps[1].offset")
    axe_check()
    assert Scenario.objects.count() == 0

    steps_input.fill(json.dumps(steps, indent=2))
    page.get_by_role("button", name="Create scenario").click()
    expect(page.get_by_role("heading", name="Standard")).to_be_visible()
    rows = page.get_by_test_id("step-table").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_contain_text("2 days before the deadline")
    expect(rows.nth(2)).to_contain_text("Every 3 days, 3 messages in all")
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    screenshot("notifications-scenario-detail")
    axe_check()
