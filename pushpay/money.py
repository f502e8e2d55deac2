"""Money as integer minor units plus an ISO 4217 code (ARCHITECTURE.md guarantee 1)."""

import datetime
import re
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, get_currency_precision, get_territory_currencies


@lru_cache(maxsize=1)
def active_currencies() -> frozenset[str]:
    """Currencies legal tender somewhere today, per CLDR (so no XXX, no withdrawn FRF)."""
    today = datetime.date.today()  # noqa: DTZ011 - a calendar day is all CLDR needs
    codes: set[str] = set()
    for territory in Locale("en").territories:
        try:
            codes.update(get_territory_currencies(territory, today))
        except Exception:  # noqa: S112 - CLDR has regions with no currency data
            continue
    return frozenset(codes)


def is_currency(code: str) -> bool:
    return isinstance(code, str) and code in active_currencies()


def currency_exponent(code: str) -> int:
    """Digits after the decimal point: 2 for EUR, 0 for JPY, 3 for KWD."""
    return get_currency_precision(code)


def format_money(amount: int, currency: str, language: str = "en") -> str:
    """Human display only; never parse the result back."""
    return _formatted(amount, currency, language)


@lru_cache(maxsize=4096, typed=True)
def _formatted(amount: int, currency: str, language: str) -> str:
    # Kept: babel parses the locale and pattern on every call, and a page shows the same few
    # amounts again and again (the payer page twice each); the answer depends on nothing else.
    exponent = currency_exponent(currency)
    return format_currency(Decimal(amount).scaleb(-exponent), currency, locale=language)


def split_equally(total: int, parts: int) -> list[int]:
    """Split ``total`` minor units into ``parts`` shares that sum exactly to it.

    The remainder goes one unit each to the first participants, so the result depends only on
    the order they were given in: 100 among 3 is [34, 33, 33].
    """
    if parts <= 0:
        raise ValueError("parts must be positive")
    if total < 0:
        raise ValueError("total must not be negative")
    base, remainder = divmod(total, parts)
    return [base + 1 if index < remainder else base for index in range(parts)]


# The largest amount any field accepts, in minor units: far above any real payment (the
# services refuse more than 10**13), low enough that no arithmetic on it is ever slow.
MAX_MINOR_UNITS = 10**15
MAJOR_INTEGER_DIGITS = 15

# ASCII digits only ("\d" would take Arabic-Indic or fullwidth digits), one optional "." or
# ",", nothing else: no sign, exponent, "_", whitespace, "Infinity" or "NaN".
_MAJOR_AMOUNT = re.compile(rf"([0-9]{{1,{MAJOR_INTEGER_DIGITS}}})(?:[.,]([0-9]+))?", re.ASCII)

_TOO_MANY_DIGITS = re.compile(rf"[0-9]{{{MAJOR_INTEGER_DIGITS + 1},}}(?:[.,][0-9]+)?", re.ASCII)


class AmountSyntaxError(ValueError):
    """A typed amount that is not a plain decimal number of the currency (``code`` says why:
    ``invalid_amount``, ``too_many_decimals`` or ``amount_too_large``)."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


def parse_major_amount(raw: str, currency: str) -> int:
    """'25.5' or '25,5' EUR -> 2550 minor units; raises ``AmountSyntaxError`` otherwise.

    The text is matched against a bounded grammar before any arithmetic: ``Decimal`` would
    happily take '1e999999' and spend seconds (or overflow) turning it into minor units.
    Zero is returned as 0; whether it may be paid is the service's call.
    """
    if not isinstance(raw, str) or len(raw) > MAJOR_INTEGER_DIGITS + 20:
        raise AmountSyntaxError("The amount is not a number.", code="invalid_amount")
    match = _MAJOR_AMOUNT.fullmatch(raw)
    if match is None:
        if _TOO_MANY_DIGITS.fullmatch(raw):
            raise AmountSyntaxError("The amount is too large.", code="amount_too_large")
        raise AmountSyntaxError("The amount is not a number.", code="invalid_amount")
    whole, fraction = match.group(1), match.group(2) or ""
    exponent = currency_exponent(currency)
    if len(fraction) > exponent:
        raise AmountSyntaxError(
            f"{currency} amounts have at most {exponent} decimals.", code="too_many_decimals"
        )
    minor = int(whole) * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
    if minor > MAX_MINOR_UNITS:
        raise AmountSyntaxError("The amount is too large.", code="amount_too_large")
    return minor
