import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushpay.money import currency_exponent, format_money, is_currency, split_equally


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
