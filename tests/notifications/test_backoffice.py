"""Back-office pages for message templates: operators write templates with a live preview,
send themselves tests, archive and restore them and install the defaults; viewers only read;
another merchant's template does not exist."""

import re
from html import unescape

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from merchants.models import Membership
from notifications import services
from notifications.models import MessageTemplate
from scenarios.models import OutboxMessage
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/app/templates/"
NEW_URL = "/app/templates/new/"
PREVIEW_URL = "/app/templates/preview/"
INSTALL_URL = "/app/templates/install-defaults/"
OUTBOX_BACKEND = "notifications.outbox_backend.OutboxEmailBackend"


@pytest.fixture
def operator(merchant):
    return MembershipFactory(merchant=merchant, role=Membership.Role.ADMIN).user


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def viewer_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role=Membership.Role.VIEWER).user)
    return client


def make_email(merchant, name: str = "Welcome") -> MessageTemplate:
    return services.template_create(
        merchant=merchant,
        name=name,
        channel="email",
        subject={"fr": "Demande {{ request.reference }}", "en": "Request {{ request.reference }}"},
        body_text={"fr": "Bonjour {{ payer.name }}", "en": "Hello {{ payer.name }}"},
        body_html={"en": "<p>Hello <b>{{ payer.name }}</b></p>"},
    )


def make_sms(merchant, name: str = "Nudge") -> MessageTemplate:
    return services.template_create(
        merchant=merchant,
        name=name,
        channel="sms",
        body_text={"fr": "{{ merchant.name }} : {{ amount_due }} a regler. {{ pay_url }}"},
    )


def url(template, action: str = "") -> str:
    return f"/app/templates/{template.public_id}/{action + '/' if action else ''}"


def email_post(**overrides) -> dict:
    data = {
        "channel": "email",
        "name": "Reminder",
        "subject_fr": "Rappel {{ request.reference }}",
        "subject_en": "Reminder {{ request.reference }}",
        "body_text_fr": "Bonjour {{ payer.name }}",
        "body_text_en": "Hello {{ payer.name }}",
        "body_html_fr": "",
        "body_html_en": "<p>Hello {{ payer.name }}</p>",
    }
    data.update(overrides)
    return data


def sms_post(**overrides) -> dict:
    data = {"channel": "sms", "name": "Text", "body_text_fr": "Payez {{ pay_url }}"}
    data.update(overrides)
    return data


def error_next_to(html: str, input_name: str) -> str:
    """The text of the role=alert message tied to an input by aria-describedby."""
    match = re.search(rf'id="id_{input_name}-error" role="alert"[^>]*>([^<]*)<', html)
    assert match, f"no error next to {input_name}"
    return unescape(match.group(1))


# --- Access ---------------------------------------------------------------------------------


def test_the_pages_need_a_login(client, merchant):
    template = make_email(merchant)
    for target in (LIST_URL, NEW_URL, url(template), url(template, "edit")):
        response = client.get(target)
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")
    assert client.post(PREVIEW_URL, sms_post()).status_code == 302


def test_another_merchants_template_is_a_404_on_every_page(operator_client, other_merchant):
    theirs = make_email(other_merchant, name="Secret")
    for action in ("", "edit"):
        assert operator_client.get(url(theirs, action)).status_code == 404
    for action in ("edit", "archive", "restore", "send-test"):
        assert operator_client.post(url(theirs, action), email_post()).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Secret" and not theirs.is_archived
    assert len(mail.outbox) == 0
    assert operator_client.get("/app/templates/tp_doesnotexist/").status_code == 404


def test_a_viewer_can_read_but_every_change_is_refused(viewer_client, merchant):
    template = make_email(merchant)

    listing = viewer_client.get(LIST_URL).content.decode()
    assert "Welcome" in listing
    for hidden in ("New email template", "New SMS template", "Install default templates"):
        assert hidden not in listing
    detail = viewer_client.get(url(template)).content.decode()
    assert "Hello Camille Martin" in detail  # the preview is for everyone
    for hidden in ("Send me a test", "Archive", url(template, "edit")):
        assert hidden not in detail
    # Rendering stores nothing, so a viewer may preview too.
    assert viewer_client.post(PREVIEW_URL, sms_post()).status_code == 200

    assert viewer_client.get(NEW_URL).status_code == 403
    assert viewer_client.post(NEW_URL, email_post()).status_code == 403
    assert viewer_client.get(url(template, "edit")).status_code == 403
    assert viewer_client.post(url(template, "edit"), email_post()).status_code == 403
    assert viewer_client.post(url(template, "archive")).status_code == 403
    assert viewer_client.post(url(template, "restore")).status_code == 403
    assert viewer_client.post(url(template, "send-test"), {"language": "en"}).status_code == 403
    assert viewer_client.post(INSTALL_URL).status_code == 403

    assert MessageTemplate.objects.count() == 1
    template.refresh_from_db()
    assert template.name == "Welcome" and not template.is_archived
    assert len(mail.outbox) == 0


