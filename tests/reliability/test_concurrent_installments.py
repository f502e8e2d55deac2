"""Two charging workers on the same due installments, on PostgreSQL: each charged once."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections
from django.utils import timezone

from payments.installments import services
from payments.models import Checkout, Installment
from payments.sandbox.models import SandboxLedgerEntry
from payments.sandbox.services import sandbox_card_tokenise
from tests.factories import MerchantFactory, make_request, participants

pytestmark = pytest.mark.django_db(transaction=True)
PLANS = 20


def test_two_workers_charge_each_due_installment_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://…)")
    merchant = MerchantFactory()
    token = sandbox_card_tokenise(
        number="4242424242424242", exp_month=12, exp_year=timezone.now().year + 3, cvc="123"
    ).token
    for _ in range(PLANS):
        payer = make_request(
            merchant, total_amount=3000, participants=participants(1, amount=3000)
        ).participants.get()
        services.installment_plan_start(
            participant=payer, source=token, count=3, interval_unit="day"
        )
    zone = ZoneInfo(merchant.time_zone)
    tomorrow = timezone.localdate(timezone=zone) + timedelta(days=1)
    now = datetime.combine(tomorrow, datetime.min.time(), tzinfo=zone) + timedelta(hours=10)
    barrier = threading.Barrier(2)
    counts = []

    def worker(name: str) -> None:
        try:
            barrier.wait()
            counts.append(services.installments_charge_due(now=now, worker_id=name, batch_size=3))
            while True:
                claimed = services.installments_charge_due(now=now, worker_id=name, batch_size=3)
                counts.append(claimed)
                if not claimed:
                    break
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sum(counts) == PLANS
    second = Installment.objects.filter(position=1)
    assert set(second.values_list("status", flat=True)) == {"paid"}
    assert Checkout.objects.filter(installment__in=second.values("public_id")).count() == PLANS
    captures = SandboxLedgerEntry.objects.filter(merchant=merchant, kind="capture").count()
    assert captures == PLANS * 2  # the first charges, then one per second installment
    assert set(second.values_list("leased_by", flat=True)) == {""}
