"""Each sandbox test card answers an authorisation the way docs/payments-sandbox.md says."""

import pytest

from payments.adapters.base import FailureReason, PaymentStatus, ProviderTimeout
from payments.models import SandboxAuthorisation, SandboxLedgerEntry
from payments.sandbox.selectors import sandbox_card_balance

from .conftest import CHALLENGE, DECLINED, INSUFFICIENT_FUNDS, SUCCEEDS, TIMEOUT

pytestmark = pytest.mark.django_db


def test_the_4242_card_is_authorised_and_the_amount_is_held(card, tokenise):
    token = tokenise(SUCCEEDS)

    result = card.authorise(amount=2500, currency="EUR", source=token, idempotency_key="leg-1")

    assert result.status == PaymentStatus.AUTHORISED
    assert result.provider_reference.startswith("auth_")
    assert (result.amount, result.currency, result.failure_reason) == (2500, "EUR", None)
    assert sandbox_card_balance(token=token).held == 2500
    assert sandbox_card_balance(token=token).debited == 0


def test_the_0002_card_is_declined_and_nothing_is_held(card, tokenise):
    token = tokenise(DECLINED)

    result = card.authorise(amount=2500, currency="EUR", source=token, idempotency_key="leg-1")

    assert result.status == PaymentStatus.FAILED
    assert result.failure_reason == FailureReason.DECLINED
    assert result.message
    assert sandbox_card_balance(token=token).held == 0
    hold = SandboxLedgerEntry.objects.get()
    assert (hold.kind, hold.status, hold.failure_reason) == ("hold", "failed", "declined")


def test_the_9995_card_fails_for_insufficient_funds(card, tokenise):
    token = tokenise(INSUFFICIENT_FUNDS)

    result = card.authorise(amount=2500, currency="EUR", source=token, idempotency_key="leg-1")

    assert result.status == PaymentStatus.FAILED
    assert result.failure_reason == FailureReason.INSUFFICIENT_FUNDS
    assert sandbox_card_balance(token=token).held == 0


def test_the_3220_card_requires_a_challenge_and_holds_nothing_yet(card, tokenise):
    token = tokenise(CHALLENGE)

    result = card.authorise(
        amount=2500,
        currency="EUR",
        source=token,
        idempotency_key="leg-1",
        return_url="/pay/abc/return/",
    )

    assert result.status == PaymentStatus.REQUIRES_ACTION
    assert result.action_url == f"http://testserver/sandbox/3ds/{result.provider_reference}/"
    assert sandbox_card_balance(token=token).held == 0


def test_the_0119_card_times_out_but_a_retry_with_the_same_key_finds_the_single_hold(
    card, tokenise
):
    token = tokenise(TIMEOUT)

    with pytest.raises(ProviderTimeout):
        card.authorise(amount=2500, currency="EUR", source=token, idempotency_key="leg-1")
    retried = card.authorise(amount=2500, currency="EUR", source=token, idempotency_key="leg-1")

    assert retried.status == PaymentStatus.AUTHORISED
    assert SandboxAuthorisation.objects.count() == 1
    assert SandboxLedgerEntry.objects.filter(kind="hold").count() == 1
    assert sandbox_card_balance(token=token).held == 2500


def test_a_timed_out_hold_can_be_voided_by_the_unwinding_saga(card, tokenise):
    token = tokenise(TIMEOUT)
    with pytest.raises(ProviderTimeout):
        card.authorise(amount=2500, currency="EUR", source=token, idempotency_key="leg-1")
    reference = card.authorise(
        amount=2500, currency="EUR", source=token, idempotency_key="leg-1"
    ).provider_reference

    voided = card.void(reference=reference, idempotency_key="leg-1-void")

    assert voided.status == PaymentStatus.CANCELLED
    assert sandbox_card_balance(token=token).held == 0


def test_any_other_valid_number_behaves_like_the_4242_card(card, tokenise):
    token = tokenise("5555 5555 5555 4444")

    result = card.authorise(amount=100, currency="EUR", source=token, idempotency_key="k")

    assert result.status == PaymentStatus.AUTHORISED


def test_a_full_capture_then_a_refund_shows_on_the_payers_balance(card, tokenise):
    token = tokenise(SUCCEEDS)
    reference = card.authorise(
        amount=2500, currency="EUR", source=token, idempotency_key="a"
    ).provider_reference

    captured = card.capture(reference=reference, amount=2500, idempotency_key="c")
    assert captured.status == PaymentStatus.CAPTURED
    assert captured.operation_reference.startswith("le_")
    assert sandbox_card_balance(token=token) == sandbox_card_balance(token=token).__class__(
        held=0, debited=2500, currency="EUR"
    )

    refunded = card.refund(reference=reference, amount=1000, idempotency_key="r")
    assert (refunded.status, refunded.amount) == (PaymentStatus.REFUNDED, 1000)
    assert sandbox_card_balance(token=token).debited == 1500
    assert card.retrieve(reference=reference).status == PaymentStatus.CAPTURED

    card.refund(reference=reference, amount=1500, idempotency_key="r2")
    assert sandbox_card_balance(token=token).debited == 0
    assert card.retrieve(reference=reference).status == PaymentStatus.REFUNDED


def test_the_balance_of_a_card_counts_every_token_of_the_same_number(card, tokenise):
    first, second = tokenise(SUCCEEDS), tokenise(SUCCEEDS)
    card.authorise(amount=1000, currency="EUR", source=first, idempotency_key="a")
    card.authorise(amount=500, currency="EUR", source=second, idempotency_key="b")

    assert first != second
    assert sandbox_card_balance(token=first).held == 1500


def test_an_unknown_token_is_refused_with_a_field_error(card):
    from pushpay.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        card.authorise(amount=100, currency="EUR", source="tok_nope", idempotency_key="k")

    assert (refused.value.code, refused.value.field) == ("unknown_token", "source")


def test_another_merchant_cannot_capture_or_even_see_an_authorisation(card, other_card, tokenise):
    from pushpay.errors import DoesNotExist

    reference = card.authorise(
        amount=100, currency="EUR", source=tokenise(), idempotency_key="k"
    ).provider_reference

    with pytest.raises(DoesNotExist):
        other_card.capture(reference=reference, amount=100, idempotency_key="c")
    with pytest.raises(DoesNotExist):
        other_card.retrieve(reference=reference)
