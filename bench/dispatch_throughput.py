"""Dispatch throughput and planning cost, on PostgreSQL: through the local outbox channel, and
through a provider stand-in answering in 100 ms (tests/scenarios/stub_esp.py) with one send
at a time (the baseline, measured in the same run) and with DISPATCH_CONCURRENCY sends; then
a paced run: --paced-rate notifications a second falling due for --paced-seconds, followed
by two dispatcher processes (bench/dispatch_worker.py), for the lag at a steady rate.

    python bench/dispatch_throughput.py               # 100000 notifications
    python bench/dispatch_throughput.py --count 20000 --no-write
    python bench/dispatch_throughput.py --count 5000 --slow-count 4000 --concurrency 64

The figures are printed and appended to docs/benchmarks.md (unless --no-write).

BENCH_DATABASE_URL (default: a local PostgreSQL database named pushpay_bench) is created and
migrated if missing, and its tables are emptied first, so it never reads DATABASE_URL: a
benchmark must not wipe a real database. Not a timed test: figures depend on the machine.
"""

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/pushpay_bench"
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-" + os.urandom(24).hex())
os.environ.setdefault("ALLOWED_HOSTS", "localhost")
# Production settings refuse to start without a key for merchants' provider credentials.
os.environ.setdefault(
    "PROVIDER_CREDENTIALS_KEYS", base64.urlsafe_b64encode(os.urandom(32)).decode()
)
os.environ["EMAIL_BACKEND"] = "notifications.outbox_backend.OutboxEmailBackend"
os.environ["SMS_BACKEND"] = "outbox"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pushpay.settings")

PER_REQUEST = 1000  # participants per request when building the backlog


def ensure_database() -> None:
    from pgadmin import admin_connection

    admin, name = admin_connection()
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')


def setup() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # The drains below are what is measured; no broker nudges on commit.
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False

    call_command("migrate", verbosity=0)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE scenarios_outboxmessage, scenarios_dispatch, scenarios_scenariobinding,"
            " scenarios_step, scenarios_scenario, scenarios_webhookendpoint,"
            " requests_app_requestevent, requests_app_statuschange, requests_app_participant,"
            " requests_app_paymentrequest, notifications_messagetemplate,"
            " merchants_idempotencyrecord, merchants_apikey, merchants_membership,"
            " merchants_merchant CASCADE"
        )


def merchant_and_template():
    from merchants.models import Merchant
    from notifications.services import template_create

    merchant = Merchant.objects.create(name="Bench", slug=f"bench-{time.time_ns()}")
    template = template_create(
        merchant=merchant,
        name="Notice",
        channel="email",
        subject={"en": "Pay {{ request.reference }}"},
        body_text={"en": "Hello {{ payer.name }}, pay {{ amount_due }}: {{ pay_url }}"},
        body_html={"en": "<p>Hello {{ payer.name }}, pay {{ amount_due }}</p>"},
    )
    return merchant, template


def step(trigger: str, template, **extra) -> dict:
    return {
        "trigger": trigger,
        "audience": "unpaid_participants",
        "channel": "email",
        "template": template.public_id,
        **extra,
    }


def new_request(merchant, payers: int, reference: str):
    from datetime import timedelta

    from django.utils import timezone

    from requests_app.services import ParticipantData, payment_request_create

    return payment_request_create(
        merchant=merchant,
        reference=reference,
        currency="EUR",
        total_amount=1000 * payers,
        participants=[
            ParticipantData(name=f"Payer {i}", email=f"payer{i}@example.com", amount=1000)
            for i in range(payers)
        ],
        deadline=timezone.now() + timedelta(days=10),
        expires_at=timezone.now() + timedelta(days=40),
    )


def build_backlog(count: int) -> float:
    from django.db import transaction

    from scenarios.services import dispatches_plan_for_request, scenario_create

    merchant, template = merchant_and_template()
    scenario = scenario_create(
        merchant=merchant, name="Notice", steps=[step("request_created", template)]
    )
    started = time.perf_counter()
    made = 0
    n = 0
    while made < count:
        payers = min(PER_REQUEST, count - made)
        with transaction.atomic():
            request = new_request(merchant, payers, f"BACKLOG-{n}")
            made += dispatches_plan_for_request(payment_request=request, scenario=scenario)
        n += 1
    return time.perf_counter() - started


def reset_backlog() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE scenarios_outboxmessage")
        cursor.execute(
            "UPDATE scenarios_dispatch SET status = 'planned', attempts = 0, lease_until = NULL,"
            " leased_by = '', sent_at = NULL, subject = '', body_text = '', body_html = '',"
            " provider_message_id = '', next_attempt_at = due_at"
        )
        cursor.execute("VACUUM ANALYZE scenarios_dispatch")


