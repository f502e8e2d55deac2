"""The smart-form builder's rows: the browser's inputs turned into field definitions, and back.

One row per field, posted as a Django formset (``fields-0-key``, ``fields-0-label_fr`` …) so the
page works without JavaScript: the script only adds, removes and reorders rows in the browser.
Nothing here decides what a definition may hold: rows become exactly the dicts the JSON editor
would send, and ``smartforms.definition`` checks them. What this module adds is the way back:
each refusal's path (``fields[2].choices[1].label``) is put on the row and input it concerns.
"""

import math
import re
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pushpay.errors import InvalidInput

from .definition import MAX_FIELDS
from .fieldtypes import FIELD_TYPES, HELP_TEXT_MAX_LENGTH, LABEL_MAX_LENGTH

PREFIX = "fields"
LANGUAGE_INPUTS = (("label", "label"), ("help_text", "help"))
# Inputs whose name differs from the option they set: a number's and a date's bounds are both
# called min/max in a definition but need different inputs.
OPTION_INPUTS: dict[tuple[str, str], str] = {
    ("number", "min"): "number_min",
    ("number", "max"): "number_max",
    ("date", "min"): "date_min",
    ("date", "max"): "date_max",
}
# Options written as text as they are (a pattern, a date); the others are numbers.
TEXT_OPTIONS = {"regex", "date_min", "date_max"}
CHOICE_SEPARATOR = "|"

TYPE_NAMES = {
    "text": gettext_lazy("Text"),
    "email": gettext_lazy("Email address"),
    "phone": gettext_lazy("Phone number"),
    "number": gettext_lazy("Number"),
    "date": gettext_lazy("Date"),
    "single_choice": gettext_lazy("One choice"),
    "multiple_choice": gettext_lazy("Several choices"),
    "consent": gettext_lazy("Consent box"),
}

_NUMBER_RE = re.compile(r"^[+-]?\d+([.,]\d+)?([eE][+-]?\d+)?$")
_PATH_RE = re.compile(r"^fields\[(\d+)\](?:\.(\w+))?(?:\[(\d+)\])?(?:\.(\w+))?(?:\.(\w+))?$")


def option_input(kind: str, option: str) -> str:
    return OPTION_INPUTS.get((kind, option), option)


def option_types() -> dict[str, str]:
    """Each type-specific input and the types it applies to (``"text"``, ``"single_choice
    multiple_choice"``), read from the types themselves so the builder offers exactly the
    options the checks accept."""
    types: dict[str, list[str]] = {}
    for kind in FIELD_TYPES.values():
        for option in kind.options:
            types.setdefault(option_input(kind.name, option), []).append(kind.name)
    return {name: " ".join(kinds) for name, kinds in types.items()}


class FieldRowForm(forms.Form):
    """One field as the builder shows it. Every input is optional text: what is missing or
    wrong is said by ``smartforms.definition``, in the same words as for the JSON editor."""

    type = forms.CharField(required=False)
    key = forms.CharField(required=False)
    required = forms.BooleanField(required=False)
    label_fr = forms.CharField(required=False)
    label_en = forms.CharField(required=False)
    help_fr = forms.CharField(required=False)
    help_en = forms.CharField(required=False)
    min_length = forms.CharField(required=False)
    max_length = forms.CharField(required=False)
    regex = forms.CharField(required=False, strip=False)
    number_min = forms.CharField(required=False)
    number_max = forms.CharField(required=False)
    decimal_places = forms.CharField(required=False)
    date_min = forms.CharField(required=False)
    date_max = forms.CharField(required=False)
    choices = forms.CharField(required=False)
    min_selections = forms.CharField(required=False)
    max_selections = forms.CharField(required=False)
    # Plain text rather than an IntegerField: a junk position must not make the row invalid.
    position = forms.CharField(required=False)
    remove = forms.BooleanField(required=False)


FieldRowFormSet = forms.formset_factory(
    FieldRowForm, extra=0, max_num=MAX_FIELDS, validate_max=True, absolute_max=MAX_FIELDS
)


@dataclass
class Row:
    """A row as the template draws it: its values and the messages for each of its inputs."""

    values: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # about the row as a whole
    index: int | str = 0  # set when drawn; "__prefix__" for the script's empty row
    prefix: str = ""

    @property
    def inputs(self) -> dict[str, dict[str, Any]]:
        """Name, id, value and messages of each input, ready for the template."""
        inputs = {}
        for name in FieldRowForm.base_fields:
            input_id = f"id_{self.prefix}-{name}"
            errors = self.errors.get(name, [])
            value = self.values.get(name)
            inputs[name] = {
                "name": f"{self.prefix}-{name}",
                "id": input_id,
                "value": "" if value is None else value,
                "errors": errors,
                "error_id": f"{input_id}-error" if errors else "",
            }
        return inputs

    @property
    def error_count(self) -> int:
        return sum(len(messages) for messages in self.errors.values()) + len(self.problems)


