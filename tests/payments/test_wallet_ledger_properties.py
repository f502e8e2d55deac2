"""Property: whatever sequence of credits, holds, captures, releases, refunds, adjustments
and expiries a wallet goes through, every ledger entry balances, the cached balance and
held amount equal the sums of their postings, nothing goes below zero, and a refused call
moves nothing."""

import itertools
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.wallet import services as wallet_services
from payments.wallet.models import WalletHold, WalletPosting, WalletTransaction
from pushpay.errors import DomainError

_holders = itertools.count()

amounts = st.integers(min_value=1, max_value=5000)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("credit"), amounts, st.sampled_from([None, 1, 30])),
        st.tuples(st.just("hold"), amounts),
        st.tuples(st.just("capture"), st.integers(0, 20), st.integers(1, 5000)),
        st.tuples(st.just("release"), st.integers(0, 20)),
        st.tuples(st.just("refund"), st.integers(0, 20), st.integers(1, 5000)),
        st.tuples(st.just("adjust"), st.integers(-3000, 3000).filter(bool)),
        st.tuples(st.just("expire"), st.integers(0, 60)),
    ),
    max_size=25,
)


def _apply(merchant, wallet, holds: list[WalletHold], step: tuple, index: int) -> None:
    kind = step[0]
    key = f"{wallet.public_id}:{index}"
    if kind == "credit":
        _, amount, days = step
        expires = timezone.now() + timedelta(days=days) if days else None
        wallet_services.wallet_credit(wallet=wallet, amount=amount, expires_at=expires)
    elif kind == "hold":
        hold = wallet_services.wallet_hold(
            wallet=wallet, amount=step[1], currency="EUR", idempotency_key=key
        )
        holds.append(hold)
    elif kind == "adjust":
        wallet_services.wallet_adjust(wallet=wallet, amount=step[1], reason="property")
    elif kind == "expire":
        wallet_services.wallets_expire_due(now=timezone.now() + timedelta(days=step[1]))
    elif holds:
        hold = holds[step[1] % len(holds)]
        if kind == "capture":
            wallet_services.wallet_capture(
                merchant=merchant, reference=hold.public_id, amount=step[2], idempotency_key=key
            )
        elif kind == "release":
            wallet_services.wallet_release(
                merchant=merchant, reference=hold.public_id, idempotency_key=key
            )
        else:
            wallet_services.wallet_refund(
                merchant=merchant, reference=hold.public_id, amount=step[2], idempotency_key=key
            )


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
def test_any_sequence_keeps_the_ledger_balanced(merchant, steps):
    wallet = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email=f"holder{next(_holders)}@example.com"
    )
    holds: list[WalletHold] = []
    for index, step in enumerate(steps):
        before = WalletTransaction.objects.filter(wallet=wallet).count()
        try:
            _apply(merchant, wallet, holds, step, index)
        except DomainError:
            assert WalletTransaction.objects.filter(wallet=wallet).count() == before
        wallet.refresh_from_db()
        assert wallet.balance >= 0 and wallet.held >= 0
        assert wallet_services.wallet_consistency_errors(wallet=wallet) == []
    postings = WalletPosting.objects.filter(wallet=wallet)
    assert (postings.aggregate(total=Sum("amount"))["total"] or 0) == 0
    available = postings.filter(account="available").aggregate(total=Sum("amount"))["total"]
    assert wallet.balance == (available or 0)
    for entry in WalletTransaction.objects.filter(wallet=wallet).prefetch_related("postings"):
        assert sum(p.amount for p in entry.postings.all()) == 0
        assert len(entry.postings.all()) >= 2
