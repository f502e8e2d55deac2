"""A process killed (SIGKILL) between the two captures of a combined payment: recovery in
another process finishes it, and the payer is debited exactly the share, once."""

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from payments import services
from payments.models import Checkout
from payments.sandbox import vouchers
from payments.sandbox.selectors import sandbox_card_balance
from payments.sandbox.services import sandbox_card_tokenise
from payments.tasks import recover_stale_checkouts
from tests.factories import MerchantFactory, make_request, participants

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)

# Runs the payment in a child process that kills itself, hard, right after the first
# capture (the voucher's) and before the second (the card's).
SCRIPT = """
import os, signal, sys, django
django.setup()
from payments import services
from payments.services import LegRequest, saga
from requests_app.models import Participant

real_capture = saga._capture
calls = []

def capture_then_die(adapter, leg):
    calls.append(leg.method)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_capture(adapter, leg)

saga._capture = capture_then_die
payer = Participant.objects.get(public_id=sys.argv[1])
services.checkout_open(
    participant=payer,
    legs=[
        LegRequest(method="card", source=sys.argv[2], amount=3000),
        LegRequest(method="holiday_voucher", source="1000000050", amount=5000),
    ],
)
"""


def _env() -> dict:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "pushpay.test_settings",
        "CONN_MAX_AGE": "0",
    }


def test_recovery_finishes_a_payment_whose_process_was_killed_between_captures():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://…)")
    merchant = MerchantFactory()
    services.payment_method_enable(merchant=merchant, method="holiday_voucher")
    payer = make_request(
        merchant, total_amount=8000, participants=participants(1, amount=8000)
    ).participants.get()
    token = sandbox_card_tokenise(
        number="4242424242424242", exp_month=12, exp_year=timezone.now().year + 3, cvc="123"
    ).token

    child = subprocess.run(
        [sys.executable, "-c", SCRIPT, payer.public_id, token],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        timeout=120,
    )

    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    checkout = Checkout.objects.get(participant=payer)
    assert checkout.status == "pending"
    assert vouchers.voucher_balance(merchant=merchant, number="1000000050").spent == 5000
    assert sandbox_card_balance(token=token).held == 3000
    payer.refresh_from_db()
    assert payer.amount_paid == 0

    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert recover_stale_checkouts() == 1
        assert recover_stale_checkouts() == 0

    checkout.refresh_from_db()
    payer.refresh_from_db()
    card = sandbox_card_balance(token=token)
    assert checkout.status == "succeeded"
    assert (card.held, card.debited) == (0, 3000)
    assert vouchers.voucher_balance(merchant=merchant, number="1000000050").spent == 5000
    assert (payer.status, payer.amount_paid) == ("paid", 8000)
