"""The sandbox: what a template may reach, and how a refusal names the place at fault."""

import pytest

from notifications import services
from notifications.models import MessageTemplate
from notifications.rendering import (
    MessageData,
    build_context,
    check_source,
    render_message,
    sample_message_data,
)
from pushpay.errors import InvalidInput

from .helpers import URL, email_body, error_of


def refusal(source: str, field: str = "body_text.fr") -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        check_source(source, field=field)
    return caught.value


@pytest.mark.django_db
def test_an_unknown_variable_is_refused_with_its_field_and_line(api):
    html = "<p>Hello {{ payer.name }}</p>\n<p>Your bank:</p>\n<p>{{ payer.iban }}</p>"
    response = api.post(URL, email_body(body_html={"fr": html}), format="json")

    assert response.status_code == 422
    assert error_of(response) == {
        "type": "invalid_request_error",
        "code": "unknown_variable",
        "message": "Line 3: unknown variable 'payer.iban'",
        "field": "body_html.fr",
    }
    assert not MessageTemplate.objects.exists()


@pytest.mark.django_db
def test_a_syntax_error_is_refused_with_its_line(api):
    text = "Hello {{ payer.name }}\n\n{% if amount_due %}Pay {{ amount_due }}"
    response = api.post(URL, email_body(body_text={"en": text}), format="json")

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "template_syntax_error"
    assert error["field"] == "body_text.en"
    assert error["message"].startswith("Line 3: Unclosed tag")


def test_an_unclosed_variable_or_tag_is_a_syntax_error_rather_than_text_the_payer_sees():
    assert refusal("Hello\n\nthere {{ payer.name").message == (
        "Line 3: '{{' is never closed by '}}'"
    )
    assert refusal("Hello {% if amount_due").code == "template_syntax_error"
    assert refusal("{{ payer.name|upper: }}").code == "template_syntax_error"
    # Garbage Django's own parser trips over is still a refusal, never a crash.
    assert refusal('{% if _("a")elsexwith %}').code == "template_syntax_error"


def test_a_group_may_be_aliased_but_not_printed_or_filtered():
    check_source("{% with p=payer %}{{ p.name }}{% endwith %}", field="body_text.fr")
    assert refusal("{% with p=payer %}{{ p }}{% endwith %}").code == "unknown_variable"
    assert refusal("{% with p=payer %}{{ p.iban }}{% endwith %}").code == "unknown_variable"
    assert refusal("{% with p=payer|upper %}{% endwith %}").code == "unknown_variable"


@pytest.mark.parametrize(
    ("source", "tag"),
    [
        ("{% load static %}", "load"),
        ('{% include "emails/base.html" %}', "include"),
        ('{% extends "base.html" %}', "extends"),
        ("{% debug %}", "debug"),
        ('{% ssi "/etc/passwd" %}', "ssi"),
        ('{% url "admin:index" %}', "url"),
        ("{% csrf_token %}", "csrf_token"),
        ('{% now "Y" %}', "now"),
        ("{% templatetag openblock %}", "templatetag"),
        ("{% verbatim %}{{ x }}{% endverbatim %}", "verbatim"),
        ("{% autoescape off %}{{ payer.name }}{% endautoescape %}", "autoescape"),
        ("{% filter upper %}x{% endfilter %}", "filter"),
        ("{% cycle 'a' 'b' %}", "cycle"),
        ("{% lorem 3 w %}", "lorem"),
    ],
)
def test_tags_outside_the_allow_list_are_forbidden(source, tag):
    error = refusal("Hello\n" + source)

    assert error.code == "forbidden_tag"
    assert error.message == f"Line 2: the tag '{tag}' is not allowed"


def test_a_forbidden_tag_inside_a_comment_is_only_a_comment():
    check_source("{% comment %}{% load static %}{% endcomment %}Hi", field="body_text.fr")


