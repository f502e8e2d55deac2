"""Fifty spends of one wallet at the same moment, each on its own connection, on
PostgreSQL: the wallet's row lock lets exactly the affordable ones through, the balance
never goes below zero and every ledger entry balances."""

import threading

import pytest
from django.db import connection

from payments.wallet import services as wallet_services
from payments.wallet.models import Wallet, WalletHold, WalletTransaction
from pushpay.errors import DomainError

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SPENDS = 50
EACH = 300
BALANCE = 5000  # covers 16 spends of 3.00, not 17


def test_fifty_concurrent_spends_take_exactly_what_the_wallet_holds(postgres_only, merchant):
    wallet = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email="ann@example.com"
    )
    wallet_services.wallet_credit(wallet=wallet, amount=3000)
    wallet_services.wallet_credit(wallet=wallet, amount=BALANCE - 3000)
    barrier = threading.Barrier(SPENDS)
    outcomes: list[str] = []
    lowest: list[int] = []
    lock = threading.Lock()

    def spend(index: int) -> None:
        try:
            barrier.wait()
            hold = wallet_services.wallet_hold(
                wallet=wallet, amount=EACH, currency="EUR", idempotency_key=f"spend-{index}"
            )
            if hold.status == WalletHold.Status.AUTHORISED:
                wallet_services.wallet_capture(
                    merchant=merchant,
                    reference=hold.public_id,
                    amount=EACH,
                    idempotency_key=f"capture-{index}",
                )
                outcome = "spent"
            else:
                outcome = hold.failure_reason
            seen = Wallet.objects.values_list("balance", flat=True).get(pk=wallet.pk)
        except DomainError as refused:
            outcome, seen = refused.code, 0
        except Exception as crash:  # surfaced by the assertions below
            outcome, seen = repr(crash), 0
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)
            lowest.append(seen)

    workers = [threading.Thread(target=spend, args=(i,)) for i in range(SPENDS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    affordable = BALANCE // EACH
    assert outcomes.count("spent") == affordable, outcomes
    assert outcomes.count("insufficient_funds") == SPENDS - affordable, outcomes
    assert min(lowest) >= 0
    wallet.refresh_from_db()
    assert (wallet.balance, wallet.held) == (BALANCE - affordable * EACH, 0)
    assert wallet_services.wallet_consistency_errors(wallet=wallet) == []
    assert WalletTransaction.objects.filter(kind="capture").count() == affordable
    assert WalletHold.objects.filter(status="failed").count() == SPENDS - affordable
