"""Money as integer minor units plus an ISO 4217 code (ARCHITECTURE.md guarantee 1)."""

import datetime
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
    exponent = currency_exponent(currency)
    return format_currency(amount / (10**exponent), currency, locale=language)


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
