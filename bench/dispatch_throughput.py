"""Dispatch throughput and planning cost, on PostgreSQL with the local outbox channel.

    python bench/dispatch_throughput.py               # 100000 notifications
    python bench/dispatch_throughput.py --count 20000 --no-write

The figures are printed and appended to docs/benchmarks.md (unless --no-write).

BENCH_DATABASE_URL (default: a local PostgreSQL database named pushpay_bench) is created and
migrated if missing, and its tables are emptied first, so it never reads DATABASE_URL: a
benchmark must not wipe a real database. Not a timed test: figures depend on the machine.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/pushpay_bench"
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-" + os.urandom(24).hex())
os.environ.setdefault("ALLOWED_HOSTS", "localhost")
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


def drain(workers: int, batch_size: int) -> dict:
    from django.db.models import Count

    from scenarios.models import Dispatch, OutboxMessage

    env = {**os.environ, "CONN_MAX_AGE": "0", "LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "dispatch_notifications",
                f"--batch-size={batch_size}",
                f"--worker-id=bench-{workers}-{n}",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
        )
        for n in range(workers)
    ]
    for process in processes:
        process.wait()
        if process.returncode:
            sys.exit(f"a worker failed with code {process.returncode}")
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
    return {
        "workers": workers,
        "seconds": elapsed,
        "sent": sent,
        "outbox": OutboxMessage.objects.count(),
        "rate": sent / elapsed,
        "duplicates": duplicates,
        "per_worker": per_worker,
    }


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


def report(count: int, backlog_seconds: float, drains: list[dict], planning: list[dict]) -> str:
    lines = [
        f"Backlog: {count} due notifications (outbox email channel), built through the planner "
        f"in {backlog_seconds:.1f} s.",
        "",
        "| Workers | Sent | Seconds | Notifications/s | Duplicates | Rows per worker |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for d in drains:
        shares = ", ".join(str(n) for n in d["per_worker"].values())
        lines.append(
            f"| {d['workers']} | {d['sent']} | {d['seconds']:.1f} | {d['rate']:.0f} | "
            f"{d['duplicates']} | {shares} |"
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
    print()
    text = report(args.count, backlog_seconds, drains, planning)
    print(text)
    if not args.no_write:
        write_docs(args.count, text)
    if any(d["duplicates"] or d["sent"] != args.count for d in drains):
        sys.exit("FAILED: duplicates or missing sends")


if __name__ == "__main__":
    main()
