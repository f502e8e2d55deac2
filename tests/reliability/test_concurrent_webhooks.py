"""Two q clusters (two dispatcher processes on PostgreSQL) deliver each event once per
subscribed endpoint, to a receiver on 127.0.0.1 that verifies every signature."""

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count

from notifications import webhooks
from notifications.models import Dispatch
from requests_app.services import payment_request_cancel
from tests.factories import MerchantFactory, make_request, participants
from tests.notifications.receiver import receiver

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 60  # each makes a created and a cancelled event: 120 events, 240 deliveries

pytestmark = pytest.mark.django_db(transaction=True)


def _env() -> dict:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "pushpay.test_settings",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "CONN_MAX_AGE": "0",
    }


def test_two_workers_deliver_each_event_once_per_endpoint(settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://…)")
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    merchant = MerchantFactory()
    with receiver(delay=0.02) as hook:
        first = webhooks.webhook_endpoint_create(merchant=merchant, url=hook.url, events=["*"])
        second = webhooks.webhook_endpoint_create(
            merchant=merchant,
            url=hook.url + "?second",
            events=["payment_request.created", "payment_request.cancelled"],
        )
        for _ in range(REQUESTS):
            payment_request = make_request(
                merchant, total_amount=1000, participants=participants(1, amount=1000)
            )
            payment_request_cancel(payment_request=payment_request, reason="test")
        rows = Dispatch.objects.filter(kind="webhook")
        assert rows.count() == REQUESTS * 2 * 2

        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "dispatch_notifications",
                    "--batch-size=10",
                    f"--worker-id=worker-{n}",
                ],
                cwd=ROOT,
                env=_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for n in range(2)
        ]
        for worker in workers:
            _out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err.decode()[-2000:]

    assert set(rows.values_list("status", flat=True)) == {"sent"}
    assert set(rows.values_list("attempts", flat=True)) == {1}
    # Every row reached the receiver exactly once, each verified with its endpoint's secret.
    ids = Counter(call.webhook_id for call in hook.calls)
    assert len(hook.calls) == rows.count() and set(ids.values()) == {1}
    secrets = {first.url: first.secret, second.url: second.secret}
    url_of = dict(rows.values_list("public_id", "webhook_endpoint__url"))
    pairs = set()
    for call in hook.calls:
        payload = call.verify(secrets[url_of[call.webhook_id]])
        pairs.add((payload["data"]["id"], url_of[call.webhook_id]))
    assert len(pairs) == rows.count()  # once per event and endpoint, never twice
    shares = dict(rows.values_list("leased_by").annotate(n=Count("id")))
    assert len(shares) == 2, f"the workers did not overlap: {shares}"


def test_concurrent_replays_of_one_delivery_make_one_new_delivery(settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://…)")
    import threading

    from django.db import close_old_connections

    from pushpay.errors import StateConflict

    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    merchant = MerchantFactory()
    webhooks.webhook_endpoint_create(
        merchant=merchant, url="https://hooks.example.com/in", events=["payment_request.created"]
    )
    make_request(merchant)
    original = Dispatch.objects.get(kind="webhook")
    Dispatch.objects.filter(pk=original.pk).update(status="failed")
    original.refresh_from_db()
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def replay() -> None:
        barrier.wait()
        try:
            webhooks.webhook_delivery_replay(delivery=original)
            outcomes.append("replayed")
        except StateConflict as refusal:
            outcomes.append(refusal.code)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=replay) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["delivery_pending"] * 5 + ["replayed"]
    assert Dispatch.objects.filter(kind="webhook", resend_of=original).count() == 1
