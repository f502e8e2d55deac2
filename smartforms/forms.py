"""Back-office forms for smart forms: they only read the browser's input.

Every rule about what a definition or an answer may hold lives in ``smartforms.services``;
these classes turn text into Python values and put the service's refusal next to the input
that caused it, so the operator sees one message in one place.
"""

import json
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy

from pushpay.errors import DomainError, InvalidFields
from pushpay.forms import JsonListField

FIELDS_EXAMPLE = [
    {
        "key": "company",
        "type": "text",
        "label": {"fr": "Société", "en": "Company"},
        "help_text": {"fr": "Comme sur votre facture", "en": "As on your invoice"},
        "required": True,
        "max_length": 100,
    },
    {
        "key": "email",
        "type": "email",
        "label": {"fr": "E-mail", "en": "Email"},
        "required": True,
    },
    {
        "key": "size",
        "type": "single_choice",
        "label": {"fr": "Taille", "en": "Size"},
        "choices": [
            {"value": "s", "label": {"fr": "Petit", "en": "Small"}},
            {"value": "m", "label": {"fr": "Moyen", "en": "Medium"}},
        ],
    },
    {
        "key": "terms",
        "type": "consent",
        "label": {"fr": "J'accepte les conditions", "en": "I accept the terms"},
        "required": True,
    },
]


def fields_to_text(fields: list[dict]) -> str:
    """The textarea's content: one indented document, accents kept readable."""
    return json.dumps(fields, indent=2, ensure_ascii=False)


class FormDefinitionForm(forms.Form):
    """Name and fields of a smart form, as typed in the editor."""

    name = forms.CharField(label=gettext_lazy("Name"), required=False, strip=False)
    # Not called "fields": that name is the form's own dict of fields.
    fields_json = JsonListField(label=gettext_lazy("Fields (JSON)"), what="field")

    def add_service_error(self, error: DomainError) -> None:
        """Show every service refusal next to the input it concerns, with the path it names."""
        for refusal in error.refusals if isinstance(error, InvalidFields) else [error]:
            if refusal.field == "name":
                self.add_error("name", refusal.localized)
            elif refusal.field and refusal.field.startswith("fields"):
                self.add_error("fields_json", f"{refusal.field}: {refusal.localized}")
            else:
                self.add_error(None, refusal.localized)


def answers_from_post(data: QueryDict, rendered: list[dict]) -> dict[str, Any]:
    """The payer's answers as the payer page would send them, keyed by field key.

    Only the version's keys are read, so the CSRF token and other inputs are not taken for
    unknown answers; groups of checkboxes send a list, everything else one value.
    """
    answers: dict[str, Any] = {}
    for field in rendered:
        if field["widget"] == "checkboxes":
            answers[field["key"]] = data.getlist(field["name"])
        elif field["name"] in data:
            answers[field["key"]] = data.get(field["name"])
    return answers