def blank_row() -> Row:
    return Row(values={"type": "text", "required": False})


def rows_from_post(data: QueryDict) -> tuple[list[Row], list[str]]:
    """The rows in the order the operator put them (removed ones left out), and any problem
    with the formset itself (a tampered management form, too many rows)."""
    formset = FieldRowFormSet(data, prefix=PREFIX)
    problems: list[str] = []
    if not formset.is_valid():
        # The rows' own inputs are all optional text, so only the formset can be invalid.
        problems = [_("The builder's rows could not be read; reload the page and try again.")]
        if formset.management_form.is_valid():
            problems = [_("A form has at most %(count)s fields.") % {"count": MAX_FIELDS}]
    ranked = []
    for index, row_form in enumerate(formset.forms):
        values = row_form.cleaned_data if row_form.is_valid() else {}
        if not values or values.get("remove"):
            continue
        ranked.append((_position(values.get("position"), index), index, values))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [Row(values=dict(values)) for _, _, values in ranked], problems


def _position(text: Any, default: int) -> float:
    try:
        number = float(str(text).strip())
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def rows_move(rows: list[Row], move: str) -> list[Row]:
    """Apply a "Move up"/"Move down" button pressed without JavaScript (``3:up``)."""
    index_text, _sep, direction = str(move).partition(":")
    if not index_text.isdigit():
        return rows
    index = int(index_text)
    target = index - 1 if direction == "up" else index + 1 if direction == "down" else -1
    if 0 <= index < len(rows) and 0 <= target < len(rows):
        rows[index], rows[target] = rows[target], rows[index]
    return rows


def is_blank(row: Row) -> bool:
    """A row left entirely empty (the one offered for a new field) is not a field."""
    return not any(
        str(value).strip()
        for name, value in row.values.items()
        if name not in ("type", "required", "position", "remove") and value is not None
    )


def definitions_from_rows(rows: list[Row]) -> tuple[list[dict], list[int]]:
    """The definitions the rows describe, and for each the index of its row."""
    definitions: list[dict] = []
    row_of: list[int] = []
    for index, row in enumerate(rows):
        if is_blank(row):
            continue
        definitions.append(_definition(row.values))
        row_of.append(index)
    return definitions, row_of


def _definition(values: dict) -> dict:
    kind_name = (values.get("type") or "").strip()
    definition: dict[str, Any] = {"key": (values.get("key") or "").strip(), "type": kind_name}
    for option, stem in LANGUAGE_INPUTS:
        texts = {
            language: values.get(f"{stem}_{language}", "").strip()
            for language in ("fr", "en")
            if (values.get(f"{stem}_{language}") or "").strip()
        }
        if texts:
            definition[option] = texts
    definition["required"] = bool(values.get("required"))
    kind = FIELD_TYPES.get(kind_name)
    # Only the chosen type's options are sent: values left in another type's inputs (the
    # operator changed the type) are not the operator's intent for this one.
    for option in kind.options if kind else ():
        name = option_input(kind_name, option)
        if option == "choices":
            definition["choices"] = _choices(values.get("choices") or "")
            continue
        text = values.get(name) or ""
        if not str(text).strip():
            continue
        definition[option] = str(text) if name in TEXT_OPTIONS else _number(str(text))
    return definition


def _number(text: str) -> Any:
    """A number typed in a box; anything else goes on as typed, for the checks to refuse."""
    text = text.strip()
    if not _NUMBER_RE.match(text):
        return text
    try:
        if any(mark in text for mark in ".,eE"):
            number = float(text.replace(",", "."))
            return number if math.isfinite(number) else text
        return int(text)
    except ValueError:  # more digits than Python converts
        return text


def _choices(text: str) -> list[dict]:
    """One choice per line: ``value | French label | English label``."""
    choices = []
    for line in text.splitlines():
        if not line.strip():
            continue
        value, _sep, rest = line.partition(CHOICE_SEPARATOR)
        french, _sep, english = rest.partition(CHOICE_SEPARATOR)
        label = {
            language: text.strip()
            for language, text in (("fr", french), ("en", english))
            if text.strip()
        }
        choice: dict[str, Any] = {"value": value.strip()}
        if label:
            choice["label"] = label
        choices.append(choice)
    return choices


def rows_from_definitions(definitions: list[dict]) -> list[Row]:
    """The rows that show a saved version, for editing it."""
    rows = []
    for definition in definitions:
        kind = definition["type"]
        values: dict[str, Any] = {
            "type": kind,
            "key": definition["key"],
            "required": definition.get("required", False),
        }
        for option, stem in LANGUAGE_INPUTS:
            for language, text in definition.get(option, {}).items():
                values[f"{stem}_{language}"] = text
        for option in FIELD_TYPES[kind].options:
            if option == "choices":
                values["choices"] = "\n".join(
                    _choice_line(choice) for choice in definition.get("choices", [])
                )
            elif definition.get(option) is not None:
                values[option_input(kind, option)] = str(definition[option])
        rows.append(Row(values=values))
    return rows


