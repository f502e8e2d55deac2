"""Turning a form version into plain dicts that a template can render without logic.

The payer page and the back-office preview share this, so both show the same labels, help
texts and HTML constraints. Every input gets an id, a ``<label for>`` text and, when there is
help or an error, an ``aria-describedby`` pointing at it, so screen readers announce them.
Browser attributes (``required``, ``min``, ``pattern`` …) are a convenience only: the server
validates again with ``submission_validate``.
"""

from typing import Any

from .fieldtypes import FIELD_TYPES
from .messages import pick_language, translated
from .models import FormVersion

ID_PREFIX = "sf"


def form_version_render(
    *,
    form_version: FormVersion,
    language: str,
    answers: dict | None = None,
    errors: dict[str, str] | None = None,
) -> list[dict]:
    """One dict per field, in order.

    ``answers`` pre-fills the inputs (after a refused POST); ``errors`` maps a field key to
    the message to show next to it.
    """
    return fields_render(
        fields=form_version.fields, language=language, answers=answers, errors=errors
    )


def fields_render(
    *,
    fields: list[dict],
    language: str,
    answers: dict | None = None,
    errors: dict[str, str] | None = None,
    prefix: str = "",
) -> list[dict]:
    """The same for definitions that are not saved yet (the builder's live preview).

    ``fields`` must already be normalised by ``smartforms.definition``. ``prefix`` keeps ids
    and names apart when one page shows the form twice (once per language).
    """
    language = pick_language(language)
    answers = answers or {}
    errors = errors or {}
    return [
        _render_field(field, language, answers.get(field["key"]), errors.get(field["key"]), prefix)
        for field in fields
    ]


def _render_field(
    field: dict, language: str, value: Any, error: str | None, prefix: str = ""
) -> dict:
    kind = FIELD_TYPES[field["type"]]
    key = field["key"]
    input_id = f"{ID_PREFIX}-{prefix}{key}"
    help_text = translated(field.get("help_text", {}), language)
    help_id = f"{input_id}-help" if help_text else ""
    error_id = f"{input_id}-error" if error else ""
    described_by = " ".join(part for part in (help_id, error_id) if part)

    attrs = dict(kind.html_attrs(field))
    # A group of checkboxes cannot be "required" in HTML; min_selections is checked server-side.
    if field["required"] and kind.widget != "checkboxes":
        attrs["required"] = True
    if described_by and kind.widget in ("input", "checkbox"):
        attrs["aria-describedby"] = described_by
    if error and kind.widget in ("input", "checkbox"):
        attrs["aria-invalid"] = "true"

    choices = []
    selected = value if isinstance(value, list) else [value]
    for index, choice in enumerate(field.get("choices", [])):
        choices.append(
            {
                "value": choice["value"],
                "label": translated(choice["label"], language),
                "id": f"{input_id}-{index}",
                "checked": choice["value"] in selected,
            }
        )

    return {
        "key": key,
        "name": f"{prefix}{key}",
        "id": input_id,
        "type": field["type"],
        "widget": kind.widget,
        "input_type": kind.input_type,
        "label": translated(field["label"], language),
        "help_text": help_text,
        "help_id": help_id,
        "error": error or "",
        "error_id": error_id,
        "described_by": described_by,
        "required": field["required"],
        "attrs": attrs,
        "choices": choices,
        "value": _display_value(kind.widget, value),
    }


def _display_value(widget: str, value: Any) -> Any:
    if widget == "checkbox":
        return value is True or (isinstance(value, str) and value.lower() in ("on", "true", "1"))
    if widget == "checkboxes":
        return value if isinstance(value, list) else []
    return "" if value is None else value
