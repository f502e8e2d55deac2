"""Checkouts a crash left half-way are finished or unwound by the recovery job."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from payments import services
from payments.models import Checkout
from payments.sandbox.selectors import sandbox_card_balance
from payments.services import saga
from payments.tasks import recover_stale_checkouts
from tests.factories import make_request
from tests.payments.conftest import DECLINED, SUCCEEDS


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way catches it."""


def crash(*args, **kwargs):
    raise Crash


def start_and_crash(monkeypatch, participant, token, where: str) -> Checkout:
    monkeypatch.setattr(saga, where, crash)  # the saga calls its own steps
    with pytest.raises(Crash):
        services.checkout_start(participant=participant, method="card", source=token)
    monkeypatch.undo()
    return Checkout.objects.get(participant=participant)


@pytest.fixture
def payer(merchant):
    return make_request(merchant).participants.first()


@pytest.mark.django_db
def test_a_capture_done_before_the_crash_is_booked_once(monkeypatch, payer, tokenise):
    token = tokenise(SUCCEEDS)
    checkout = start_and_crash(monkeypatch, payer, token, "_book")
    assert checkout.status == "pending"
    assert sandbox_card_balance(token=token).debited == 1000  # the money is taken…
    payer.refresh_from_db()
    assert payer.amount_paid == 0  # …but not booked

    assert recover_stale_checkouts() == 0  # too recent: maybe still running
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert recover_stale_checkouts() == 1
        assert recover_stale_checkouts() == 0

    checkout.refresh_from_db()
    payer.refresh_from_db()
    assert checkout.status == "succeeded"
    assert (payer.status, payer.amount_paid) == ("paid", 1000)
    assert sandbox_card_balance(token=token).debited == 1000


@pytest.mark.django_db
def test_a_crash_before_the_answer_was_saved_replays_the_authorisation(
    monkeypatch, payer, tokenise
):
    token = tokenise(SUCCEEDS)
    checkout = start_and_crash(monkeypatch, payer, token, "_remember_source")
    leg = checkout.legs.get()
    assert leg.provider_reference == ""  # we never recorded the provider's answer
    assert sandbox_card_balance(token=token).held == 1000

    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        recover_stale_checkouts()

    checkout.refresh_from_db()
    assert checkout.status == "succeeded"
    balance = sandbox_card_balance(token=token)
    assert (balance.held, balance.debited) == (0, 1000)  # one hold, captured once


@pytest.mark.django_db
def test_a_refusal_found_by_recovery_fails_the_checkout_and_frees_the_share(
    monkeypatch, payer, tokenise
):
    token = tokenise(DECLINED)
    checkout = start_and_crash(monkeypatch, payer, token, "_remember_source")

    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        recover_stale_checkouts()

    checkout.refresh_from_db()
    assert (checkout.status, checkout.failure_reason) == ("failed", "declined")
    retry = services.checkout_start(
        participant=payer, method="card", source=tokenise("5555555555554444")
    )
    assert retry.status == "succeeded"