def run_workers(commands: list[list[str]], env: dict) -> None:
    """Start one Python process per command side by side and wait for them all; a worker
    that fails ends the benchmark."""
    processes = [
        subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=subprocess.PIPE)
        for command in commands
    ]
    for process in processes:
        process.wait()
        if process.returncode:
            sys.exit(f"a worker failed with code {process.returncode}")


def drain(workers: int, batch_size: int, extra_env: dict | None = None) -> dict:
    from django.db import connection
    from django.db.models import Count

    from scenarios.models import Dispatch, OutboxMessage

    env = {**os.environ, "CONN_MAX_AGE": "0", "LOG_LEVEL": "WARNING", **(extra_env or {})}
    # Every row falls due now, as a campaign's reminders do at once: the lag from due to sent
    # is then the wait a payer's reminder has in that campaign, not the time the backlog sat.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scenarios_dispatch SET due_at = now(), next_attempt_at = now()"
            " WHERE status = 'planned'"
        )
    started = time.perf_counter()
    run_workers(
        [
            ["manage.py", "dispatch_notifications", f"--batch-size={batch_size}",
             f"--worker-id=bench-{workers}-{n}"]
            for n in range(workers)
        ],
        env,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    sent = Dispatch.objects.filter(status="sent").count()
    duplicates = (
        OutboxMessage.objects.values("dispatch_public_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    per_worker = dict(
        Dispatch.objects.values_list("leased_by").annotate(n=Count("id")).order_by("leased_by")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY lag)"
            " FROM (SELECT EXTRACT(EPOCH FROM sent_at - due_at) AS lag"
            " FROM scenarios_dispatch WHERE status = 'sent') AS lags"
        )
        lag_p50, lag_p99 = cursor.fetchone()
    return {
        "lag_p50": float(lag_p50 or 0),
        "lag_p99": float(lag_p99 or 0),
        "workers": workers,
        "seconds": elapsed,
        "sent": sent,
        "outbox": OutboxMessage.objects.count(),
        "rate": sent / elapsed,
        "duplicates": duplicates,
        "per_worker": per_worker,
    }


def slow_provider_drain(
    count: int, workers: int, concurrency: int, batch_size: int, log: Path
) -> dict:
    """A fresh backlog of ``count`` sent through the 100 ms stand-in; every send it took is a
    line in ``log``, so duplicates are counted at the provider, not in our tables."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE scenarios_outboxmessage, scenarios_dispatch CASCADE")
    build_backlog(count)
    log.unlink(missing_ok=True)
    result = drain(workers, batch_size, _stub_env(concurrency, log))
    lines = [line.split() for line in log.read_text().splitlines() if line.strip()]
    ids = [parts[0] for parts in lines]
    events = sorted([(float(p[1]), 1) for p in lines] + [(float(p[2]), -1) for p in lines])
    peak = current = 0
    for _t, change in events:
        current += change
        peak = max(peak, current)
    result.update(
        concurrency=concurrency,
        provider_sends=len(ids),
        duplicates=len(ids) - len(set(ids)),
        peak_in_flight=peak,
        count=count,
    )
    return result


def _stub_env(concurrency: int, log: Path) -> dict:
    return {
        "EMAIL_BACKEND": "tests.scenarios.stub_esp.SlowRecordingBackend",
        "TEST_MODE_REAL_CHANNELS": "true",
        "DISPATCH_CONCURRENCY": str(concurrency),
        "DISPATCH_RATE_LIMITS": "email=0",
        "DISPATCH_MERCHANT_RATE_LIMITS": "email=0",
        "STUB_ESP_LOG": str(log),
        "STUB_ESP_DELAY": "0.1",
    }


def _provider_log(log: Path) -> dict:
    lines = [line.split() for line in log.read_text().splitlines() if line.strip()]
    ids = [parts[0] for parts in lines]
    return {"provider_sends": len(ids), "duplicates": len(ids) - len(set(ids))}


def paced_drain(
    rate: int, seconds: int, workers: int, concurrency: int, batch_size: int, log: Path
) -> dict:
    """``rate`` messages a second falling due for ``seconds``, one every 1/rate s, sent
    through the 100 ms stand-in by ``workers`` processes that follow them as they fall due
    (bench/dispatch_worker.py): the lag from due to sent at a steady rate, where a backlog
    drain measures how long a campaign's last reminder waits."""
    from django.db import connection
    from django.db.models import Count

    from scenarios.models import Dispatch

    count = rate * seconds
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE scenarios_outboxmessage, scenarios_dispatch CASCADE")
    build_backlog(count)
    log.unlink(missing_ok=True)
    lead = 10.0  # for the workers to start before the first row falls due
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scenarios_dispatch AS d SET due_at = s.due, next_attempt_at = s.due FROM"
            " (SELECT id, now() + make_interval(secs => %s + (row_number() OVER (ORDER BY id)"
            " - 1) / %s::float) AS due FROM scenarios_dispatch) AS s WHERE d.id = s.id",
            [lead, rate],
        )
    env = {
        **os.environ,
        "CONN_MAX_AGE": "0",
        "LOG_LEVEL": "WARNING",
        **_stub_env(concurrency, log),
    }
    until = time.time() + lead + seconds + 120
    run_workers(
        [
            [str(ROOT / "bench" / "dispatch_worker.py"), f"--worker-id=paced-{n}",
             f"--until={until}", f"--batch-size={batch_size}"]
            for n in range(workers)
        ],
        env,
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY lag), max(lag),"
            " EXTRACT(EPOCH FROM max(sent_at) - min(due_at))"
            " FROM (SELECT sent_at, due_at, EXTRACT(EPOCH FROM sent_at - due_at) AS lag"
            " FROM scenarios_dispatch WHERE status = 'sent') AS lags"
        )
        sent, p50, p99, worst, span = cursor.fetchone()
    per_worker = dict(
        Dispatch.objects.values_list("leased_by").annotate(n=Count("id")).order_by("leased_by")
    )
    return {
        "rate_asked": rate,
        "seconds_asked": seconds,
        "workers": workers,
        "concurrency": concurrency,
        "count": count,
        "sent": sent,
        "lag_p50": float(p50 or 0),
        "lag_p99": float(p99 or 0),
        "lag_max": float(worst or 0),
        "rate": sent / float(span) if span else 0.0,
        "per_worker": per_worker,
        **_provider_log(log),
    }


