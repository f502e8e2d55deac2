"""The scale-out check: the production processes, several of each, on PostgreSQL and Redis.

The test starts, itself, against the pytest database: ``manage.py serve`` (gunicorn, two
workers, production settings behind a TLS proxy) and two ``manage.py qcluster`` (Redis
broker, each in its own process group, a 30-second lease), email going to an ESP stand-in
that logs every message it accepts (tests/scenarios/stub_esp.py). It installs the product's
schedules, creates a burst of requests through the HTTP API whose creation notices go out at
once and whose deadline reminders fall due seconds later (real time, no fake clock: the
processes share nothing but the database, Redis and the clock), cancels a few of them, and
kills one q cluster's whole process group with SIGKILL while it holds leased rows. The other
cluster must finish everything: its sweep (the every-minute ``dispatch-due-notifications``
schedule) takes over the dead cluster's rows once their lease has run out.

What it proves, and the exact guarantee on duplicates:

- every reminder that should go out was accepted by the provider, and every outbox row ends
  final; no later step of a cancelled request is sent; every request reads back, through
  the API, in the state it should be in;
- no message is sent twice, except possibly one the killed cluster held at the moment of
  the kill. A process killed after the provider accepted a message and before our database
  recorded it leaves the row ``sending``; after the lease the row is sent again, and no ESP
  offers idempotent sends to stop that. Delivery is therefore at least once, and exactly once
  for every row no crashed worker held; the dispatch id travels with the message so that a
  receiver can drop the repeat. The test records which rows the killed cluster held (read
  after the kill, when nothing of it can write any more) and fails on any duplicate outside
  them.

It needs PostgreSQL (SKIP LOCKED) and Redis (the broker and the shared rate limits): it runs
in the CI's second pass and is skipped otherwise. It cleans the product's keys (``django_q:
pushpay:*``, ``pushpay:ratelimit:*``) in REDIS_URL's database before and after: give it a
database no running cluster uses.
"""

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.db import connection
from django.utils import timezone

from merchants.services import api_key_create
from notifications import services as template_services
from pushpay.schedules import install_schedules
from scenarios.models import Dispatch
from tests.factories import MerchantFactory
from tests.scenarios.helpers import make_scenario, step

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 40
PAYERS = 2
CANCELLED = range(0, REQUESTS, 8)  # every eighth request is cancelled after its creation
# The deadline this far ahead, the reminder this many seconds before it: it falls due while
# the burst's notices are still going out or just after, and needs the sweep to go out.
DEADLINE_SECONDS = 50
REMINDER_SECONDS_BEFORE = 15
LEASE_SECONDS = 30
# Mid-run: the provider has accepted this many messages before cluster A may be killed.
KILL_AFTER_SENDS = 10
ESP_DELAY = "0.25"
FINAL = {"sent", "skipped", "cancelled", "failed"}
REDIS_PATTERNS = ("django_q:pushpay:*", "pushpay:ratelimit:*")

pytestmark = pytest.mark.django_db(transaction=True)


def _database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        for pattern in REDIS_PATTERNS:
            keys = list(client.scan_iter(match=pattern, count=500))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


