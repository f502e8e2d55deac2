"""Bounds on JSON that strangers send us (API bodies, JSON typed into back-office editors).

The json module recurses once per nesting level: 10**4 brackets raise ``RecursionError``
while decoding, and a few hundred that do decode still overflow the stack of the next
recursive walk (validation, ``json.dumps``, the JSON column). Nothing we accept is deeper
than a few levels, so anything past ``MAX_JSON_DEPTH`` is refused up front. The walks here
use an explicit stack so that they cannot overflow themselves.
"""

import json
import re
from typing import Any

MAX_JSON_DEPTH = 32


class JsonRefused(ValueError):
    """JSON that is well formed but that no field accepts; ``code`` says why."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


TOO_DEEP = f"JSON may nest objects and lists at most {MAX_JSON_DEPTH} levels deep."
HAS_NUL = "Text in the body may not contain NUL (\\u0000) characters."
HAS_SURROGATE = "Text in the body may not contain unpaired surrogates (\\ud800 to \\udfff)."
# A lone surrogate decodes from "\\ud800" but cannot be encoded to UTF-8 for the database.
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_json_value(value: Any) -> None:
    """Raise ``JsonRefused`` for nesting past ``MAX_JSON_DEPTH``, or for a NUL (PostgreSQL
    cannot store one, even in jsonb) or an unpaired surrogate in any string or key."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise JsonRefused(HAS_NUL, code="invalid_characters")
            if _SURROGATE.search(item):
                raise JsonRefused(HAS_SURROGATE, code="invalid_characters")
            continue
        if isinstance(item, dict):
            children = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= MAX_JSON_DEPTH:
            raise JsonRefused(TOO_DEEP, code="too_deep")
        stack.extend((child, depth + 1) for child in children)


def loads_bounded(text: str | bytes, **kwargs) -> Any:
    """``json.loads`` that raises ``JsonRefused`` instead of ``RecursionError`` and refuses
    what ``check_json_value`` refuses; syntax errors stay ``json.JSONDecodeError``."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise JsonRefused(TOO_DEEP, code="too_deep") from None
    check_json_value(value)
    return value
