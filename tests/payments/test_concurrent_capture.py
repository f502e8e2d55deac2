"""Concurrent captures of one hold cannot take more than it holds (PostgreSQL row locks)."""

import threading

import pytest
from django.db import connection

from payments.models import SandboxLedgerEntry
from payments.registry import adapter_for
from payments.sandbox.selectors import sandbox_card_balance
from pushpay.errors import StateConflict

from .conftest import card_details

THREADS = 10


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_full_captures_of_one_hold_debit_it_once(postgres_only, merchant, client):
    # Given a hold of 50.00 on a card
    token = client.post("/sandbox/tokens", card_details(), content_type="application/json").json()[
        "token"
    ]
    card = adapter_for(merchant=merchant, method="card", livemode=False)
    reference = card.authorise(
        amount=5000, currency="EUR", source=token, idempotency_key="hold"
    ).provider_reference

    # When ten workers, each on its own connection, capture all of it at the same moment
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def capture(index: int) -> None:
        try:
            barrier.wait()
            card.capture(reference=reference, amount=5000, idempotency_key=f"capture-{index}")
            outcome = "captured"
        except StateConflict as refused:
            outcome = refused.code
        except Exception as crash:  # surfaced by the assertion below
            outcome = repr(crash)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    workers = [threading.Thread(target=capture, args=(i,)) for i in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    # Then exactly one captured and the others were refused, and the payer paid once
    assert outcomes.count("captured") == 1, outcomes
    assert set(outcomes) <= {"captured", "not_capturable", "capture_exceeds_hold"}, outcomes
    assert SandboxLedgerEntry.objects.filter(kind="capture").count() == 1
    balance = sandbox_card_balance(token=token)
    assert (balance.held, balance.debited) == (0, 5000)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_captures_with_one_key_replay_a_single_debit(
    postgres_only, merchant, client
):
    token = client.post("/sandbox/tokens", card_details(), content_type="application/json").json()[
        "token"
    ]
    card = adapter_for(merchant=merchant, method="card", livemode=False)
    reference = card.authorise(
        amount=5000, currency="EUR", source=token, idempotency_key="hold"
    ).provider_reference
    barrier = threading.Barrier(THREADS)
    results = []
    lock = threading.Lock()

    def capture() -> None:
        try:
            barrier.wait()
            result = card.capture(reference=reference, amount=2000, idempotency_key="same")
        except Exception as crash:
            result = repr(crash)
        finally:
            connection.close()
        with lock:
            results.append(result)

    workers = [threading.Thread(target=capture) for _ in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert len(set(results)) == 1, results
    assert SandboxLedgerEntry.objects.filter(kind="capture").count() == 1
    assert sandbox_card_balance(token=token).debited == 2000