class Processes:
    """The children of the test: each in its own process group, its output in a file, all
    of them killed (whole groups) on the way out whatever happened."""

    def __init__(self, folder: Path, env: dict):
        self.folder = folder
        self.env = env
        self.started: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str, extra: dict | None = None) -> subprocess.Popen:
        with open(self.folder / f"{name}.log", "wb") as log:  # the child keeps its own copy
            process = subprocess.Popen(
                [sys.executable, "manage.py", *args],
                cwd=ROOT,
                env={**self.env, **(extra or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed as a whole
            )
        self.started[name] = process
        return process

    def log_tail(self, name: str, lines: int = 25) -> str:
        path = self.folder / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def report(self) -> str:
        parts = []
        for name, process in self.started.items():
            state = "running" if process.poll() is None else f"exited {process.returncode}"
            parts.append(f"--- {name} ({state}), last lines:\n{self.log_tail(name)}")
        return "\n".join(parts)

    def group(self, name: str) -> set[int]:
        """The live pids of a child's process group (the q cluster's sentinel and workers
        are its descendants, in its group); zombies left out."""
        pgid = self.started[name].pid
        pids = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) == pgid:
                pids.add(int(entry))
        return pids

    def kill(self, name: str) -> None:
        process = self.started[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while self.group(name) and time.monotonic() < deadline:
            time.sleep(0.05)

    def kill_all(self) -> None:
        for name in self.started:
            self.kill(name)


def _wait_for(
    condition, timeout: float, what: str, processes: Processes, *, every=0.2, detail=None
):
    """Poll until ``condition`` holds; on timeout fail with what was awaited, ``detail()``
    and every process's last log lines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    more = f"{detail()}\n" if detail else ""
    pytest.fail(f"Timed out after {timeout:.0f} s waiting for {what}.\n{more}{processes.report()}")


class Api:
    """The integrator's side: JSON over HTTP to gunicorn, as if through the TLS proxy."""

    def __init__(self, base: str, secret: str):
        self.base = base
        self.headers = {
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/json",
            "X-Forwarded-Proto": "https",
        }

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers=self.headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as refused:
            return refused.code, {"error": refused.read().decode(errors="replace")[:500]}


def _sends(log: Path) -> list[str]:
    lines = log.read_text().split("\n") if log.exists() else []
    return [line.split()[0] for line in lines if line.strip()]


def _pid(worker_id: str) -> int | None:
    parts = worker_id.split(":")
    return int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None


def _held_by(pids: set[int]) -> set[str]:
    """Public ids of the rows leased (``sending``) by workers among ``pids``."""
    return {
        public_id
        for public_id, leased_by in Dispatch.objects.filter(status="sending").values_list(
            "public_id", "leased_by"
        )
        if _pid(leased_by) in pids
    }


@pytest.fixture
def scale_out(tmp_path):
    redis_url = os.environ.get("REDIS_URL", "")
    missing = [
        *(["PostgreSQL (DATABASE_URL=postgres://…)"] if connection.vendor != "postgresql" else []),
        *(["Redis (REDIS_URL=redis://…)"] if not redis_url else []),
    ]
    if missing:
        pytest.skip(f"the scale-out check needs {' and '.join(missing)}; it runs in CI's 2nd pass")
    _clean_redis(redis_url)
    base = {
        k: v
        for k, v in os.environ.items()
        # The test settings' own defaults, which the children must not inherit.
        if not k.startswith(("DJANGO_", "PYTEST_"))
        and k not in ("DEBUG", "PUBLIC_BASE_URL", "EMAIL_BACKEND", "DISPATCH_RATE_LIMIT_STORE")
    }
    port = _free_port()
    env = {
        **base,
        "DJANGO_SETTINGS_MODULE": "pushpay.settings",
        "DEBUG": "false",
        "SECRET_KEY": "scale-out-" + os.urandom(24).hex(),
        "PROVIDER_CREDENTIALS_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "BEHIND_TLS_PROXY": "true",
        "PUBLIC_BASE_URL": "https://127.0.0.1",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "DISPATCH_RATE_LIMIT_STORE": "redis",
        "CONN_MAX_AGE": "0",
        "STATIC_ROOT": str(tmp_path / "static"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        # the web
        "PORT": str(port),
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        # the q clusters
        "Q_WORKERS": "2",
        "SCENARIOS_LEASE_SECONDS": str(LEASE_SECONDS),
        "DISPATCH_CONCURRENCY": "4",
        "EMAIL_BACKEND": "tests.scenarios.stub_esp.SlowRecordingBackend",
        "SMS_BACKEND": "outbox",
        "TEST_MODE_REAL_CHANNELS": "true",
        "STUB_ESP_LOG": str(tmp_path / "esp.log"),
        "STUB_ESP_DELAY": ESP_DELAY,
    }
    (tmp_path / "static").mkdir()
    processes = Processes(tmp_path, env)
    try:
        yield processes, f"http://127.0.0.1:{port}", tmp_path / "esp.log"
    finally:
        processes.kill_all()
        _clean_redis(redis_url)


def test_two_clusters_and_two_web_workers_deliver_a_burst_while_one_cluster_is_killed(
    scale_out,
):
    processes, base_url, esp_log = scale_out
    started = time.monotonic()

    # Given a merchant with a test key and a scenario: a notice at creation, a reminder
    # REMINDER_SECONDS_BEFORE seconds before the deadline; the product's schedules installed
    merchant = MerchantFactory()
    template = template_services.template_create(
        merchant=merchant,
        name="Notice",
        channel="email",
        subject={"en": "Pay {{ request.reference }}"},
        body_text={"en": "Hello {{ payer.name }}"},
    )
    scenario = make_scenario(
        merchant,
        [
            step("request_created", template),
            step("before_deadline", template, offset=REMINDER_SECONDS_BEFORE),
        ],
    )
    secret = api_key_create(merchant=merchant, mode="test").secret
    install_schedules()

    # And the production processes: two gunicorn workers, two q clusters
    processes.start("web", "serve", "--no-collectstatic")
    processes.start("cluster-a", "qcluster")
    processes.start("cluster-b", "qcluster")
    api = Api(base_url + "/api/v1", secret)

    def web_up() -> bool:
        if processes.started["web"].poll() is not None:
            pytest.fail(f"The web server stopped.\n{processes.report()}")
        try:
            request = urllib.request.Request(
                base_url + "/readyz", headers={"X-Forwarded-Proto": "https"}
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    _wait_for(web_up, 60, "the web server to answer /readyz", processes)
    for name in ("cluster-a", "cluster-b"):
        _wait_for(
            lambda name=name: "running" in processes.log_tail(name, 200),
            60,
            f"{name} to start",
            processes,
        )
    ready = time.monotonic()

    # When a burst of requests arrives through the API, from several clients at once
    deadline = timezone.now() + timedelta(seconds=DEADLINE_SECONDS)

    def create(n: int) -> tuple[int, dict]:
        return api.call(
            "POST",
            "/payment-requests",
            {
                "reference": f"SCALE-{n:03d}",
                "currency": "EUR",
                "total_amount": 1000 * PAYERS,
                "participants": [
                    {"name": f"Payer {n}-{p}", "email": f"payer-{n}-{p}@example.com"}
                    for p in range(PAYERS)
                ],
                "split": "equal",
                "deadline": deadline.isoformat(),
                "scenario": scenario.public_id,
            },
        )

    def burst() -> tuple[list[str], set[str], float]:
        with ThreadPoolExecutor(max_workers=8) as pool:
            created = list(pool.map(create, range(REQUESTS)))
        refused = [(code, body) for code, body in created if code != 201]
        assert not refused, f"creates refused: {refused[:3]}"
        ids = [body["id"] for _code, body in created]
        # And a few are cancelled at once (their reminders must never go out)
        cancelled = {ids[n] for n in CANCELLED}
        for public_id in cancelled:
            code, body = api.call("POST", f"/payment-requests/{public_id}/cancel", {})
            assert code == 200, body
        return ids, cancelled, time.monotonic()

    # And, while the burst's notices go out, cluster A is killed (its whole process group)
    # as soon as it is seen holding leased rows, some messages already sent; if it never is
    # during the notices, during the reminders' sweep
    with ThreadPoolExecutor(max_workers=1) as client:
        burst_future = client.submit(burst)
        reminders_due = deadline - timedelta(seconds=REMINDER_SECONDS_BEFORE)
        give_up = (reminders_due - timezone.now()).total_seconds() + 2 * LEASE_SECONDS
        seen_holding = False
        until = time.monotonic() + give_up
        while time.monotonic() < until:
            if burst_future.done() and burst_future.exception():
                break
            if len(_sends(esp_log)) >= KILL_AFTER_SENDS and _held_by(processes.group("cluster-a")):
                seen_holding = True
                break
            time.sleep(0.02)
        a_pids = processes.group("cluster-a")
        phase = "the notices" if timezone.now() < reminders_due else "the reminders' sweep"
        processes.kill("cluster-a")
        killed_at = time.monotonic()
        time.sleep(1)  # PostgreSQL ends the dead sessions (their open claims roll back)
        # Read after the kill: nothing of cluster A can claim or record anything any more,
        # so these are exactly the rows it held when it died.
        held_at_kill = _held_by(a_pids)
        sent_before_kill = len(_sends(esp_log))
        try:
            ids, cancelled, burst_done = burst_future.result(timeout=120)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{processes.report()}") from None
    assert processes.started["cluster-b"].poll() is None, processes.report()

    # Then cluster B finishes the work: every row of the merchant reaches a final state
    rows = Dispatch.objects.filter(merchant=merchant)

    def all_final() -> bool:
        if processes.started["cluster-b"].poll() is not None:
            pytest.fail(f"Cluster B stopped.\n{processes.report()}")
        statuses = set(rows.values_list("status", flat=True))
        return rows.count() == REQUESTS * PAYERS * 2 and statuses <= FINAL

    def pending() -> str:
        counts = Counter(rows.values_list("status", flat=True))
        return f"outbox by status: {dict(counts)}"

    _wait_for(all_final, 180, "every outbox row to be final", processes, every=0.5, detail=pending)
    finished = time.monotonic()

    sends = Counter(_sends(esp_log))
    by_request: dict[str, list[Dispatch]] = {}
    for row in rows.select_related("request", "step"):
        by_request.setdefault(row.request.public_id, []).append(row)
    assert set(by_request) == set(ids)

    # Every reminder of a request still collecting went out: the provider accepted it
    expected = {
        row.public_id
        for public_id, request_rows in by_request.items()
        if public_id not in cancelled
        for row in request_rows
    }
    assert len(expected) == (REQUESTS - len(cancelled)) * PAYERS * 2
    not_sent = {
        r.public_id: r.status for r in rows if r.public_id in expected and r.status != "sent"
    }
    assert not not_sent, f"rows not sent: {not_sent}\n{processes.report()}"
    missing = expected - set(sends)
    assert not missing, f"{len(missing)} sent rows the provider never saw: {sorted(missing)[:5]}"

    # No later step of a cancelled request went out (its notice may have, or was skipped)
    for public_id in cancelled:
        for row in by_request[public_id]:
            if row.step.trigger == "before_deadline":
                assert row.status == "cancelled", (public_id, row.status)
                assert row.public_id not in sends, f"reminder of cancelled {public_id} sent"
            else:  # sent, or withdrawn by the cancel, or skipped by the dispatcher's re-check
                assert row.status in ("sent", "skipped", "cancelled"), (public_id, row.status)

    # Nothing the provider saw is unknown to the outbox, and every row recorded sent was seen
    # by it; a row the provider took but the outbox does not say sent (the re-check after the
    # lease found its request cancelled) and a duplicate are only ever of rows the killed
    # cluster held at the kill: accepted by the provider, not yet recorded
    status_of = {r.public_id: r.status for r in rows}
    assert set(sends) <= set(status_of)
    assert {p for p, status in status_of.items() if status == "sent"} <= set(sends)
    unrecorded = {p for p in sends if status_of[p] != "sent"}
    assert unrecorded <= held_at_kill, sorted(unrecorded - held_at_kill)
    duplicates = {public_id for public_id, n in sends.items() if n > 1}
    assert duplicates <= held_at_kill, (
        f"sent twice without having been held by the killed cluster: "
        f"{sorted(duplicates - held_at_kill)}"
    )
    assert all(n == 2 for public_id, n in sends.items() if n > 1)
    retaken = rows.filter(public_id__in=held_at_kill)
    assert all(r.status in FINAL and r.attempts == 2 for r in retaken), [
        (r.public_id, r.status, r.attempts) for r in retaken
    ]

    # And every request reads back through the API in the state it should be in
    for public_id in ids:
        code, body = api.call("GET", f"/payment-requests/{public_id}")
        assert code == 200, body
        want = "cancelled" if public_id in cancelled else "open"
        assert body["status"] == want, (public_id, body["status"])

    print(
        f"\nscale-out: start {ready - started:.1f} s, burst {burst_done - ready:.1f} s, "
        f"kill at +{killed_at - ready:.1f} s during {phase} (seen holding: {seen_holding}, "
        f"held at the kill: {len(held_at_kill)}, provider had {sent_before_kill} sends), "
        f"all final at +{finished - ready:.1f} s; sends {sum(sends.values())} for "
        f"{len(sends)} messages, duplicates {len(duplicates)}"
    )
