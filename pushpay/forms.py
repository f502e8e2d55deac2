"""Form fields shared by the back-office editors."""

import json
from typing import Any

from django import forms

from pushpay.jsonlimits import JsonRefused, loads_bounded


class _DuplicateName(ValueError):
    pass


def _refuse_duplicate_names(pairs: list[tuple[str, Any]]) -> dict:
    # The json module silently keeps the last of two equal names; an operator who typed
    # "label" twice would lose one without noticing, so the text is refused instead.
    seen: dict[str, Any] = {}
    for name, value in pairs:
        if name in seen:
            raise _DuplicateName(name)
        seen[name] = value
    return seen


class JsonListField(forms.CharField):
    """A textarea holding JSON typed by an operator; cleans to the parsed value, with
    messages that say where the text is wrong (line, column, or a name given twice)."""

    def __init__(self, *, what: str, **kwargs):
        self.what = what
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 22, "spellcheck": "false"}))
        kwargs.setdefault(
            "help_text", f"A JSON list with one object per {what}, as in the example."
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        if not text or not text.strip():
            raise forms.ValidationError(
                f"Enter the {self.what}s as a JSON list, as in the example.", code="required"
            )
        try:
            return loads_bounded(text, object_pairs_hook=_refuse_duplicate_names)
        except JsonRefused as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None
        except _DuplicateName as exc:
            raise forms.ValidationError(
                "Invalid JSON: the name “%(name)s” appears twice in one object.",
                code="duplicate_name",
                params={"name": exc.args[0]},
            ) from None
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                "Invalid JSON at line %(line)s, column %(column)s: %(reason)s.",
                code="invalid_json",
                params={"line": exc.lineno, "column": exc.colno, "reason": exc.msg},
            ) from None