# --- List -----------------------------------------------------------------------------------


def test_the_list_shows_name_channel_default_stage_and_archived(
    operator_client, merchant, other_merchant
):
    make_email(merchant, name="Welcome")
    old = make_sms(merchant, name="Old nudge")
    services.template_archive(template=old)
    services.template_install_defaults(merchant=merchant, stages=["overdue_reminder"])
    make_email(other_merchant, name="Their template")

    page = operator_client.get(LIST_URL).content.decode()
    assert "Welcome" in page and "Old nudge" in page
    assert "Overdue reminder (email)" in page and "Overdue reminder (SMS)" in page
    assert "Their template" not in page
    row = re.search(r"<tr>\s*<td><a[^>]*>Old nudge</a>.*?</tr>", page, re.S).group(0)
    assert "SMS" in row and "Archived" in row
    default_row = re.search(r"<tr>\s*<td><a[^>]*>Overdue reminder \(SMS\).*?</tr>", page, re.S)
    assert "Overdue reminder" in default_row.group(0).split("</td>", 2)[2]

    sms_only = operator_client.get(LIST_URL, {"channel": "sms"}).content.decode()
    assert "Old nudge" in sms_only and "Welcome" not in sms_only
    active = operator_client.get(LIST_URL, {"status": "active"}).content.decode()
    assert "Welcome" in active and "Old nudge" not in active


def test_the_list_costs_the_same_number_of_queries_for_any_number_of_templates(
    operator_client, merchant
):
    make_email(merchant, name="T0")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert operator_client.get(LIST_URL).status_code == 200
        return len(queries)

    count()  # the first visit also remembers the merchant in the session
    few = count()
    for n in range(1, 12):
        make_sms(merchant, name=f"T{n}")
    assert count() == few


# --- Create and edit ------------------------------------------------------------------------


def test_an_operator_creates_an_email_template(operator_client, merchant):
    response = operator_client.post(NEW_URL, email_post())

    template = MessageTemplate.objects.get(merchant=merchant)
    assert response.status_code == 302 and response.url == url(template)
    assert template.channel == "email"
    assert template.subject == {
        "fr": "Rappel {{ request.reference }}",
        "en": "Reminder {{ request.reference }}",
    }
    assert template.body_html == {"en": "<p>Hello {{ payer.name }}</p>"}  # blank fr left out
    detail = operator_client.get(response.url).content.decode()
    assert "created" in detail and "Reminder INV-2026-0042" in detail


def test_an_operator_creates_an_sms_template_from_the_sms_editor(operator_client, merchant):
    page = operator_client.get(NEW_URL, {"channel": "sms"}).content.decode()
    assert 'for="id_body_text_fr">Message (Français)' in page
    assert "subject_fr" not in page and "body_html_fr" not in page

    response = operator_client.post(NEW_URL, sms_post())

    template = MessageTemplate.objects.get(merchant=merchant)
    assert response.status_code == 302
    assert template.channel == "sms" and template.body_text == {"fr": "Payez {{ pay_url }}"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hello\n{{ payer.iban }}", "Line 2: unknown variable 'payer.iban'"),
        ("Hello\n\n{% load static %}", "Line 3:"),
        ("Hello {{ payer.name", "Line 1:"),
        ("A\nB {% if payer.name %}open", "Line 2:"),
    ],
)
def test_a_refused_template_is_shown_next_to_its_field_with_the_line_and_nothing_is_saved(
    operator_client, source, expected
):
    response = operator_client.post(NEW_URL, email_post(body_text_en=source))

    assert response.status_code == 422
    message = error_next_to(response.content.decode(), "body_text_en")
    assert message.startswith("Text (English): ")
    assert expected in message
    assert MessageTemplate.objects.count() == 0
    # What was typed is kept, so nothing is lost either.
    assert "Bonjour {{ payer.name }}" in response.content.decode()


def test_a_forbidden_tag_in_the_html_names_the_french_html(operator_client):
    response = operator_client.post(
        NEW_URL, email_post(body_html_fr="<p>Hi</p>\n{% include 'x.html' %}")
    )

    assert response.status_code == 422
    message = error_next_to(response.content.decode(), "body_html_fr")
    assert "HTML (Français, optional): Line 2: the tag 'include' is not allowed" in message
    assert MessageTemplate.objects.count() == 0


