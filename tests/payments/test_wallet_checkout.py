"""The cashback wallet as a payment method in combined checkouts: held in place first,
captured with the other legs, released when another leg fails, re-credited on refund, and
only ever spendable by its own holder."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from payments import services
from payments.models import Checkout
from payments.registry import adapter_for
from payments.services import LegRequest
from payments.wallet import services as wallet_services
from payments.wallet.models import WalletHold, WalletTransaction
from pushpay.errors import InvalidInput
from tests.factories import make_request, participants
from tests.payments.conftest import DECLINED, SUCCEEDS

# The pay path refuses another's wallet before any leg exists (source_not_yours); without
# that check the adapter refuses it at authorisation (not_accepted). Either way nothing moves.
REFUSED = {"source_not_yours", "wallet_not_yours", "not_accepted"}


@pytest.fixture
def payer(merchant):
    services.payment_method_enable(merchant=merchant, method="wallet")
    pr = make_request(merchant, total_amount=8000, participants=participants(1, amount=8000))
    return pr.participants.get()


@pytest.fixture
def wallet(merchant, payer):
    wallet = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email=payer.email.upper()
    )
    wallet_services.wallet_credit(wallet=wallet, amount=5000, reason="Welcome")
    return wallet


def combined(payer, source, card_token, wallet_amount=5000, card=3000):
    return services.checkout_open(
        participant=payer,
        legs=[
            LegRequest(method="card", source=card_token, amount=card),
            LegRequest(method="wallet", source=source, amount=wallet_amount),
        ],
    )


def refusal(payer, source, card_token) -> str:
    """Why paying with ``source`` was refused: before any leg exists (the pay path's check)
    or by the wallet adapter itself, which checks the leg's participant again."""
    try:
        checkout = combined(payer, source, card_token)
    except InvalidInput as refused:
        return refused.code
    assert checkout.status == "failed"
    return checkout.failure_reason


def state(wallet):
    wallet.refresh_from_db()
    assert wallet_services.wallet_consistency_errors(wallet=wallet) == []
    return wallet.balance, wallet.held


@pytest.mark.django_db
def test_the_wallet_is_found_from_the_payers_email_and_shows_its_balance(merchant, payer, wallet):
    adapter = adapter_for(merchant=merchant, method="wallet", livemode=False)
    source = adapter.participant_source(payer)
    assert source == wallet.public_id
    assert adapter.balance(source=source, currency="EUR") == 5000
    assert adapter.balance(source=source, currency="USD") == 0
    assert (adapter.authorises_in_place, adapter.has_balance, adapter.is_sandbox) == (
        True,
        True,
        False,
    )


@pytest.mark.django_db
def test_the_wallet_is_off_by_default(merchant):
    from payments.selectors import payment_methods_enabled

    assert "wallet" not in payment_methods_enabled(merchant=merchant)


@pytest.mark.django_db
def test_wallet_and_card_pay_one_share(merchant, payer, wallet, tokenise):
    checkout = combined(payer, wallet.public_id, tokenise(SUCCEEDS))

    assert checkout.status == "succeeded"
    assert [(leg.method, leg.status) for leg in checkout.legs.all()] == [
        ("wallet", "captured"),
        ("card", "captured"),
    ]
    assert state(wallet) == (0, 0)
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 8000)
    kinds = list(wallet.transactions.values_list("kind", flat=True))
    assert kinds == ["credit", "hold", "capture"]


@pytest.mark.django_db
def test_a_declined_card_releases_the_wallet_hold(merchant, payer, wallet, tokenise):
    checkout = combined(payer, wallet.public_id, tokenise(DECLINED))

    assert (checkout.status, checkout.failure_reason) == ("failed", "declined")
    assert {leg.method: leg.status for leg in checkout.legs.all()} == {
        "wallet": "voided",
        "card": "failed",
    }
    assert state(wallet) == (5000, 0)
    assert list(wallet.transactions.values_list("kind", flat=True)) == ["credit", "hold", "release"]
    again = combined(payer, wallet.public_id, tokenise(SUCCEEDS))
    assert again.status == "succeeded"
    assert state(wallet) == (0, 0)


@pytest.mark.django_db
def test_a_refund_re_credits_the_wallet(merchant, payer, wallet, tokenise):
    checkout = combined(payer, wallet.public_id, tokenise(SUCCEEDS))
    assert checkout.status == "succeeded"

    services.payment_request_refund(payment_request=payer.request)

    assert state(wallet) == (5000, 0)
    checkout.refresh_from_db()
    assert checkout.status == "refunded"
    assert WalletHold.objects.get(wallet=wallet).status == "refunded"
    refund = wallet.transactions.get(kind="refund")
    assert refund.amount == 5000


@pytest.mark.django_db
def test_another_payers_wallet_is_refused_and_nothing_moves(merchant, payer, tokenise):
    theirs = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email="someone.else@example.com"
    )
    wallet_services.wallet_credit(wallet=theirs, amount=9000)

    assert refusal(payer, theirs.public_id, tokenise(SUCCEEDS)) in REFUSED

    assert state(theirs) == (9000, 0)
    assert not WalletHold.objects.filter(wallet=theirs).exists()
    with pytest.raises(wallet_services.InvalidInput) as refused:
        wallet_services.wallet_source_check(participant=payer, source=theirs.public_id)
    assert refused.value.code == "wallet_not_yours"