def paced_report(paced: dict) -> str:
    d = paced
    return "\n".join(
        [
            f"Paced: {d['rate_asked']} notifications a second falling due for"
            f" {d['seconds_asked']} s ({d['count']} in all), followed by {d['workers']}"
            f" dispatcher processes at concurrency {d['concurrency']}, through the 100 ms"
            " stand-in (the stand-in, PostgreSQL and the workers share the same cores):",
            "",
            "| Workers | Concurrency | Due per second | Sent | Sent per second | Lag p50 s"
            " | Lag p99 s | Lag max s | Provider sends | Duplicates |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            f"| {d['workers']} | {d['concurrency']} | {d['rate_asked']} | {d['sent']} |"
            f" {d['rate']:.0f} | {d['lag_p50']:.2f} | {d['lag_p99']:.2f} | {d['lag_max']:.2f} |"
            f" {d['provider_sends']} | {d['duplicates']} |",
        ]
    )


def planning_cost(repeats: int) -> list[dict]:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from scenarios.services import dispatches_plan_for_request, scenario_create

    merchant, template = merchant_and_template()
    scenario = scenario_create(
        merchant=merchant,
        name="Five steps",
        steps=[
            step("request_created", template),
            step("before_deadline", template, offset="P3D"),
            step("before_deadline", template, offset="P1D"),
            step("after_deadline", template, offset="P1D", repeat_every="P3D", repeat_max=3),
            {**step("request_completed", template), "audience": "all_participants"},
        ],
    )
    results = []
    for payers in (1, 10, 100):
        timings, queries, rows = [], 0, 0
        for attempt in range(repeats):
            with transaction.atomic():
                request = new_request(merchant, payers, f"PLAN-{payers}-{attempt}")
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    rows = dispatches_plan_for_request(payment_request=request, scenario=scenario)
                    timings.append(time.perf_counter() - started)
                queries = len(captured)
        results.append(
            {
                "participants": payers,
                "rows": rows,
                "queries": queries,
                "ms": statistics.median(timings) * 1000,
            }
        )
    return results


