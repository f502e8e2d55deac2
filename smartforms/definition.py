"""Checking an operator's list of field definitions before anything is saved.

The stored shape of one field is always::

    {"key": "company", "type": "text", "label": {"fr": "Société", "en": "Company"},
     "help_text": {"en": "As on your invoice"}, "required": true, "max_length": 100}

with only the options that are set. Checking returns that normalised list or raises
``InvalidInput`` on the first problem, with its path (``fields[2].regex``), so a form is
either saved whole or not at all (ARCHITECTURE.md guarantee 6).
"""

import re
from typing import Any

from pushpay.errors import InvalidInput

from .fieldtypes import (
    ALL_OPTIONS,
    FIELD_TYPES,
    HELP_TEXT_MAX_LENGTH,
    LABEL_MAX_LENGTH,
    clean_translations,
)

MAX_FIELDS = 50
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
COMMON_KEYS = ("key", "type", "label", "help_text", "required")


def fields_validate(fields: Any) -> list[dict]:
    """Return the normalised definitions, or refuse the whole list on the first problem."""
    if not isinstance(fields, list):
        raise InvalidInput(
            "fields must be a list of field definitions.", code="invalid_fields", field="fields"
        )
    if not fields:
        raise InvalidInput(
            "A form needs at least one field.", code="fields_required", field="fields"
        )
    if len(fields) > MAX_FIELDS:
        raise InvalidInput(
            f"A form has at most {MAX_FIELDS} fields; this one has {len(fields)}.",
            code="too_many_fields",
            field="fields",
        )
    cleaned: list[dict] = []
    seen: set[str] = set()
    for index, raw in enumerate(fields):
        field = _field_validate(raw, f"fields[{index}]")
        if field["key"] in seen:
            raise InvalidInput(
                f"The key '{field['key']}' is used by another field; keys must be unique.",
                code="duplicate_key",
                field=f"fields[{index}].key",
            )
        seen.add(field["key"])
        cleaned.append(field)
    return cleaned


def _field_validate(raw: Any, path: str) -> dict:
    if not isinstance(raw, dict):
        raise InvalidInput("Each field is a JSON object.", code="invalid_field", field=path)

    key = raw.get("key")
    if key is None or key == "":
        raise InvalidInput("Each field needs a key.", code="required", field=f"{path}.key")
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise InvalidInput(
            "A key is 1 to 50 lowercase letters, digits or '_', starting with a letter "
            "(such as 'company_name').",
            code="invalid_key",
            field=f"{path}.key",
        )

    kind_name = raw.get("type")
    if kind_name is None or kind_name == "":
        raise InvalidInput("Each field needs a type.", code="required", field=f"{path}.type")
    kind = FIELD_TYPES.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        known = ", ".join(FIELD_TYPES)
        raise InvalidInput(
            f"Unknown field type '{kind_name}'; use one of: {known}.",
            code="unknown_type",
            field=f"{path}.type",
        )

    for option in raw:
        if option in COMMON_KEYS or option in kind.options:
            continue
        if option in ALL_OPTIONS:
            raise InvalidInput(
                f"'{option}' does not apply to {kind.name} fields.",
                code="option_not_allowed",
                field=f"{path}.{option}",
            )
        raise InvalidInput(
            f"Unknown field option '{option}'.", code="unknown_option", field=f"{path}.{option}"
        )

    label = clean_translations(
        raw.get("label"), f"{path}.label", required=True, max_length=LABEL_MAX_LENGTH
    )
    help_text = clean_translations(
        raw.get("help_text"), f"{path}.help_text", required=False, max_length=HELP_TEXT_MAX_LENGTH
    )
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise InvalidInput(
            "required must be true or false.", code="invalid_option", field=f"{path}.required"
        )

    field: dict[str, Any] = {"key": key, "type": kind.name, "label": label}
    if help_text:
        field["help_text"] = help_text
    field["required"] = required
    field.update(kind.clean_options(raw, path))
    return field