def test_a_required_text_and_a_duplicate_name_are_refused_next_to_their_inputs(
    operator_client, merchant
):
    response = operator_client.post(NEW_URL, email_post(body_text_fr="", body_text_en=""))
    assert response.status_code == 422
    assert "needs a French or an English text" in error_next_to(
        response.content.decode(), "body_text_fr"
    )

    make_email(merchant, name="Reminder")
    response = operator_client.post(NEW_URL, email_post())
    assert response.status_code == 422
    assert "already exists" in error_next_to(response.content.decode(), "name")
    assert MessageTemplate.objects.count() == 1


def test_editing_shows_the_stored_texts_and_saves_changes(operator_client, merchant):
    template = make_email(merchant)
    page = operator_client.get(url(template, "edit")).content.decode()
    assert "Demande {{ request.reference }}" in page
    assert 'name="channel" value="email"' in page

    response = operator_client.post(
        url(template, "edit"), email_post(name="Welcome v2", body_html_en="")
    )

    assert response.status_code == 302
    template.refresh_from_db()
    assert template.name == "Welcome v2"
    assert template.body_html == {}
    assert template.subject["en"] == "Reminder {{ request.reference }}"


def test_a_refused_edit_leaves_the_stored_template_exactly_as_it_was(operator_client, merchant):
    template = make_email(merchant)
    before = (template.name, template.subject, template.body_text, template.body_html)

    response = operator_client.post(
        url(template, "edit"),
        email_post(name="Renamed", subject_fr="Demande {{ request.reference }", body_text_en="x"),
    )

    assert response.status_code == 422
    assert "Subject (Français): Line 1:" in error_next_to(response.content.decode(), "subject_fr")
    template.refresh_from_db()
    assert (template.name, template.subject, template.body_text, template.body_html) == before


def test_the_channel_of_a_template_cannot_be_changed_by_the_editor(operator_client, merchant):
    template = make_sms(merchant)

    response = operator_client.post(
        url(template, "edit"), email_post(name="Nudge", body_text_fr="Payez {{ pay_url }}")
    )

    assert response.status_code == 302
    template.refresh_from_db()
    assert template.channel == "sms" and template.subject == {}


# --- Live preview ---------------------------------------------------------------------------


