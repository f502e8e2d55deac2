"""Checking an operator's list of field definitions before anything is saved.

The stored shape of one field is always::

    {"key": "company", "type": "text", "label": {"fr": "Société", "en": "Company"},
     "help_text": {"en": "As on your invoice"}, "required": true, "max_length": 100}

with only the options that are set. ``fields_check`` finds every problem at once, each with
its path (``fields[2].regex``), so the builder can show each one at its input;
``fields_validate`` returns the normalised list or refuses them all in one ``InvalidFields``
whose code, message and field are the first problem's, so the API still answers with the
same single error. A form is either saved whole or not at all (ARCHITECTURE.md guarantee 6).
"""

import re
from typing import Any

from pushpay.errors import InvalidFields, InvalidInput

from .fieldtypes import (
    ALL_OPTIONS,
    FIELD_TYPES,
    HELP_TEXT_MAX_LENGTH,
    LABEL_MAX_LENGTH,
    clean_translations,
    collect,
)

MAX_FIELDS = 50
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
COMMON_KEYS = ("key", "type", "label", "help_text", "required")


def fields_validate(fields: Any) -> list[dict]:
    """Return the normalised definitions, or refuse the whole list with every problem."""
    cleaned, problems = fields_check(fields)
    if problems:
        raise InvalidFields(problems)
    return cleaned


def fields_check(fields: Any) -> tuple[list[dict], list[InvalidInput]]:
    """The definitions that are right (normalised, in order) and every problem, in checking
    order: for the preview of a draft that still has mistakes, and for ``fields_validate``."""
    if not isinstance(fields, list):
        return [], [
            InvalidInput(
                "fields must be a list of field definitions.",
                code="invalid_fields",
                field="fields",
            )
        ]
    if not fields:
        return [], [
            InvalidInput("A form needs at least one field.", code="fields_required", field="fields")
        ]
    if len(fields) > MAX_FIELDS:
        return [], [
            InvalidInput(
                f"A form has at most {MAX_FIELDS} fields; this one has {len(fields)}.",
                code="too_many_fields",
                field="fields",
            )
        ]
    cleaned: list[dict] = []
    problems: list[InvalidInput] = []
    seen: set[str] = set()
    for index, raw in enumerate(fields):
        field, field_problems = _field_check(raw, f"fields[{index}]")
        problems.extend(field_problems)
        key = raw.get("key") if isinstance(raw, dict) else None
        if isinstance(key, str) and KEY_RE.match(key):
            if key in seen:
                problems.append(
                    InvalidInput(
                        f"The key '{key}' is used by another field; keys must be unique.",
                        code="duplicate_key",
                        field=f"fields[{index}].key",
                    )
                )
                continue
            seen.add(key)
        if field is not None:
            cleaned.append(field)
    return cleaned, problems


def _field_check(raw: Any, path: str) -> tuple[dict | None, list[InvalidInput]]:
    if not isinstance(raw, dict):
        return None, [
            InvalidInput("Each field is a JSON object.", code="invalid_field", field=path)
        ]
    problems: list[InvalidInput] = []

    key = raw.get("key")
    if key is None or key == "":
        problems.append(
            InvalidInput("Each field needs a key.", code="required", field=f"{path}.key")
        )
    elif not isinstance(key, str) or not KEY_RE.match(key):
        problems.append(
            InvalidInput(
                "A key is 1 to 50 lowercase letters, digits or '_', starting with a letter "
                "(such as 'company_name').",
                code="invalid_key",
                field=f"{path}.key",
            )
        )

    kind_name = raw.get("type")
    kind = FIELD_TYPES.get(kind_name) if isinstance(kind_name, str) else None
    if kind_name is None or kind_name == "":
        problems.append(
            InvalidInput("Each field needs a type.", code="required", field=f"{path}.type")
        )
    elif kind is None:
        known = ", ".join(FIELD_TYPES)
        problems.append(
            InvalidInput(
                f"Unknown field type '{kind_name}'; use one of: {known}.",
                code="unknown_type",
                field=f"{path}.type",
            )
        )

    for option in raw:
        if option in COMMON_KEYS or (kind is not None and option in kind.options):
            continue
        if option in ALL_OPTIONS:
            if kind is not None:  # without a type, whether it applies cannot be said
                problems.append(
                    InvalidInput(
                        f"'{option}' does not apply to {kind.name} fields.",
                        code="option_not_allowed",
                        field=f"{path}.{option}",
                    )
                )
            continue
        problems.append(
            InvalidInput(
                f"Unknown field option '{option}'.",
                code="unknown_option",
                field=f"{path}.{option}",
            )
        )

    label = collect(
        problems,
        clean_translations,
        raw.get("label"),
        f"{path}.label",
        required=True,
        max_length=LABEL_MAX_LENGTH,
    )
    help_text = collect(
        problems,
        clean_translations,
        raw.get("help_text"),
        f"{path}.help_text",
        required=False,
        max_length=HELP_TEXT_MAX_LENGTH,
    )
    required = raw.get("required", False)
    if not isinstance(required, bool):
        problems.append(
            InvalidInput(
                "required must be true or false.", code="invalid_option", field=f"{path}.required"
            )
        )
    if kind is None:
        return None, problems
    options, option_problems = kind.check_options(raw, path)
    problems.extend(option_problems)
    if problems:
        return None, problems
    field: dict[str, Any] = {"key": key, "type": kind.name, "label": label}
    if help_text:
        field["help_text"] = help_text
    field["required"] = required
    field.update(options)
    return field, problems
