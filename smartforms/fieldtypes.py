"""The field types a smart form can hold, one small class each.

Every type knows three things: which options an operator may set and how to check them
(``clean_options``), how to turn a payer's raw answer into a clean value (``clean_answer``),
and which HTML attributes render it (``html_attrs``). Adding a type means adding a class here
and listing it in ``FIELD_TYPES``; nothing else changes.

Option problems raise ``InvalidInput`` with the full path (``fields[2].regex``) because the
operator must know exactly what to fix. Answer problems raise ``AnswerError`` carrying a code
and parameters only: the service turns them into a message in the payer's language.
"""

import math
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from pushpay.contact import EMAIL_MAX_LENGTH, InvalidContact, normalise_email, normalise_phone
from pushpay.errors import InvalidInput
from pushpay.i18n import is_supported_language

MAX_CHOICES = 100
CHOICE_VALUE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
LABEL_MAX_LENGTH = 200
HELP_TEXT_MAX_LENGTH = 500
TEXT_MAX_LENGTH = 1000
# Python's re has no timeout, so a pattern is only ever run on short input: even a
# pathological pattern that slipped past the nested-quantifier check stays bounded.
REGEX_INPUT_MAX_LENGTH = 200
REGEX_MAX_LENGTH = 300
NUMBER_MAX_ABS = 10**15
MAX_DECIMAL_PLACES = 6
PHONE_MAX_LENGTH = 32

_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER_RE = re.compile(r"^[+-]?\d{1,20}(\.\d{1,20})?$")
_TRUE = {"true", "on", "1", "yes"}
_FALSE = {"false", "off", "0", "no", ""}


class AnswerError(Exception):
    """A payer's answer does not fit its field; ``code`` selects the translated message."""

    def __init__(self, code: str, **params: Any):
        super().__init__(code)
        self.code = code
        self.params = params


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | dict):
        return not value
    return False


# --- Option checking helpers ----------------------------------------------------------------


def _refuse(message: str, code: str, field: str) -> InvalidInput:
    return InvalidInput(message, code=code, field=field)