def slow_report(slow: list[dict]) -> str:
    baseline = slow[0]["rate"]
    lines = [
        "Through a provider stand-in answering each send in 100 ms (the stand-in, PostgreSQL and "
        "the workers share the same cores); the first row is the baseline of this run:",
        "",
        "| Workers | Concurrency | Sent | Seconds | Notifications/s | Ratio to baseline "
        "| Lag p50 s | Lag p99 s | Peak in flight | Provider sends | Duplicates |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for d in slow:
        lines.append(
            f"| {d['workers']} | {d['concurrency']} | {d['sent']} | {d['seconds']:.1f} | "
            f"{d['rate']:.0f} | {d['rate'] / baseline:.1f} | {d['lag_p50']:.1f} | "
            f"{d['lag_p99']:.1f} | {d['peak_in_flight']} | {d['provider_sends']} | "
            f"{d['duplicates']} |"
        )
    lines += [
        "",
        "Lag is from due to sent, every row of a run falling due at its start (a campaign's "
        "reminders all due at once).",
    ]
    return "\n".join(lines)


def report(count: int, backlog_seconds: float, drains: list[dict], planning: list[dict]) -> str:
    lines = [
        f"Backlog: {count} due notifications (outbox email channel), built through the planner "
        f"in {backlog_seconds:.1f} s.",
        "",
        "| Workers | Sent | Seconds | Notifications/s | Lag p50 s | Lag p99 s | Duplicates "
        "| Rows per worker |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for d in drains:
        shares = ", ".join(str(n) for n in d["per_worker"].values())
        lines.append(
            f"| {d['workers']} | {d['sent']} | {d['seconds']:.1f} | {d['rate']:.0f} | "
            f"{d['lag_p50']:.1f} | {d['lag_p99']:.1f} | {d['duplicates']} | {shares} |"
        )
    lines += [
        "",
        "Planning one request under a five-step scenario (request_created, two reminders "
        "before the deadline, three overdue reminders, request_completed):",
        "",
        "| Participants | Rows written | Queries | Median ms |",
        "| --- | --- | --- | --- |",
    ]
    for p in planning:
        lines.append(f"| {p['participants']} | {p['rows']} | {p['queries']} | {p['ms']:.1f} |")
    return "\n".join(lines)


def write_docs(count: int, text: str) -> None:
    """Append this run to docs/benchmarks.md under a heading naming the date and machine."""
    import datetime

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0].split()[0]
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    heading = (
        f"### {today}: {count:,} notifications, {os.cpu_count()} cores, "
        f"PostgreSQL {server} on the same machine (bench/dispatch_throughput.py)"
    )
    path = ROOT / "docs" / "benchmarks.md"
    with path.open("a", encoding="utf-8") as docs:
        docs.write(f"\n{heading}\n\n{text}\n")
    print(f"appended to {path.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="due notifications")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5, help="planning runs per size")
    parser.add_argument(
        "--slow-count", type=int, default=4000, help="notifications per pooled slow-provider run"
    )
    parser.add_argument(
        "--baseline-count", type=int, default=200, help="for the one-at-a-time baseline (10/s)"
    )
    parser.add_argument("--concurrency", type=int, default=128, help="DISPATCH_CONCURRENCY")
    parser.add_argument("--paced-rate", type=int, default=500, help="due per second, paced run")
    parser.add_argument("--paced-seconds", type=int, default=20, help="0: no paced run")
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone"
    )
    args = parser.parse_args()

    ensure_database()
    setup()
    print(f"building a backlog of {args.count} due notifications…", flush=True)
    backlog_seconds = build_backlog(args.count)
    drains = []
    for workers in (1, 2):
        reset_backlog()
        print(f"draining with {workers} worker(s)…", flush=True)
        drains.append(drain(workers, args.batch_size))
    planning = planning_cost(args.repeats)
    slow = []
    log = Path(tempfile.gettempdir()) / f"pushpay-bench-esp-{os.getpid()}.log"
    for count, workers, concurrency in (
        (args.baseline_count, 1, 1),
        (args.slow_count, 1, args.concurrency),
        (args.slow_count, 2, args.concurrency),
    ):
        print(f"slow provider: {workers} worker(s), concurrency {concurrency}…", flush=True)
        slow.append(slow_provider_drain(count, workers, concurrency, args.batch_size, log))
    paced = None
    if args.paced_seconds:
        print(f"paced: {args.paced_rate}/s for {args.paced_seconds} s, 2 workers…", flush=True)
        paced = paced_drain(
            args.paced_rate, args.paced_seconds, 2, args.concurrency, args.batch_size, log
        )
    log.unlink(missing_ok=True)
    print()
    text = report(args.count, backlog_seconds, drains, planning) + "\n\n" + slow_report(slow)
    if paced:
        text += "\n\n" + paced_report(paced)
    print(text)
    if not args.no_write:
        write_docs(args.count, text)
    if any(d["duplicates"] or d["sent"] != args.count for d in drains) or any(
        d["duplicates"] or {d["provider_sends"], d["sent"]} != {d["count"]}
        for d in slow + ([paced] if paced else [])
    ):
        sys.exit("FAILED: duplicates or missing sends")


if __name__ == "__main__":
    main()
