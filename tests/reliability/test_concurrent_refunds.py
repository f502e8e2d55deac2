"""Refunds of one payment at the same moment, each on its own connection, on PostgreSQL:
the money goes back once, and what is booked is what the card got back."""

import threading

import pytest
from django.db import connection

from payments import services
from payments.models import Leg, LegOperation
from payments.sandbox.selectors import sandbox_card_balance
from pushpay.errors import DomainError
from requests_app.models import Participant, RequestEvent
from tests.factories import make_request, participants

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
SETTLED = {"refunded", "nothing_to_refund", "refund_in_progress", "refund_exceeds_captured"}


def paid_payer(merchant, tokenise):
    payment_request = make_request(
        merchant, total_amount=1000, participants=participants(1, amount=1000)
    )
    payer = payment_request.participants.get()
    token = tokenise("4242424242424242")
    checkout = services.checkout_start(participant=payer, method="card", source=token)
    assert checkout.status == "succeeded"
    return payment_request, payer, token


def run_at_once(payment_request, amounts: list[int | None]) -> list[str]:
    barrier = threading.Barrier(len(amounts))
    outcomes: list[str] = []
    lock = threading.Lock()

    def refund(participant_pk: int, amount: int | None) -> None:
        try:
            participant = Participant.objects.get(pk=participant_pk)
            barrier.wait()
            services.payment_request_refund(
                payment_request=payment_request,
                lines=[services.RefundLine(participant, amount)],
            )
            outcome = "refunded"
        except DomainError as refused:
            outcome = refused.code
        except Exception as crash:  # surfaced by the assertions below
            outcome = repr(crash)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    payer_pk = payment_request.participants.get().pk
    workers = [threading.Thread(target=refund, args=(payer_pk, a)) for a in amounts]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcomes


def test_concurrent_full_refunds_give_the_money_back_once(postgres_only, merchant, tokenise):
    payment_request, payer, token = paid_payer(merchant, tokenise)

    outcomes = run_at_once(payment_request, [None] * THREADS)

    assert outcomes.count("refunded") == 1, outcomes
    assert set(outcomes) <= SETTLED, outcomes
    assert LegOperation.objects.filter(operation="refund").count() == 1
    assert sandbox_card_balance(token=token).debited == 0
    payer.refresh_from_db()
    assert (payer.status, payer.amount_refunded) == ("refunded", 1000)
    assert RequestEvent.objects.filter(type="payment_refunded").count() == 1


def test_concurrent_partial_refunds_never_give_back_more_than_was_booked(
    postgres_only, merchant, tokenise
):
    payment_request, payer, token = paid_payer(merchant, tokenise)

    outcomes = run_at_once(payment_request, [300, 400, 600, None] * (THREADS // 4))

    assert set(outcomes) <= SETTLED, outcomes
    assert "refunded" in outcomes
    leg = Leg.objects.get()
    payer.refresh_from_db()
    moved = sum(
        LegOperation.objects.filter(operation="refund", result="succeeded").values_list(
            "amount", flat=True
        )
    )
    assert leg.amount_refund_pending == 0
    assert payer.amount_refunded == leg.amount_refunded == moved
    assert sandbox_card_balance(token=token).debited == 1000 - moved
    events = RequestEvent.objects.filter(type="payment_refunded")
    assert sum(e.payload["amount"] for e in events) == moved