@pytest.mark.parametrize(
    "source",
    [
        "{{ settings.SECRET_KEY }}",
        "{{ request.merchant.api_keys }}",
        "{{ request.merchant }}",
        "{{ payer.name.upper }}",
        "{{ payer.items }}",
        "{{ payer }}",
        "{{ merchant.api_keys.all }}",
        "{{ request.delete }}",
        "{{ view.request.user }}",
        "{{ forloop.counter }}",
        "{% for item in schedule %}{{ item.amount.real }}{% endfor %}",
        "{% for item in schedule %}{% endfor %}{{ item.amount }}",
        "{% if settings.DEBUG %}x{% endif %}",
        "{% if amount_due %}{% elif settings.DEBUG %}{% endif %}",
        "{% with key=settings.SECRET_KEY %}{{ key }}{% endwith %}",
        "{{ payer.name|default:settings.SECRET_KEY }}",
    ],
)
def test_anything_outside_the_whitelist_is_refused_at_save(source):
    assert refusal(source).code == "unknown_variable"


@pytest.mark.parametrize(
    "source",
    [
        "{{ payer.__class__ }}",
        "{{ payer._meta }}",
        "{{ request.__dict__ }}",
        "{{ __builtins__ }}",
        "{% for c in payer.__class__.__mro__ %}{% endfor %}",
    ],
)
def test_underscore_attributes_never_compile(source):
    assert refusal(source).code in {"template_syntax_error", "unknown_variable"}


@pytest.mark.parametrize(
    "source",
    [
        "{{ payer.name|safe }}",
        "{{ schedule|safeseq }}",
        "{{ schedule|dictsort:'amount' }}",
        "{{ payer|pprint }}",
        "{{ deadline|date:'Y' }}",
        "{{ payer.name|nonexistent }}",
    ],
)
def test_filters_outside_the_allow_list_are_refused(source):
    error = refusal(source)

    assert error.code == "unknown_filter"
    assert error.message.startswith("Line 1: unknown filter")


@pytest.mark.parametrize(
    "source",
    [
        "{% for letter in payer.name %}{{ letter }}{% endfor %}",
        "{% for a in schedule %}{% for b in schedule %}{% endfor %}{% endfor %}",
    ],
)
def test_loops_go_over_the_schedule_only_and_never_nest(source):
    assert refusal(source).code == "invalid_loop"


def test_a_filter_that_fails_on_its_argument_is_refused_at_save():
    error = refusal("{{ payer.name|wordwrap:'wide' }}")

    assert (error.code, error.field) == ("template_render_error", "body_text.fr")


def test_elif_conditions_report_their_own_line():
    error = refusal("{% if amount_due %}\nA\n{% elif payer.iban %}\nB\n{% endif %}")

    assert error.message == "Line 3: unknown variable 'payer.iban'"


def test_whitelisted_variables_tags_and_filters_are_accepted():
    source = (
        "{{ payer.name|default:'there'|title }} {{ payer.email }} {{ payer.phone }}\n"
        "{{ merchant.name|upper }} {{ request.reference }} "
        "{{ request.description|truncatechars:20 }}\n"
        "{% if amount_due and not failure_reason %}{{ amount_due }}"
        "{% else %}{{ retry_url }}{% endif %}\n"
        "{% with first=schedule.0 %}{{ first.amount }}{% endwith %}\n"
        "{% for item in schedule reversed %}{{ forloop.counter }}. {{ item.due_date }} "
        "{{ item.amount }}{% empty %}none{% endfor %} {{ schedule|length }}\n"
        "{% spaceless %}<p> {{ deadline }} </p>{% endspaceless %}{# a comment #}\n"
        "{% comment %}notes{% endcomment %}{{ pay_url|urlencode }}"
    )
    check_source(source, field="body_html.en")


@pytest.mark.django_db
def test_html_in_the_payers_name_is_escaped_in_html_but_not_in_text(merchant):
    template = services.template_create(
        merchant=merchant,
        name="Hello",
        channel="email",
        subject={"en": "For {{ payer.name }}"},
        body_text={"en": "Hello {{ payer.name }}"},
        body_html={"en": "<p>Hello {{ payer.name }}</p>"},
    )
    data = sample_message_data(merchant_name="Shop", payer_name='<script>alert("x")</script>')

    rendered = render_message(template=template, language="en", data=data)

    assert rendered.html == "<p>Hello &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</p>"
    assert rendered.text == 'Hello <script>alert("x")</script>'
    assert rendered.subject == 'For <script>alert("x")</script>'