def collect(problems: list[InvalidInput], check: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Run one check; on a refusal keep it in ``problems`` and return None, so the checks
    after it still run and an operator sees every problem at once, in checking order."""
    try:
        return check(*args, **kw)
    except InvalidInput as refusal:
        problems.append(refusal)
        return None


def clean_translations(value: Any, path: str, *, required: bool, max_length: int) -> dict:
    """A {"fr": …, "en": …} text; one language is enough, the other falls back at render."""
    what = path.rsplit(".", 1)[-1].replace("_", " ")
    if value is None:
        if required:
            raise _refuse(
                f"A {what} is required in French or English (or both).",
                f"{what.replace(' ', '_')}_required",
                path,
            )
        return {}
    if not isinstance(value, dict):
        raise _refuse(
            f'{what.capitalize()} must be an object such as {{"fr": "…", "en": "…"}}.',
            f"invalid_{what.replace(' ', '_')}",
            path,
        )
    cleaned = {}
    for language, text in value.items():
        if not is_supported_language(language):
            raise _refuse(
                f"Unknown language '{language}'; use 'fr' or 'en'.",
                "unknown_language",
                f"{path}.{language}",
            )
        if not isinstance(text, str):
            raise _refuse(
                f"The {what} must be text.",
                f"invalid_{what.replace(' ', '_')}",
                f"{path}.{language}",
            )
        if len(text) > max_length:
            raise _refuse(
                f"The {what} is at most {max_length} characters.",
                "too_long",
                f"{path}.{language}",
            )
        if text.strip():
            cleaned[language] = text.strip()
    if required and not cleaned:
        raise _refuse(
            f"A {what} is required in French or English (or both).",
            f"{what.replace(' ', '_')}_required",
            path,
        )
    return cleaned


def _int_option(raw: dict, name: str, path: str, *, minimum: int, maximum: int) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(f"{name} must be a whole number.", "invalid_option", f"{path}.{name}")
    if not minimum <= value <= maximum:
        raise _refuse(
            f"{name} must be between {minimum} and {maximum}.",
            "option_out_of_range",
            f"{path}.{name}",
        )
    return value


def _number_option(raw: dict, name: str, path: str) -> int | float | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _refuse(f"{name} must be a number.", "invalid_option", f"{path}.{name}")
    if abs(value) > NUMBER_MAX_ABS:
        raise _refuse(
            f"{name} must be between -{NUMBER_MAX_ABS} and {NUMBER_MAX_ABS}.",
            "option_out_of_range",
            f"{path}.{name}",
        )
    return value


def _date_option(raw: dict, name: str, path: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    parsed = _parse_date(value)
    if parsed is None:
        raise _refuse(
            f"{name} must be a date written YYYY-MM-DD.", "invalid_option", f"{path}.{name}"
        )
    return parsed.isoformat()


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or not _ISO_DATE_RE.match(value.strip()):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def _check_order(low: Any, high: Any, low_name: str, high_name: str, path: str) -> None:
    if low is not None and high is not None and low > high:
        raise _refuse(
            f"{low_name} ({low}) is above {high_name} ({high}).",
            "min_above_max",
            f"{path}.{low_name}",
        )


def _nested_variable_repeat(pattern: str) -> bool:
    """True for shapes such as ``(a+)+`` that backtrack exponentially on a near miss.

    Uses the standard library's own parser, which is private; if it ever moves, the input
    length limit remains the protection.
    """
    try:
        from re import _constants as sre  # type: ignore[attr-defined]
        from re import _parser as sre_parse  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - another Python layout
        return False
    repeats = {sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", None)}

    def children(op: Any, av: Any) -> list:
        if op == sre.SUBPATTERN:
            return [av[-1]]
        if op == sre.BRANCH:
            return list(av[1])
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            return [av[1]]
        if op == getattr(sre, "ATOMIC_GROUP", None):
            return [av]
        if op == sre.GROUPREF_EXISTS:
            return [branch for branch in av[1:] if branch is not None]
        return []

    def walk(items: Any, inside: bool) -> bool:
        for op, av in items:
            if op in repeats:
                low, high, sub = av
                if inside and low != high:
                    return True
                if walk(sub, inside or high > 1):
                    return True
            elif any(walk(child, inside) for child in children(op, av)):
                return True
        return False

    try:
        return walk(sre_parse.parse(pattern), False)
    except Exception:  # pragma: no cover - already compiled once, so should not happen
        return True


# --- Field types ----------------------------------------------------------------------------


class FieldType:
    name: ClassVar[str]
    options: ClassVar[tuple[str, ...]] = ()
    input_type: ClassVar[str] = "text"
    widget: ClassVar[str] = "input"

    def clean_options(self, raw: dict, path: str) -> dict:
        """Check the type's own options; return only those that are set, or refuse the first
        problem."""
        cleaned, problems = self.check_options(raw, path)
        if problems:
            raise problems[0]
        return cleaned

    def check_options(self, raw: dict, path: str) -> tuple[dict, list[InvalidInput]]:
        """The options that are set and every problem with them, in checking order."""
        return {}, []

    def clean_answer(self, field: dict, value: Any) -> Any:
        raise NotImplementedError

    def empty_answer(self, field: dict) -> Any:
        return None

    def is_missing(self, field: dict, value: Any) -> bool:
        return is_empty(value)

    def missing_code(self, field: dict) -> str:
        return "required"

    def html_attrs(self, field: dict) -> dict:
        return {}


class TextType(FieldType):
    name = "text"
    options = ("min_length", "max_length", "regex")

    def check_options(self, raw: dict, path: str) -> tuple[dict, list[InvalidInput]]:
        problems: list[InvalidInput] = []
        regex = collect(problems, self._clean_regex, raw.get("regex"), path)
        # The ceiling follows the regex as written, valid or not: its length rule applies.
        has_regex = raw.get("regex") is not None
        ceiling = REGEX_INPUT_MAX_LENGTH if has_regex else TEXT_MAX_LENGTH
        max_length = raw.get("max_length")
        too_long_for_regex = (
            has_regex
            and isinstance(max_length, int)
            and not isinstance(max_length, bool)
            and max_length > ceiling
        )
        if too_long_for_regex:
            problems.append(
                _refuse(
                    f"With a regex, answers are at most {ceiling} characters; lower max_length.",
                    "option_out_of_range",
                    f"{path}.max_length",
                )
            )
        min_length = collect(
            problems, _int_option, raw, "min_length", path, minimum=0, maximum=ceiling
        )
        if not too_long_for_regex:
            max_length = collect(
                problems, _int_option, raw, "max_length", path, minimum=1, maximum=ceiling
            )
        else:
            max_length = None
        collect(problems, _check_order, min_length, max_length, "min_length", "max_length", path)
        cleaned = {"min_length": min_length, "max_length": max_length, "regex": regex}
        return {name: value for name, value in cleaned.items() if value is not None}, problems

    @staticmethod
    def _clean_regex(regex: Any, path: str) -> str | None:
        if regex is None:
            return None
        if not isinstance(regex, str) or not regex:
            raise _refuse("regex must be a non-empty string.", "invalid_regex", f"{path}.regex")
        if len(regex) > REGEX_MAX_LENGTH:
            raise _refuse(
                f"regex is at most {REGEX_MAX_LENGTH} characters.",
                "regex_too_long",
                f"{path}.regex",
            )
        try:
            re.compile(regex)
        except re.error as exc:
            raise _refuse(
                f"regex does not compile: {exc}.", "invalid_regex", f"{path}.regex"
            ) from exc
        if _nested_variable_repeat(regex):
            raise _refuse(
                "regex nests one repetition inside another, such as (a+)+; it could take "
                "forever on some answers. Rewrite it without the nesting.",
                "regex_too_complex",
                f"{path}.regex",
            )
        return regex

    def _max_length(self, field: dict) -> int:
        ceiling = REGEX_INPUT_MAX_LENGTH if field.get("regex") else TEXT_MAX_LENGTH
        return field.get("max_length") or ceiling

    def clean_answer(self, field: dict, value: Any) -> str:
        if not isinstance(value, str):
            raise AnswerError("invalid_text")
        text = value.strip()
        max_length = self._max_length(field)
        # The length check must come before the regex: it is what bounds backtracking.
        if len(text) > max_length:
            raise AnswerError("too_long", limit=max_length)
        min_length = field.get("min_length")
        if min_length is not None and len(text) < min_length:
            raise AnswerError("too_short", limit=min_length)
        regex = field.get("regex")
        if regex and re.fullmatch(regex, text) is None:
            raise AnswerError("pattern_mismatch")
        return text

    def html_attrs(self, field: dict) -> dict:
        attrs: dict[str, Any] = {"maxlength": self._max_length(field)}
        if field.get("min_length"):
            attrs["minlength"] = field["min_length"]
        if field.get("regex"):
            attrs["pattern"] = field["regex"]
        return attrs


def _contact_answer(normalise: Callable[[object], str], value: Any) -> str:
    try:
        return normalise(value)
    except InvalidContact as refusal:
        raise AnswerError(refusal.code) from None


class EmailType(FieldType):
    name = "email"
    input_type = "email"

    def clean_answer(self, field: dict, value: Any) -> str:
        return _contact_answer(normalise_email, value)

    def html_attrs(self, field: dict) -> dict:
        return {"maxlength": EMAIL_MAX_LENGTH, "autocomplete": "email"}


class PhoneType(FieldType):
    name = "phone"
    input_type = "tel"

    def clean_answer(self, field: dict, value: Any) -> str:
        if isinstance(value, str) and len(value.strip()) > PHONE_MAX_LENGTH:
            raise AnswerError("invalid_phone")
        return _contact_answer(normalise_phone, value)

    def html_attrs(self, field: dict) -> dict:
        return {"maxlength": PHONE_MAX_LENGTH, "autocomplete": "tel", "inputmode": "tel"}


class NumberType(FieldType):
    name = "number"
    input_type = "number"
    options = ("min", "max", "decimal_places")

    def check_options(self, raw: dict, path: str) -> tuple[dict, list[InvalidInput]]:
        problems: list[InvalidInput] = []
        minimum = collect(problems, _number_option, raw, "min", path)
        maximum = collect(problems, _number_option, raw, "max", path)
        collect(problems, _check_order, minimum, maximum, "min", "max", path)
        places = collect(
            problems,
            _int_option,
            raw,
            "decimal_places",
            path,
            minimum=0,
            maximum=MAX_DECIMAL_PLACES,
        )
        cleaned = {"min": minimum, "max": maximum, "decimal_places": places}
        return {name: value for name, value in cleaned.items() if value is not None}, problems

    def clean_answer(self, field: dict, value: Any) -> int | float:
        number = _to_decimal(value)
        if number is None or abs(number) > NUMBER_MAX_ABS:
            raise AnswerError("invalid_number")
        places = field.get("decimal_places")
        exponent = number.normalize().as_tuple().exponent
        if places is not None and isinstance(exponent, int) and -exponent > places:
            raise AnswerError("too_many_decimals", limit=places)
        if field.get("min") is not None and number < Decimal(str(field["min"])):
            raise AnswerError("below_min", limit=field["min"])
        if field.get("max") is not None and number > Decimal(str(field["max"])):
            raise AnswerError("above_max", limit=field["max"])
        if number == number.to_integral_value():
            return int(number)
        return float(number)

    def html_attrs(self, field: dict) -> dict:
        attrs: dict[str, Any] = {}
        for name in ("min", "max"):
            if field.get(name) is not None:
                attrs[name] = field[name]
        places = field.get("decimal_places")
        attrs["step"] = "any" if places is None else str(Decimal(1).scaleb(-places))
        attrs["inputmode"] = "numeric" if places == 0 else "decimal"
        return attrs


def _to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip().replace(",", ".")  # payers in France type 12,5
        if not _NUMBER_RE.match(text):
            return None
        try:
            return Decimal(text)
        except InvalidOperation:  # pragma: no cover - the regex already excludes these
            return None
    return None


class DateType(FieldType):
    name = "date"
    input_type = "date"
    options = ("min", "max")

    def check_options(self, raw: dict, path: str) -> tuple[dict, list[InvalidInput]]:
        problems: list[InvalidInput] = []
        minimum = collect(problems, _date_option, raw, "min", path)
        maximum = collect(problems, _date_option, raw, "max", path)
        # ISO dates sort as text.
        collect(problems, _check_order, minimum, maximum, "min", "max", path)
        cleaned = {"min": minimum, "max": maximum}
        return {name: value for name, value in cleaned.items() if value is not None}, problems

    def clean_answer(self, field: dict, value: Any) -> str:
        parsed = _parse_date(value)
        if parsed is None:
            raise AnswerError("invalid_date")
        if field.get("min") and parsed < date.fromisoformat(field["min"]):
            raise AnswerError("date_before_min", limit=field["min"])
        if field.get("max") and parsed > date.fromisoformat(field["max"]):
            raise AnswerError("date_after_max", limit=field["max"])
        return parsed.isoformat()

    def html_attrs(self, field: dict) -> dict:
        return {name: field[name] for name in ("min", "max") if field.get(name)}


class _ChoiceType(FieldType):
    def _check_choices(
        self, raw: dict, path: str, problems: list[InvalidInput]
    ) -> list[dict] | None:
        """The cleaned choices, or None when the list itself is unusable; every problem with
        a single choice is kept and the other choices are still checked."""
        choices = raw.get("choices")
        if choices is None or choices == []:
            problems.append(
                _refuse(
                    "A choice field needs at least one choice.",
                    "choices_required",
                    f"{path}.choices",
                )
            )
            return None
        if not isinstance(choices, list):
            problems.append(
                _refuse("choices must be a list.", "invalid_choices", f"{path}.choices")
            )
            return None
        if len(choices) > MAX_CHOICES:
            problems.append(
                _refuse(
                    f"A field has at most {MAX_CHOICES} choices.",
                    "too_many_choices",
                    f"{path}.choices",
                )
            )
            return None
        cleaned: list[dict] = []
        seen: set[str] = set()
        for index, choice in enumerate(choices):
            choice_path = f"{path}.choices[{index}]"
            if not isinstance(choice, dict):
                problems.append(
                    _refuse(
                        'Each choice is an object {"value": …, "label": {…}}.',
                        "invalid_choice",
                        choice_path,
                    )
                )
                continue
            before = len(problems)
            for unknown in sorted(set(choice) - {"value", "label"}):
                problems.append(
                    _refuse(
                        f"Unknown choice option '{unknown}'.",
                        "unknown_option",
                        f"{choice_path}.{unknown}",
                    )
                )
            value = choice.get("value")
            if not isinstance(value, str) or not CHOICE_VALUE_RE.match(value):
                problems.append(
                    _refuse(
                        "A choice value is 1 to 100 letters, digits, '_', '.' or '-', "
                        "starting with a letter or digit.",
                        "invalid_choice_value",
                        f"{choice_path}.value",
                    )
                )
            elif value in seen:
                problems.append(
                    _refuse(
                        f"The choice value '{value}' appears twice.",
                        "duplicate_choice",
                        f"{choice_path}.value",
                    )
                )
            else:
                seen.add(value)
            label = collect(
                problems,
                clean_translations,
                choice.get("label"),
                f"{choice_path}.label",
                required=True,
                max_length=LABEL_MAX_LENGTH,
            )
            if len(problems) == before:
                cleaned.append({"value": value, "label": label})
        return cleaned

    @staticmethod
    def _values(field: dict) -> list[str]:
        return [choice["value"] for choice in field["choices"]]


class SingleChoiceType(_ChoiceType):
    name = "single_choice"
    input_type = "radio"
    widget = "radio"
    options = ("choices",)

    def check_options(self, raw: dict, path: str) -> tuple[dict, list[InvalidInput]]:
        problems: list[InvalidInput] = []
        choices = self._check_choices(raw, path, problems)
        return {"choices": choices or []}, problems

    def clean_answer(self, field: dict, value: Any) -> str:
        if not isinstance(value, str) or value not in self._values(field):
            raise AnswerError("invalid_choice")
        return value


class MultipleChoiceType(_ChoiceType):
    name = "multiple_choice"
    input_type = "checkbox"
    widget = "checkboxes"
    options = ("choices", "min_selections", "max_selections")

    def check_options(self, raw: dict, path: str) -> tuple[dict, list[InvalidInput]]:
        problems: list[InvalidInput] = []
        choices = self._check_choices(raw, path, problems)
        if choices is None:
            # Without a usable list there is no count to hold the selection limits against.
            return {"choices": []}, problems
        count = len(raw["choices"])
        low = collect(problems, _int_option, raw, "min_selections", path, minimum=0, maximum=count)
        high = collect(problems, _int_option, raw, "max_selections", path, minimum=1, maximum=count)
        collect(problems, _check_order, low, high, "min_selections", "max_selections", path)
        cleaned: dict[str, Any] = {"choices": choices}
        if low is not None:
            cleaned["min_selections"] = low
        if high is not None:
            cleaned["max_selections"] = high
        return cleaned, problems

    def empty_answer(self, field: dict) -> list:
        return []

    def clean_answer(self, field: dict, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise AnswerError("invalid_selection")
        values = self._values(field)
        if any(item not in values for item in value):
            raise AnswerError("invalid_choice")
        if len(set(value)) != len(value):
            raise AnswerError("duplicate_selection")
        low, high = field.get("min_selections"), field.get("max_selections")
        if low is not None and len(value) < low:
            raise AnswerError("too_few_selections", limit=low)
        if high is not None and len(value) > high:
            raise AnswerError("too_many_selections", limit=high)
        chosen = set(value)
        return [item for item in values if item in chosen]  # definition order: stable output


class ConsentType(FieldType):
    name = "consent"
    input_type = "checkbox"
    widget = "checkbox"

    def empty_answer(self, field: dict) -> bool:
        return False

    def is_missing(self, field: dict, value: Any) -> bool:
        # An unticked box is absent from a browser's POST, so "missing" and "false" are one.
        return value is None or value is False or (isinstance(value, str) and not value.strip())

    def missing_code(self, field: dict) -> str:
        return "consent_required"

    def clean_answer(self, field: dict, value: Any) -> bool:
        if isinstance(value, bool):
            ticked = value
        elif isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            ticked = value.strip().lower() in _TRUE
        else:
            raise AnswerError("invalid_consent")
        if field.get("required") and not ticked:
            raise AnswerError("consent_required")
        return ticked


FIELD_TYPES: dict[str, FieldType] = {
    kind.name: kind
    for kind in (
        TextType(),
        EmailType(),
        PhoneType(),
        NumberType(),
        DateType(),
        SingleChoiceType(),
        MultipleChoiceType(),
        ConsentType(),
    )
}
ALL_OPTIONS = frozenset(option for kind in FIELD_TYPES.values() for option in kind.options)
