"""The languages the product speaks to payers, in one place.

Models' choices, the API's enums, the template editor's inputs, the payer page's ``lang``
parameter and Django's own ``LANGUAGES`` setting all read this list, so adding a language is
one edit here (plus its translations) instead of a hunt through six apps.

This module imports nothing from Django's settings: the settings import it.
"""

from pushpay.errors import InvalidInput

# (code, name in that language), French first: it is the default of merchants and payers.
LANGUAGES: list[tuple[str, str]] = [("fr", "Français"), ("en", "English")]
LANGUAGE_CODES: tuple[str, ...] = tuple(code for code, _ in LANGUAGES)
LANGUAGE_NAMES: dict[str, str] = dict(LANGUAGES)
UNSUPPORTED_LANGUAGE_MESSAGE = (
    "Language must be " + " or ".join(f"'{code}'" for code in LANGUAGE_CODES) + "."
)


def is_supported_language(code: object) -> bool:
    """Whether ``code`` is one of ours; anything else (``xx``, ``../../etc``, None, a list)
    must never reach babel's locale parser, which raises on it."""
    return isinstance(code, str) and code in LANGUAGE_NAMES


def language_or_default(code: object, default: str) -> str:
    """``code`` when we speak it, else ``default``: for inputs that may fall back quietly
    (a link's ``?lang=``), as opposed to stored values, which are refused."""
    return code if is_supported_language(code) else default  # type: ignore[return-value]


def language_checked(code: object, *, field: str) -> str:
    """``code`` itself, or the refusal every service gives for an unknown language."""
    if not is_supported_language(code):
        raise InvalidInput(UNSUPPORTED_LANGUAGE_MESSAGE, code="invalid_choice", field=field)
    return code  # type: ignore[return-value]


def other_languages(code: str) -> tuple[str, ...]:
    """The languages to fall back on, in order, when a text is missing in ``code``."""
    return tuple(other for other in LANGUAGE_CODES if other != code)
