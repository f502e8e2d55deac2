"""The acquirer never takes more than it held, nor gives back more than it took.

Illegal moves raise ``StateConflict`` and write nothing: they are the caller's bug, not a
payer outcome, so they are loud rather than a ``failed`` result.
"""

import pytest

from payments.adapters.base import PaymentStatus
from payments.models import SandboxLedgerEntry
from payments.sandbox.selectors import sandbox_card_balance
from pushpay.errors import InvalidInput, StateConflict

from .conftest import DECLINED

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(tokenise):
    return tokenise()


@pytest.fixture
def reference(card, token):
    return card.authorise(
        amount=3000, currency="EUR", source=token, idempotency_key="auth-1"
    ).provider_reference


def test_it_refuses_a_capture_above_the_hold(card, token, reference):
    with pytest.raises(StateConflict) as refused:
        card.capture(reference=reference, amount=3001, idempotency_key="cap-1")

    assert (refused.value.code, refused.value.field) == ("capture_exceeds_hold", "amount")
    assert sandbox_card_balance(token=token).debited == 0
    assert not SandboxLedgerEntry.objects.filter(kind="capture").exists()


def test_partial_captures_may_add_up_to_the_hold_but_not_beyond(card, token, reference):
    card.capture(reference=reference, amount=1000, idempotency_key="cap-1")
    card.capture(reference=reference, amount=1500, idempotency_key="cap-2")
    assert card.retrieve(reference=reference).status == PaymentStatus.AUTHORISED

    with pytest.raises(StateConflict):
        card.capture(reference=reference, amount=501, idempotency_key="cap-3")
    card.capture(reference=reference, amount=500, idempotency_key="cap-4")

    assert sandbox_card_balance(token=token) == sandbox_card_balance(token=token).__class__(
        held=0, debited=3000, currency="EUR"
    )
    assert card.retrieve(reference=reference).status == PaymentStatus.CAPTURED


def test_it_refuses_to_capture_a_voided_hold(card, token, reference):
    card.void(reference=reference, idempotency_key="void-1")

    with pytest.raises(StateConflict) as refused:
        card.capture(reference=reference, amount=3000, idempotency_key="cap-1")

    assert refused.value.code == "not_capturable"
    assert sandbox_card_balance(token=token).debited == 0


def test_it_refuses_to_capture_a_fully_captured_hold_again(card, reference):
    card.capture(reference=reference, amount=3000, idempotency_key="cap-1")

    with pytest.raises(StateConflict):
        card.capture(reference=reference, amount=1, idempotency_key="cap-2")


def test_it_refuses_to_capture_a_declined_authorisation(card, tokenise):
    reference = card.authorise(
        amount=3000, currency="EUR", source=tokenise(DECLINED), idempotency_key="a"
    ).provider_reference

    with pytest.raises(StateConflict):
        card.capture(reference=reference, amount=3000, idempotency_key="cap-1")


def test_it_refuses_a_refund_above_what_was_debited(card, token, reference):
    card.capture(reference=reference, amount=2000, idempotency_key="cap-1")
    card.refund(reference=reference, amount=1500, idempotency_key="ref-1")

    with pytest.raises(StateConflict) as refused:
        card.refund(reference=reference, amount=501, idempotency_key="ref-2")

    assert (refused.value.code, refused.value.field) == ("refund_exceeds_debit", "amount")
    assert sandbox_card_balance(token=token).debited == 500


def test_it_refuses_to_refund_a_hold_that_was_never_captured(card, reference):
    with pytest.raises(StateConflict):
        card.refund(reference=reference, amount=1, idempotency_key="ref-1")


def test_voiding_after_a_partial_capture_releases_only_the_rest(card, token, reference):
    card.capture(reference=reference, amount=1000, idempotency_key="cap-1")

    voided = card.void(reference=reference, idempotency_key="void-1")

    assert voided.amount == 2000
    assert card.retrieve(reference=reference).status == PaymentStatus.CAPTURED
    balance = sandbox_card_balance(token=token)
    assert (balance.held, balance.debited) == (0, 1000)


def test_it_refuses_to_void_when_everything_was_captured(card, reference):
    card.capture(reference=reference, amount=3000, idempotency_key="cap-1")

    with pytest.raises(StateConflict) as refused:
        card.void(reference=reference, idempotency_key="void-1")

    assert refused.value.code == "not_voidable"


@pytest.mark.parametrize("amount", [0, -5, 10.5, "100", True])
def test_it_refuses_amounts_that_are_not_positive_integers(card, token, amount):
    with pytest.raises(InvalidInput) as refused:
        card.authorise(amount=amount, currency="EUR", source=token, idempotency_key="k")

    assert refused.value.field == "amount"


def test_it_refuses_an_unknown_currency(card, token):
    with pytest.raises(InvalidInput) as refused:
        card.authorise(amount=100, currency="XYZ", source=token, idempotency_key="k")

    assert refused.value.field == "currency"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "//evil.example/", "ftp://x/"])
def test_it_refuses_a_return_url_that_is_not_http_or_a_path(card, token, url):
    with pytest.raises(InvalidInput) as refused:
        card.authorise(
            amount=100, currency="EUR", source=token, idempotency_key="k", return_url=url
        )

    assert refused.value.field == "return_url"


def test_the_balance_refuses_to_add_up_two_currencies(card, token):
    card.authorise(amount=100, currency="EUR", source=token, idempotency_key="a")
    card.authorise(amount=100, currency="GBP", source=token, idempotency_key="b")

    with pytest.raises(InvalidInput):
        sandbox_card_balance(token=token)
    assert sandbox_card_balance(token=token, currency="GBP").held == 100