def _choice_line(choice: dict) -> str:
    label = choice.get("label", {})
    parts = [choice["value"], label.get("fr", ""), label.get("en", "")]
    return f" {CHOICE_SEPARATOR} ".join(parts).rstrip(f" {CHOICE_SEPARATOR}")


def place_refusals(
    rows: list[Row], row_of: list[int], refusals: list[InvalidInput]
) -> tuple[dict[str, list[str]], list[str]]:
    """Put each refusal on its row and input; return the ones about the name, and the rest
    (about the form as a whole)."""
    name_errors: list[str] = []
    general: list[str] = []
    for refusal in refusals:
        path = refusal.field or ""
        message = builder_message(refusal)
        if path == "name":
            name_errors.append(message)
            continue
        match = _PATH_RE.match(path)
        if match is None or int(match.group(1)) >= len(row_of):
            general.append(message)
            continue
        row = rows[row_of[int(match.group(1))]]
        attribute, choice_index, sub, language = match.groups()[1:]
        target = _input_for(row, attribute, sub if choice_index is None else None, language)
        if choice_index is not None:
            target = "choices"
            message = _("Line %(line)s: %(message)s") % {
                "line": int(choice_index) + 1,
                "message": message,
            }
        if target is None:
            row.problems.append(message)
        else:
            row.errors.setdefault(target, []).append(message)
    return {"name": name_errors} if name_errors else {}, general


def _input_for(
    row: Row, attribute: str | None, sub: str | None, language: str | None
) -> str | None:
    if attribute in ("label", "help_text"):
        stem = "label" if attribute == "label" else "help"
        code = sub or language
        return f"{stem}_{code if code in ('fr', 'en') else 'fr'}"
    if attribute in ("key", "type", "required", "choices"):
        return attribute
    kind = (row.values.get("type") or "").strip()
    if attribute and kind in FIELD_TYPES and attribute in FIELD_TYPES[kind].options:
        return option_input(kind, attribute)
    return None


# --- Messages in the operator's language --------------------------------------------------

_BETWEEN_RE = re.compile(r"between (\S+) and (\S+?)\.?$")


def builder_message(refusal: InvalidInput) -> str:
    """The refusal in the operator's language; the checks themselves speak English for the
    API, so the builder words the common ones again (the English falls back as it is)."""
    code = refusal.code
    attribute = (refusal.field or "").rsplit(".", 1)[-1]
    if code == "required":
        if attribute == "key":
            return _("Give the field a key.")
        if attribute == "type":
            return _("Choose a type.")
        if attribute == "name":
            return _("A form needs a name.")
    if code == "too_long":
        if attribute == "name":
            return refusal.message
        limit = HELP_TEXT_MAX_LENGTH if ".help_text" in (refusal.field or "") else LABEL_MAX_LENGTH
        return _("At most %(limit)s characters.") % {"limit": limit}
    if code == "option_out_of_range":
        between = _BETWEEN_RE.search(refusal.message)
        if between:
            return _("Enter a value between %(low)s and %(high)s.") % {
                "low": between.group(1),
                "high": between.group(2),
            }
        if "regex" in refusal.message:
            return _("With a pattern, answers are at most 200 characters; lower the maximum.")
    if code == "invalid_option":
        if attribute in ("min", "max") and "date" in refusal.message:
            return _("Enter a date written YYYY-MM-DD.")
        if "whole number" in refusal.message:
            return _("Enter a whole number.")
        return _("Enter a number.")
    messages = {
        "invalid_key": _(
            "A key is 1 to 50 lowercase letters, digits or “_”, starting with a letter "
            "(such as company_name)."
        ),
        "duplicate_key": _("Another field already uses this key; keys must be unique."),
        "unknown_type": _("Choose one of the eight types."),
        "label_required": _("Give a label in French or English (or both)."),
        "min_above_max": _("The minimum is above the maximum."),
        "invalid_regex": _("This pattern is not a valid regular expression."),
        "regex_too_long": _("The pattern is at most 300 characters."),
        "regex_too_complex": _(
            "This pattern nests one repetition inside another, such as (a+)+: it could take "
            "forever on some answers. Rewrite it without the nesting."
        ),
        "choices_required": _("Add at least one choice, one per line."),
        "too_many_choices": _("A field has at most 100 choices."),
        "invalid_choice_value": _(
            "A choice value is 1 to 100 letters, digits, “_”, “.” or “-”, starting with a "
            "letter or digit."
        ),
        "duplicate_choice": _("This choice value appears twice."),
        "fields_required": _("Add at least one field."),
        "too_many_fields": _("A form has at most %(count)s fields.") % {"count": MAX_FIELDS},
    }
    return str(messages.get(code, refusal.message))