@pytest.mark.django_db
def test_a_name_cannot_break_the_subject_onto_a_second_line(merchant):
    template = services.template_create(
        merchant=merchant,
        name="Hello",
        channel="email",
        subject={"en": "For {{ payer.name }}"},
        body_text={"en": "Hi"},
    )
    data = sample_message_data(merchant_name="Shop", payer_name="Ann\r\nBcc: evil@example.com")

    rendered = render_message(template=template, language="en", data=data)

    assert rendered.subject == "For Ann Bcc: evil@example.com"


def test_the_context_is_plain_data_only():
    context = build_context(sample_message_data(merchant_name="Shop"), "fr")

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return isinstance(value, str)

    assert plain(context)
    assert set(context) == {
        "payer",
        "merchant",
        "request",
        "amount_due",
        "amount_paid",
        "payment",
        "deadline",
        "pay_url",
        "retry_url",
        "failure_reason",
        "schedule",
    }


def test_amounts_and_deadlines_are_formatted_for_the_payers_language():
    from datetime import UTC, date, datetime

    from notifications.rendering import ScheduleItem

    data = MessageData(
        amount_due=123456,
        currency="EUR",
        deadline=datetime(2026, 3, 14, 17, 30, tzinfo=UTC),
        time_zone="Europe/Paris",
        schedule=(ScheduleItem(due_date=date(2026, 4, 1), amount=5000),),
    )

    french, english = build_context(data, "fr"), build_context(data, "en")

    assert french["amount_due"].replace("\u202f", " ").replace("\xa0", " ") == "1 234,56 €"
    assert english["amount_due"] == "€1,234.56"
    assert french["deadline"] == "14 mars 2026 à 18:30"
    assert english["deadline"].replace("\u202f", " ") == "March 14, 2026 at 6:30 PM"
    assert french["schedule"] == [{"due_date": "1 avril 2026", "amount": "50,00\xa0€"}]


def test_a_payments_amount_methods_and_date_are_formatted_and_may_be_used_in_a_template():
    from datetime import UTC, datetime

    from notifications.rendering import check_source

    data = MessageData(
        amount_due=0,
        amount_paid=1000,
        payment_methods=("Visa •••• 4242", "Mastercard •••• 4444"),
        paid_at=datetime(2026, 1, 15, 17, 30, tzinfo=UTC),
        currency="EUR",
        time_zone="America/New_York",
    )

    context = build_context(data, "en")

    assert (context["amount_due"], context["amount_paid"]) == ("€0.00", "€10.00")
    assert context["payment"]["methods"] == "Visa •••• 4242, Mastercard •••• 4444"
    assert context["payment"]["date"].replace("\u202f", " ") == "January 15, 2026 at 12:30 PM"
    check_source("{{ amount_paid }} {{ payment.methods }} {{ payment.date }}", field="body_text.en")
    with pytest.raises(InvalidInput):
        check_source("{{ payment.card }}", field="body_text.en")


@pytest.mark.django_db
def test_an_invalid_update_changes_nothing_at_all(merchant):
    template = services.template_create(
        merchant=merchant,
        name="Hello",
        channel="email",
        subject={"fr": "Bonjour", "en": "Hello"},
        body_text={"fr": "Bonjour", "en": "Hello"},
    )

    with pytest.raises(InvalidInput) as caught:
        services.template_update(
            template=template,
            name="Renamed",
            subject={"fr": "Nouveau", "en": "New"},
            body_text={"fr": "Salut", "en": "Hi {{ payer.iban }}"},
        )

    assert caught.value.field == "body_text.en"
    template.refresh_from_db()
    assert template.name == "Hello"
    assert template.subject == {"fr": "Bonjour", "en": "Hello"}
    assert template.body_text == {"fr": "Bonjour", "en": "Hello"}
