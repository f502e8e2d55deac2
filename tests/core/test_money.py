import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pushpay.money import (
    MAX_MINOR_UNITS,
    AmountSyntaxError,
    currency_exponent,
    format_money,
    is_currency,
    parse_major_amount,
    split_equally,
)


@given(total=st.integers(min_value=0, max_value=10**13), parts=st.integers(1, 1000))
def test_an_equal_split_always_sums_exactly_and_differs_by_at_most_one(total, parts):
    shares = split_equally(total, parts)
    assert len(shares) == parts
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1
    assert shares == sorted(shares, reverse=True)  # the remainder goes to the first ones


@pytest.mark.parametrize(
    ("total", "parts", "expected"),
    [
        (1, 3, [1, 0, 0]),
        (10000, 7, [1429, 1429, 1429, 1429, 1428, 1428, 1428]),
        (100, 3, [34, 33, 33]),
    ],
)
def test_awkward_totals_split_deterministically(total, parts, expected):
    assert split_equally(total, parts) == expected


def test_it_refuses_nonsense_splits():
    with pytest.raises(ValueError):
        split_equally(100, 0)
    with pytest.raises(ValueError):
        split_equally(-1, 2)


def test_currencies_in_use_are_known_and_withdrawn_ones_are_not():
    assert is_currency("EUR") and is_currency("JPY") and is_currency("KWD")
    assert not is_currency("FRF") and not is_currency("XXX") and not is_currency("eur")
    assert (currency_exponent("EUR"), currency_exponent("JPY"), currency_exponent("KWD")) == (
        2,
        0,
        3,
    )


def test_money_is_formatted_from_minor_units_per_language():
    assert format_money(123456, "EUR", "en") == "€1,234.56"
    assert format_money(123456, "EUR", "fr").replace("\u202f", " ").replace("\xa0", " ") == (
        "1 234,56 €"
    )
    assert format_money(500, "JPY", "en") == "¥500"


@pytest.mark.parametrize(
    ("raw", "currency", "minor"),
    [
        ("25", "EUR", 2500),
        ("25.5", "EUR", 2550),
        ("25,50", "EUR", 2550),
        ("0.01", "EUR", 1),
        ("500", "JPY", 500),
        ("1.234", "KWD", 1234),
        ("0", "EUR", 0),
        ("9" * 13, "EUR", int("9" * 13) * 100),
    ],
)
def test_a_plain_decimal_amount_is_read_into_minor_units(raw, currency, minor):
    assert parse_major_amount(raw, currency) == minor


@pytest.mark.parametrize(
    ("raw", "currency", "code"),
    [
        ("1e300000", "EUR", "invalid_amount"),
        ("1e999999", "EUR", "invalid_amount"),
        ("1E5", "EUR", "invalid_amount"),
        ("1_000", "EUR", "invalid_amount"),
        ("\u0661\u0662", "EUR", "invalid_amount"),  # Arabic-Indic digits
        ("\uff11\uff12", "EUR", "invalid_amount"),  # fullwidth digits
        ("  12", "EUR", "invalid_amount"),
        ("12 ", "EUR", "invalid_amount"),
        ("1 000", "EUR", "invalid_amount"),
        ("12\n", "EUR", "invalid_amount"),
        ("-5", "EUR", "invalid_amount"),
        ("+5", "EUR", "invalid_amount"),
        ("Infinity", "EUR", "invalid_amount"),
        ("NaN", "EUR", "invalid_amount"),
        ("", "EUR", "invalid_amount"),
        ("12.", "EUR", "invalid_amount"),
        (".5", "EUR", "invalid_amount"),
        ("1.2.3", "EUR", "invalid_amount"),
        ("1,000.50", "EUR", "invalid_amount"),
        ("0x10", "EUR", "invalid_amount"),
        ("9" * 10_000, "EUR", "invalid_amount"),
        ("12.555", "EUR", "too_many_decimals"),
        ("12.5", "JPY", "too_many_decimals"),
        ("1.2345", "KWD", "too_many_decimals"),
        ("9" * 16, "EUR", "amount_too_large"),
        ("9" * 15, "EUR", "amount_too_large"),
    ],
)
def test_anything_but_a_plain_bounded_decimal_is_refused_with_a_code(raw, currency, code):
    with pytest.raises(AmountSyntaxError) as refused:
        parse_major_amount(raw, currency)
    assert refused.value.code == code


@settings(max_examples=500, deadline=None)
@given(raw=st.text(max_size=2000) | st.from_regex(r"[0-9eE.,_+\- ]{0,400}", fullmatch=True))
def test_the_amount_parser_only_ever_refuses_and_is_fast_on_any_text(raw):
    started = time.perf_counter()
    try:
        minor = parse_major_amount(raw, "EUR")
    except AmountSyntaxError:
        pass
    else:
        assert 0 <= minor <= MAX_MINOR_UNITS
    assert time.perf_counter() - started < 0.05