def preview(client, **data) -> str:
    response = client.post(PREVIEW_URL, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # a partial, swapped into the editor
    return html


def stat(html: str, name: str, language: str = "fr") -> str:
    return re.search(rf'data-testid="sms-{name}-{language}">([^<]*)<', html).group(1)


def test_the_preview_counts_sms_segments_and_encoding_as_the_operator_types(operator_client):
    html = preview(operator_client, channel="sms", body_text_fr="a" * 160)
    assert (stat(html, "characters"), stat(html, "segments")) == ("160", "1")
    assert stat(html, "encoding") == "GSM-7"

    html = preview(operator_client, channel="sms", body_text_fr="a" * 161)
    assert (stat(html, "characters"), stat(html, "segments")) == ("161", "2")

    html = preview(operator_client, channel="sms", body_text_fr="Prêt à payer ?")
    assert stat(html, "encoding") == "UCS-2"
    assert re.search(r"Not in the GSM-7 alphabet: <code[^>]*>ê</code>", html)  # the culprit
    assert "GSM-7: 160 characters in one SMS" not in html

    html = preview(operator_client, channel="sms", body_text_fr="x" * 71 + "ê")
    assert (stat(html, "characters"), stat(html, "segments")) == ("72", "2")
    assert MessageTemplate.objects.count() == 0


def test_the_sms_preview_renders_sample_values_and_falls_back_per_language(operator_client):
    html = preview(
        operator_client, channel="sms", body_text_fr="{{ payer.name }} : {{ amount_due }}"
    )

    assert "Camille Martin : 120,00 €" in html  # sample values, plain spaces for SMS
    assert stat(html, "encoding", "en") == "GSM-7"
    assert "falls back to Français" in html


def test_the_email_preview_renders_subject_text_and_html_in_a_sandboxed_frame(operator_client):
    html = preview(
        operator_client,
        channel="email",
        subject_en="Pay {{ request.reference }}",
        body_text_en="Hello {{ payer.name }}",
        body_html_en='<p class="x">Hello {{ payer.name }}</p><script>alert(1)</script>',
    )

    assert "Pay INV-2026-0042" in html
    assert "Hello Camille Martin" in html
    frame = re.search(r"<iframe[^>]*>", html).group(0)
    assert 'sandbox=""' in frame
    assert 'srcdoc="&lt;p class=&quot;x&quot;&gt;Hello Camille Martin' in frame
    assert "<script>" not in html  # the HTML only ever lives, escaped, in srcdoc


def test_the_preview_names_a_refused_field_and_line_and_still_renders_the_rest(operator_client):
    html = preview(
        operator_client,
        channel="sms",
        body_text_fr="Bonjour\n{{ payer.iban }}",
        body_text_en="Hello {{ payer.name }}",
    )

    problems = unescape(html.split('data-testid="preview-problems"')[1].split("</div>")[0])
    assert "<strong>Message (Français)</strong>: Line 2: unknown variable 'payer.iban'" in problems
    assert "Hello Camille Martin" in html
    # The error also goes next to its input, and the other input's error slot is emptied.
    slots = dict(re.findall(r'id="id_(\w+)-error"[^>]*hx-swap-oob="true">([^<]*)<', html))
    assert unescape(slots["body_text_fr"]).startswith("Message (Français): Line 2: unknown")
    assert slots["body_text_en"] == ""
    assert MessageTemplate.objects.count() == 0


def test_the_editor_opens_with_the_preview_already_rendered(operator_client, merchant):
    template = make_sms(merchant)

    page = operator_client.get(url(template, "edit")).content.decode()

    assert 'hx-post="/app/templates/preview/"' in page
    assert 'hx-trigger="keyup changed delay:400ms' in page
    assert "Alpha Shop : 120,00 € a regler." in page
    assert stat(page, "segments") == "1"


# --- Test sends -----------------------------------------------------------------------------


def test_send_me_a_test_emails_the_operator_through_the_configured_backend(
    operator_client, merchant, operator
):
    template = make_email(merchant)

    response = operator_client.post(url(template, "send-test"), {"language": "en"})

    assert response.status_code == 302
    [sent] = mail.outbox
    assert sent.to == [operator.email]
    assert sent.subject == "[Test] Request INV-2026-0042"
    assert sent.body == "Hello Camille Martin"
    assert sent.alternatives[0][0] == "<p>Hello <b>Camille Martin</b></p>"
    page = operator_client.get(response.url).content.decode()
    assert f"sent to {operator.email}" in page
    assert MessageTemplate.objects.count() == 1


def test_with_the_local_outbox_a_test_email_lands_in_the_outbox_for_this_merchant(
    operator_client, merchant, operator, settings
):
    settings.EMAIL_BACKEND = OUTBOX_BACKEND
    template = make_email(merchant)

    operator_client.post(url(template, "send-test"), {"language": "fr"})

    [kept] = OutboxMessage.objects.all()
    assert (kept.channel, kept.to, kept.merchant_id) == ("email", operator.email, merchant.pk)
    assert kept.subject == "[Test] Demande INV-2026-0042"
    assert kept.text == "Bonjour Camille Martin"
    # French has no HTML: it falls back to the English one.
    assert kept.html == "<p>Hello <b>Camille Martin</b></p>"


def test_a_test_sms_goes_to_the_number_the_operator_typed(operator_client, merchant, settings):
    settings.SMS_BACKEND = "outbox"
    template = make_sms(merchant)

    refused = operator_client.post(url(template, "send-test"), {"language": "fr", "phone": "06"})
    assert refused.status_code == 422
    assert "E.164" in error_next_to(refused.content.decode(), "phone")
    assert OutboxMessage.objects.count() == 0

    response = operator_client.post(
        url(template, "send-test"), {"language": "fr", "phone": "+33 6 12 34 56 78"}
    )

    assert response.status_code == 302
    [kept] = OutboxMessage.objects.all()
    assert (kept.channel, kept.to, kept.merchant_id) == ("sms", "+33612345678", merchant.pk)
    assert kept.text.startswith("Alpha Shop : 120,00 € a regler.")
    assert len(mail.outbox) == 0


def test_an_operator_without_an_email_address_is_told_so(client, merchant):
    user = MembershipFactory(merchant=merchant, user__email="").user
    client.force_login(user)
    template = make_email(merchant)

    response = client.post(url(template, "send-test"), {"language": "en"})

    assert response.status_code == 422
    assert "valid address" in response.content.decode()
    assert len(mail.outbox) == 0


# --- Archive, restore, defaults -------------------------------------------------------------


def test_an_operator_archives_and_restores_a_template(operator_client, merchant):
    template = make_email(merchant)

    operator_client.post(url(template, "archive"))
    template.refresh_from_db()
    assert template.is_archived
    page = operator_client.get(url(template)).content.decode()
    assert "Restore" in page and ">Archive<" not in page

    operator_client.post(url(template, "restore"))
    template.refresh_from_db()
    assert not template.is_archived


def test_installing_the_defaults_adds_them_once(operator_client, merchant):
    response = operator_client.post(INSTALL_URL, follow=True)

    installed = MessageTemplate.objects.filter(merchant=merchant).count()
    assert installed == 30
    assert "30 default templates installed" in response.content.decode()

    again = operator_client.post(INSTALL_URL, follow=True)
    assert MessageTemplate.objects.filter(merchant=merchant).count() == installed
    assert "already installed" in again.content.decode()
