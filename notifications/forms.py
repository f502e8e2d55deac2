"""Back-office forms for message templates: they only read the browser's input.

What a template may contain is decided by ``notifications.services`` (and the sandbox in
``notifications.rendering``); these classes turn one input per field and language into the
``{"fr": …, "en": …}`` objects the services take, and put a refusal next to the input it
names, with the line the service reported.
"""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy

from pushpay.errors import DomainError
from pushpay.i18n import LANGUAGE_CODES, LANGUAGE_NAMES, LANGUAGES

from .models import MessageTemplate

# The order inputs appear in the editor, per channel.
EMAIL_FIELDS = ("subject", "body_text", "body_html")
SMS_FIELDS = ("body_text",)
FIELD_LABELS = {
    "email": {"subject": "Subject", "body_text": "Text", "body_html": "HTML"},
    "sms": {"body_text": "Message"},
}


def input_name(field: str, language: str) -> str:
    return f"{field}_{language}"


class TemplateForm(forms.Form):
    """Name and texts of one template; the channel is fixed when the template is created."""

    name = forms.CharField(label=gettext_lazy("Name"), required=False, strip=False, max_length=200)
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"),
        choices=MessageTemplate.Channel.choices,
        widget=forms.HiddenInput,
    )

    def __init__(self, *args: Any, channel: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.channel_value = channel
        self.fields["channel"].initial = channel
        names = EMAIL_FIELDS if channel == MessageTemplate.Channel.EMAIL else SMS_FIELDS
        for field in names:
            for language in LANGUAGE_CODES:
                label = f"{FIELD_LABELS[channel][field]} ({LANGUAGE_NAMES[language]}"
                label += ", optional)" if field == "body_html" else ")"
                rows = {"subject": 1, "body_text": 7, "body_html": 8}[field]
                if channel == MessageTemplate.Channel.SMS:
                    rows = 4
                widget = (
                    forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "true"})
                    if field == "subject"
                    else forms.Textarea(attrs={"rows": rows, "spellcheck": "false"})
                )
                self.fields[input_name(field, language)] = forms.CharField(
                    label=label, required=False, strip=False, widget=widget
                )
        self.text_fields = names

    @classmethod
    def initial_for(cls, template: MessageTemplate) -> dict[str, str]:
        initial = {"name": template.name, "channel": template.channel}
        for field in EMAIL_FIELDS:
            for language in LANGUAGE_CODES:
                initial[input_name(field, language)] = (getattr(template, field) or {}).get(
                    language, ""
                )
        return initial

    def localized(self) -> dict[str, dict[str, str]]:
        """Each text field as the service takes it; blank languages fall back at render."""
        data = self.cleaned_data
        return {
            field: {
                language: data.get(input_name(field, language)) or "" for language in LANGUAGE_CODES
            }
            for field in self.text_fields
        }

    def texts(self) -> dict[str, dict[str, str]]:
        """What the inputs hold right now (posted or initial), for the preview: unlike
        ``cleaned_data`` it keeps a text the service refused, so the preview can say why."""
        return {
            field: {
                language: str(self[input_name(field, language)].value() or "")
                for language in LANGUAGE_CODES
            }
            for field in self.text_fields
        }

    def languages(self) -> list[dict[str, Any]]:
        """Bound fields grouped by language, in the editor's order."""
        return [
            {
                "code": language,
                "name": LANGUAGE_NAMES[language],
                "fields": [self[input_name(field, language)] for field in self.text_fields],
            }
            for language in LANGUAGE_CODES
        ]

    def add_service_error(self, error: DomainError) -> None:
        """Show a refusal next to the input it names: ``body_html.fr`` is the French HTML.

        A field named without a language (``body_text`` is required) goes next to its first
        language's input, where the operator starts typing.
        """
        path = error.field or ""
        if path == "name":
            self.add_error("name", error.localized)
            return
        field, _, language = path.partition(".")
        if field in self.text_fields:
            name = input_name(field, language or LANGUAGE_CODES[0])
            if name in self.fields:
                self.add_error(name, f"{self.fields[name].label}: {error.localized}")
                return
        self.add_error(None, error.localized)


class SendTestForm(forms.Form):
    """Where to send a test: the operator's own address for email, a typed number for SMS."""

    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=LANGUAGES)
    phone = forms.CharField(
        label=gettext_lazy("Phone number"),
        required=False,
        max_length=20,
        help_text="E.164 format, e.g. +33612345678.",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
