"""The shipped templates: every stage, channel and language passes the sandbox and renders."""

import pytest

from notifications import selectors, services
from notifications.defaults import DEFAULT_TEMPLATES, STAGES
from notifications.models import MessageTemplate
from notifications.rendering import check_source, render_message, sample_message_data

CASES = [
    (stage, channel, field, language)
    for stage in STAGES
    for channel, texts in DEFAULT_TEMPLATES[stage].items()
    for field, by_language in texts.items()
    for language in by_language
]


def test_every_stage_has_email_and_sms_in_french_and_english():
    assert set(DEFAULT_TEMPLATES) == set(STAGES)
    assert len(STAGES) == 15
    for stage in STAGES:
        email, sms = DEFAULT_TEMPLATES[stage]["email"], DEFAULT_TEMPLATES[stage]["sms"]
        for field in ("subject", "body_text", "body_html"):
            assert set(email[field]) == {"fr", "en"}, (stage, field)
        assert set(sms) == {"body_text"}
        assert set(sms["body_text"]) == {"fr", "en"}


@pytest.mark.parametrize(("stage", "channel", "field", "language"), CASES)
def test_every_default_passes_the_same_validation_as_a_merchants_template(
    stage, channel, field, language
):
    source = DEFAULT_TEMPLATES[stage][channel][field][language]
    check_source(source, field=f"{field}.{language}")


@pytest.mark.django_db
def test_installing_the_defaults_twice_creates_them_once(merchant):
    first = services.template_install_defaults(merchant=merchant)
    second = services.template_install_defaults(merchant=merchant)

    assert len(first) == 30
    assert [t.pk for t in first] == [t.pk for t in second]
    assert MessageTemplate.objects.filter(merchant=merchant).count() == 30


@pytest.mark.django_db
def test_installing_keeps_a_merchants_edits_and_names(merchant):
    services.template_create(
        merchant=merchant, name="Request sent (SMS)", channel="sms", body_text={"fr": "Mien"}
    )
    services.template_install_defaults(merchant=merchant, stages=["request_created"])
    installed = selectors.template_for_stage(
        merchant=merchant, stage="request_created", channel="sms"
    )
    services.template_update(template=installed, body_text={"fr": "Modifié"})

    services.template_install_defaults(merchant=merchant)

    installed.refresh_from_db()
    assert installed.name == "Request sent (SMS) 2"
    assert installed.body_text == {"fr": "Modifié"}


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_installed_default_renders_in_both_languages(merchant, language):
    templates = services.template_install_defaults(merchant=merchant)
    data = sample_message_data(merchant_name=merchant.name, payer_name="Zoé <Durand>")

    for template in templates:
        rendered = render_message(template=template, language=language, data=data)

        assert rendered.source_language == language
        assert "{{" not in rendered.text and "{%" not in rendered.text
        assert merchant.name in rendered.text, template.name
        if template.channel == "email":
            assert rendered.subject and "\n" not in rendered.subject
            assert "<Durand>" not in rendered.html
            assert "{{" not in rendered.html
        else:
            assert rendered.sms.encoding == "GSM-7", (template.name, rendered.text)
            assert rendered.sms.segments <= 2, (template.name, rendered.text)


@pytest.mark.django_db
def test_the_plan_confirmation_lists_the_whole_schedule(merchant):
    services.template_install_defaults(merchant=merchant, stages=["installment_plan_confirmed"])
    template = selectors.template_for_stage(
        merchant=merchant, stage="installment_plan_confirmed", channel="email"
    )

    rendered = render_message(
        template=template, language="en", data=sample_message_data(merchant_name="Shop")
    )

    assert rendered.text.count("€40.00") == 3
    assert rendered.html.count("<li>") == 3
