"""Repeating a call with its idempotency key replays the first outcome and moves nothing."""

import pytest

from payments.adapters.base import PaymentStatus
from payments.models import SandboxAuthorisation, SandboxLedgerEntry
from payments.sandbox.selectors import sandbox_card_balance
from pushpay.errors import InvalidInput, StateConflict

from .conftest import CHALLENGE, DECLINED

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(tokenise):
    return tokenise()


@pytest.fixture
def reference(card, token):
    return card.authorise(
        amount=3000, currency="EUR", source=token, idempotency_key="auth-1"
    ).provider_reference


def test_authorising_twice_with_one_key_holds_once(card, token):
    first = card.authorise(amount=3000, currency="EUR", source=token, idempotency_key="auth-1")

    again = card.authorise(amount=3000, currency="EUR", source=token, idempotency_key="auth-1")

    assert again == first
    assert SandboxAuthorisation.objects.count() == 1
    assert SandboxLedgerEntry.objects.count() == 1
    assert sandbox_card_balance(token=token).held == 3000


def test_a_replayed_decline_stays_a_decline_without_a_second_row(card, tokenise):
    token = tokenise(DECLINED)
    first = card.authorise(amount=3000, currency="EUR", source=token, idempotency_key="k")

    again = card.authorise(amount=3000, currency="EUR", source=token, idempotency_key="k")

    assert again == first and again.status == PaymentStatus.FAILED
    assert SandboxLedgerEntry.objects.count() == 1


def test_a_replayed_challenge_returns_the_same_action_url(card, tokenise):
    token = tokenise(CHALLENGE)
    first = card.authorise(amount=3000, currency="EUR", source=token, idempotency_key="k")

    again = card.authorise(amount=3000, currency="EUR", source=token, idempotency_key="k")

    assert again == first and again.action_url


def test_capturing_twice_with_one_key_debits_once(card, token, reference):
    first = card.capture(reference=reference, amount=1000, idempotency_key="cap-1")

    again = card.capture(reference=reference, amount=1000, idempotency_key="cap-1")

    assert again == first
    assert SandboxLedgerEntry.objects.filter(kind="capture").count() == 1
    assert sandbox_card_balance(token=token).debited == 1000
    assert sandbox_card_balance(token=token).held == 2000


def test_a_replayed_full_capture_is_not_refused_as_exceeding_the_hold(card, token, reference):
    first = card.capture(reference=reference, amount=3000, idempotency_key="cap-1")

    again = card.capture(reference=reference, amount=3000, idempotency_key="cap-1")

    assert again == first
    assert sandbox_card_balance(token=token).debited == 3000


def test_voiding_twice_with_one_key_releases_once(card, token, reference):
    first = card.void(reference=reference, idempotency_key="void-1")

    again = card.void(reference=reference, idempotency_key="void-1")

    assert again == first and first.amount == 3000
    assert SandboxLedgerEntry.objects.filter(kind="void").count() == 1
    assert sandbox_card_balance(token=token).held == 0


def test_voiding_a_cancelled_authorisation_with_a_new_key_changes_nothing(card, reference):
    card.void(reference=reference, idempotency_key="void-1")

    again = card.void(reference=reference, idempotency_key="void-2")

    assert (again.status, again.amount) == (PaymentStatus.CANCELLED, 0)
    assert SandboxLedgerEntry.objects.filter(kind="void").count() == 1


def test_refunding_twice_with_one_key_gives_back_once(card, token, reference):
    card.capture(reference=reference, amount=3000, idempotency_key="cap-1")
    first = card.refund(reference=reference, amount=500, idempotency_key="ref-1")

    again = card.refund(reference=reference, amount=500, idempotency_key="ref-1")

    assert again == first
    assert SandboxLedgerEntry.objects.filter(kind="refund").count() == 1
    assert sandbox_card_balance(token=token).debited == 2500


def test_reusing_a_key_for_a_different_amount_is_refused(card, token, reference):
    card.capture(reference=reference, amount=1000, idempotency_key="cap-1")

    with pytest.raises(StateConflict) as refused:
        card.capture(reference=reference, amount=2000, idempotency_key="cap-1")

    assert refused.value.code == "idempotency_key_reused"
    assert sandbox_card_balance(token=token).debited == 1000


def test_reusing_an_authorise_key_for_another_amount_is_refused(card, token, reference):
    with pytest.raises(StateConflict) as refused:
        card.authorise(amount=9999, currency="EUR", source=token, idempotency_key="auth-1")

    assert refused.value.code == "idempotency_key_reused"
    assert SandboxAuthorisation.objects.count() == 1


def test_one_key_may_serve_different_kinds_of_operation(card, token, reference):
    card.capture(reference=reference, amount=1000, idempotency_key="same")

    card.refund(reference=reference, amount=1000, idempotency_key="same")

    assert sandbox_card_balance(token=token).debited == 0


def test_two_merchants_may_use_the_same_key_without_seeing_each_other(card, other_card, token):
    mine = card.authorise(amount=100, currency="EUR", source=token, idempotency_key="k")

    theirs = other_card.authorise(amount=100, currency="EUR", source=token, idempotency_key="k")

    assert mine.provider_reference != theirs.provider_reference


def test_an_empty_idempotency_key_is_refused(card, token):
    with pytest.raises(InvalidInput) as refused:
        card.authorise(amount=100, currency="EUR", source=token, idempotency_key="")

    assert refused.value.field == "idempotency_key"
