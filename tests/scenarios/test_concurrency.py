"""Several dispatcher processes on one backlog, on PostgreSQL (SKIP LOCKED, leases)."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from notifications import services as template_services
from notifications.dispatcher import claim_due
from scenarios import services
from scenarios.models import Dispatch, OutboxMessage
from tests.factories import make_request, participants
from tests.scenarios.helpers import OUTBOX_BACKEND, make_scenario, step

ROOT = Path(__file__).resolve().parents[2]
PAYERS = 600

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def backlog(settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://…)")
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    from tests.factories import MerchantFactory

    merchant = MerchantFactory()
    template = template_services.template_create(
        merchant=merchant,
        name="Notice",
        channel="email",
        subject={"en": "Pay {{ request.reference }}"},
        body_text={"en": "Hello {{ payer.name }}"},
    )
    scenario = make_scenario(merchant, [step("request_created", template)])
    payment_request = make_request(
        merchant, total_amount=1000 * PAYERS, participants=participants(PAYERS, amount=1000)
    )
    services.dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)
    assert Dispatch.objects.filter(status="planned").count() == PAYERS


def _env(extra: dict | None = None) -> dict:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "pushpay.test_settings",
        "EMAIL_BACKEND": OUTBOX_BACKEND,
        "SMS_BACKEND": "outbox",
        "CONN_MAX_AGE": "0",
        **(extra or {}),
    }


def _workers(count: int, batch_size: int = 10, extra: dict | None = None) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "dispatch_notifications",
                f"--batch-size={batch_size}",
                f"--worker-id=worker-{n}",
            ],
            cwd=ROOT,
            env=_env(extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(count)
    ]


def _wait(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        _out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err.decode()[-2000:]


def _duplicates() -> int:
    return (
        OutboxMessage.objects.values("dispatch_public_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )


def test_two_workers_drain_one_backlog_sending_each_message_once(backlog):
    _wait(_workers(2))
    assert Dispatch.objects.filter(status="sent").count() == PAYERS
    assert OutboxMessage.objects.count() == PAYERS
    assert _duplicates() == 0
    assert set(Dispatch.objects.values_list("attempts", flat=True)) == {1}
    shares = dict(Dispatch.objects.values_list("leased_by").annotate(n=Count("id")))
    assert len(shares) == 2, f"the workers did not overlap: {shares}"


def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(backlog):
    # Given a worker that claimed 50 rows, sent 20 of them, and was killed
    script = (
        "import os, django; django.setup();"
        "from notifications.dispatcher import claim_due, send_claimed;"
        "ids = claim_due(batch_size=50, worker_id='doomed');"
        "send_claimed(ids[:20], worker_id='doomed');"
        "os._exit(137)"
    )
    doomed = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=_env(), capture_output=True, timeout=120
    )
    assert doomed.returncode == 137, doomed.stderr.decode()[-2000:]
    stranded = Dispatch.objects.filter(status="sending", leased_by="doomed")
    assert stranded.count() == 30
    assert OutboxMessage.objects.count() == 20

    # While the lease runs, the others leave those rows alone
    _wait(_workers(2))
    assert stranded.count() == 30
    assert claim_due(batch_size=100, worker_id="eager") == []

    # When the lease has run out (time passes), the next sweep sends them
    stranded.update(lease_until=timezone.now() - timedelta(seconds=1))
    _wait(_workers(2))
    assert Dispatch.objects.filter(status="sent").count() == PAYERS
    assert OutboxMessage.objects.count() == PAYERS
    assert _duplicates() == 0
    assert Dispatch.objects.filter(attempts=2).count() == 30


def _esp_env(log: Path, concurrency: int) -> dict:
    return {
        "EMAIL_BACKEND": "tests.scenarios.stub_esp.SlowRecordingBackend",
        "TEST_MODE_REAL_CHANNELS": "true",
        "DISPATCH_CONCURRENCY": str(concurrency),
        "STUB_ESP_LOG": str(log),
        "STUB_ESP_DELAY": "0.05",
    }


def _sends(log: Path) -> list[tuple[str, float, float]]:
    lines = log.read_text().split("\n") if log.exists() else []
    return [(p[0], float(p[1]), float(p[2])) for p in (line.split() for line in lines) if p]


def _peak_overlap(sends: list[tuple[str, float, float]]) -> int:
    events = sorted([(s, 1) for _i, s, _e in sends] + [(e, -1) for _i, _s, e in sends])
    peak = current = 0
    for _t, step_ in events:
        current += step_
        peak = max(peak, current)
    return peak


def test_two_pooled_workers_through_a_slow_provider_send_each_message_once(backlog, tmp_path):
    log = tmp_path / "esp.log"
    esp = _esp_env(log, concurrency=16)
    _wait(_workers(2, batch_size=50, extra=esp))
    sends = _sends(log)
    ids = [notification for notification, _s, _e in sends]
    assert len(ids) == len(set(ids)) == PAYERS
    assert set(ids) == set(Dispatch.objects.values_list("public_id", flat=True))
    assert Dispatch.objects.filter(status="sent").count() == PAYERS
    assert OutboxMessage.objects.count() == 0  # it all went through the provider
    assert set(Dispatch.objects.values_list("attempts", flat=True)) == {1}
    assert _peak_overlap(sends) > 16  # both workers' pools had sends in flight together


def test_a_pooled_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(backlog, tmp_path):
    log = tmp_path / "esp.log"
    esp = _esp_env(log, concurrency=8)
    # Given a worker that claimed 50 rows, sent 20 of them through its pool, and was killed
    script = (
        "import os, django; django.setup();"
        "from notifications.dispatcher import claim_due, send_claimed;"
        "ids = claim_due(batch_size=50, worker_id='doomed');"
        "print(send_claimed(ids[:20], worker_id='doomed'));"
        "os._exit(137)"
    )
    doomed = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=_env(esp), capture_output=True, timeout=120
    )
    assert doomed.returncode == 137, doomed.stderr.decode()[-2000:]
    stranded = Dispatch.objects.filter(status="sending", leased_by="doomed")
    assert stranded.count() == 30
    assert len(_sends(log)) == 20

    # When the lease has run out, two pooled workers finish: every message once
    stranded.update(lease_until=timezone.now() - timedelta(seconds=1))
    _wait(_workers(2, batch_size=50, extra=esp))
    ids = [notification for notification, _s, _e in _sends(log)]
    assert len(ids) == len(set(ids)) == PAYERS
    assert Dispatch.objects.filter(status="sent").count() == PAYERS
    assert Dispatch.objects.filter(attempts=2).count() == 30