@pytest.mark.django_db
def test_a_spend_above_the_balance_is_refused_and_nothing_moves(merchant, payer, wallet, tokenise):
    checkout = combined(payer, wallet.public_id, tokenise(SUCCEEDS), wallet_amount=6000, card=2000)

    assert (checkout.status, checkout.failure_reason) == ("failed", "insufficient_funds")
    assert "does not cover" in checkout.failure_message
    assert state(wallet) == (5000, 0)
    assert list(wallet.transactions.values_list("kind", flat=True)) == ["credit"]
    assert WalletHold.objects.get(wallet=wallet).status == "failed"


@pytest.mark.django_db
def test_an_expired_credit_cannot_be_spent_and_nothing_moves(merchant, payer, tokenise):
    wallet = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email=payer.email
    )
    wallet_services.wallet_credit(
        wallet=wallet, amount=5000, expires_at=timezone.now() + timedelta(days=1)
    )
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        checkout = combined(payer, wallet.public_id, tokenise(SUCCEEDS))
        assert (checkout.status, checkout.failure_reason) == ("failed", "insufficient_funds")
        assert state(wallet) == (5000, 0)  # not spendable, removed by the expiry job
        assert list(wallet.transactions.values_list("kind", flat=True)) == ["credit"]

        assert wallet_services.wallets_expire_due() == 1
        assert wallet_services.wallets_expire_due() == 0
    assert state(wallet) == (0, 0)
    expiry = wallet.transactions.get(kind="expiry")
    assert expiry.amount == 5000


@pytest.mark.django_db
def test_the_other_modes_wallet_is_unknown(merchant, payer, tokenise):
    live = wallet_services.wallet_create(merchant=merchant, livemode=True, holder_email=payer.email)
    wallet_services.wallet_credit(wallet=live, amount=5000)
    adapter = adapter_for(merchant=merchant, method="wallet", livemode=False)
    assert adapter.participant_source(payer) == ""

    assert refusal(payer, live.public_id, tokenise(SUCCEEDS)) in REFUSED
    assert state(live) == (5000, 0)
    assert not WalletHold.objects.exists()


@pytest.mark.django_db
def test_the_adapter_refuses_a_wallet_that_is_not_the_legs_participants(merchant, payer, wallet):
    adapter = adapter_for(merchant=merchant, method="wallet", livemode=False)
    result = adapter.authorise(
        amount=100, currency="EUR", source=wallet.public_id, idempotency_key="lg_forged:authorise"
    )
    assert (result.status, result.failure_reason) == ("failed", "not_accepted")
    assert "not yours" in result.message
    assert state(wallet) == (5000, 0)
    with pytest.raises(InvalidInput) as unknown:
        adapter.authorise(amount=100, currency="EUR", source="wal_nope", idempotency_key="k")
    assert unknown.value.code == "unknown_wallet"


@pytest.mark.django_db
def test_a_retried_hold_replays_instead_of_spending_twice(merchant, wallet):
    first = wallet_services.wallet_hold(
        wallet=wallet, amount=1000, currency="EUR", idempotency_key="k1"
    )
    again = wallet_services.wallet_hold(
        wallet=wallet, amount=1000, currency="EUR", idempotency_key="k1"
    )
    assert first.pk == again.pk
    assert state(wallet) == (4000, 1000)
    with pytest.raises(wallet_services.StateConflict) as reused:
        wallet_services.wallet_hold(
            wallet=wallet, amount=2000, currency="EUR", idempotency_key="k1"
        )
    assert reused.value.code == "idempotency_key_reused"
    assert WalletTransaction.objects.filter(kind="hold").count() == 1
    assert Checkout.objects.count() == 0


@pytest.mark.django_db
def test_a_live_wallet_pays_a_live_share_and_the_test_wallet_is_untouched(merchant):
    services.payment_method_enable(merchant=merchant, method="wallet")
    pr = make_request(
        merchant,
        livemode=True,
        total_amount=2000,
        participants=participants(1, amount=2000),
        allowed_payment_methods=["wallet"],
    )
    payer = pr.participants.get()
    test = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email=payer.email
    )
    live = wallet_services.wallet_create(merchant=merchant, livemode=True, holder_email=payer.email)
    wallet_services.wallet_credit(wallet=test, amount=2000)
    wallet_services.wallet_credit(wallet=live, amount=2500)
    adapter = adapter_for(merchant=merchant, method="wallet", livemode=True)
    assert adapter.participant_source(payer) == live.public_id

    checkout = services.checkout_start(participant=payer, method="wallet", source=live.public_id)

    assert (checkout.status, checkout.livemode) == ("succeeded", True)
    assert state(live) == (500, 0)
    assert state(test) == (2000, 0)
    assert WalletHold.objects.get().livemode is True


@pytest.mark.django_db
def test_the_ownership_check_refuses_anothers_wallet_before_anything_is_written(
    merchant, payer, wallet
):
    from payments.registry import participant_source_check

    theirs = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email="someone.else@example.com"
    )
    pr = payer.request
    participant_source_check(
        payment_request=pr, participant=payer, method="wallet", source=wallet.public_id
    )
    participant_source_check(payment_request=pr, participant=payer, method="card", source="tok_x")
    for source in (theirs.public_id, "", "wal_unknown"):
        with pytest.raises(InvalidInput) as refused:
            participant_source_check(
                payment_request=pr, participant=payer, method="wallet", source=source
            )
        assert (refused.value.code, refused.value.field) == ("source_not_yours", "source")
