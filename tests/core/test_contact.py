"""Emails and phones are cleaned by one module, whichever door they come in through."""

import pytest

from pushpay.contact import (
    InvalidContact,
    email_checked,
    normalise_email,
    normalise_phone,
    phone_checked,
)
from pushpay.errors import InvalidInput


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+33612345678", "+33612345678"),
        (" +33 6 12 34 56 78 ", "+33612345678"),
        ("+33.6.12.34.56.78", "+33612345678"),
        ("+1 (415) 555-2671", "+14155552671"),
    ],
)
def test_a_phone_becomes_e164(raw, e164):
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize(
    "raw", ["", "0612345678", "06 12 34 56 78", "+3361234", "+33abc", None, 33]
)
def test_a_phone_we_cannot_reach_is_refused_with_one_code_and_message(raw):
    with pytest.raises(InvalidContact) as refusal:
        normalise_phone(raw)
    assert refusal.value.code == "invalid_phone"
    assert "E.164" in refusal.value.message


def test_an_email_loses_its_surrounding_spaces_but_keeps_its_case():
    assert normalise_email("  Ann.Lee@Example.com\t") == "Ann.Lee@Example.com"


@pytest.mark.parametrize("raw", ["", "ann@", "ann example.com", "a" * 250 + "@example.com", None])
def test_an_email_we_cannot_deliver_to_is_refused(raw):
    with pytest.raises(InvalidContact) as refusal:
        normalise_email(raw)
    assert refusal.value.code == "invalid_email"


def test_services_get_an_invalid_input_naming_the_field():
    with pytest.raises(InvalidInput) as refusal:
        phone_checked("0612345678", field="participants[2].phone")
    assert (refusal.value.code, refusal.value.field) == ("invalid_phone", "participants[2].phone")

    with pytest.raises(InvalidInput) as refusal:
        email_checked("ann@", field="to", message="Add an address to your login.")
    assert (refusal.value.code, refusal.value.message) == (
        "invalid_email",
        "Add an address to your login.",
    )
