"""Cost of the back-office dashboard on 100,000 requests, on PostgreSQL, against a bare COUNT.

    python bench/dashboard.py                      # prints the table
    python bench/dashboard.py --requests 100000 --repeats 10 --write

One merchant gets ``--requests`` test-mode requests spread over the last 120 days (one payer
each; 40 % paid by card or holiday vouchers, with their checkout, leg and ``participant_paid``
event; one in ten overdue), half as many messages (planned, sent, failed), and a tenth as
many live-mode requests, all written with bulk_create (no services: this measures reads).
Timed in the same run, cases alternating: the baseline (one ``COUNT(*)`` of the merchant's
test requests) and the dashboard page (``GET /app/dashboard/`` through Django's test
client, as a logged-in viewer) over the default 30 days and over 365 days. Reported: the
median of ``--repeats`` after a warm-up, the ratio to the baseline and the query count.
BENCH_DATABASE_URL (default: a local PostgreSQL database named pushpay_bench_dashboard) is
dropped and created again: never point it at a real database. ``--write`` appends the table
to docs/benchmarks.md. Not a timed test: figures depend on the machine.
"""

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/pushpay_bench_dashboard"
DAYS = 120
BATCH = 5000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="append to docs/benchmarks.md")
    return parser.parse_args()


def configure() -> None:
    os.chdir(HERE)
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE / "bench"))
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    os.environ["BENCH_DATABASE_URL"] = os.environ["DATABASE_URL"]
    os.environ["REDIS_URL"] = ""
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-only-" + os.urandom(24).hex())
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_SETTINGS_MODULE"] = "pushpay.settings"
    from pgadmin import admin_connection

    admin, name = admin_connection()
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    import django

    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # Pages render without collectstatic: static URLs need no manifest here.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    call_command("migrate", verbosity=0)


def populate(merchant, count: int, *, livemode: bool) -> None:
    """``count`` requests of one payer each; created_at and the event times are set with
    one UPDATE afterwards (auto_now_add would stamp them all with now)."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from notifications.models import Dispatch
    from payments.models import Checkout, Leg
    from requests_app.models import Participant, PaymentRequest, RequestEvent

    now = timezone.now()
    tag = "L" if livemode else "T"
    for start in range(0, count, BATCH):
        numbers = range(start, min(start + BATCH, count))
        requests = PaymentRequest.objects.bulk_create(
            [
                PaymentRequest(
                    merchant=merchant,
                    livemode=livemode,
                    reference=f"B{tag}-{n}",
                    currency="EUR",
                    total_amount=1000 + n % 9000,
                    amount_paid=(1000 + n % 9000) if n % 5 < 2 else 0,
                    status="paid" if n % 5 < 2 else "open",
                    deadline=now + timedelta(days=(-3 if n % 10 == 9 else 10)),
                    expires_at=now + timedelta(days=30),
                )
                for n in numbers
            ]
        )
        payers = Participant.objects.bulk_create(
            [
                Participant(
                    merchant=merchant,
                    livemode=livemode,
                    request=pr,
                    name=f"Payer {n}",
                    email=f"payer{n}@example.com",
                    amount=pr.total_amount,
                    amount_paid=pr.amount_paid,
                    status="paid" if pr.amount_paid else "pending",
                )
                for n, pr in zip(numbers, requests, strict=True)
            ]
        )
        paid = [
            (n, pr, p) for n, pr, p in zip(numbers, requests, payers, strict=True) if p.amount_paid
        ]
        checkouts = Checkout.objects.bulk_create(
            [
                Checkout(
                    merchant=merchant,
                    livemode=livemode,
                    request=pr,
                    participant=p,
                    amount=p.amount,
                    currency="EUR",
                    status="succeeded",
                )
                for _, pr, p in paid
            ]
        )
        Leg.objects.bulk_create(
            [
                Leg(
                    merchant=merchant,
                    livemode=livemode,
                    checkout=checkout,
                    method="card" if n % 2 else "holiday_voucher",
                    amount=checkout.amount,
                    currency="EUR",
                    status="captured",
                )
                for (n, _, _), checkout in zip(paid, checkouts, strict=True)
            ]
        )
        RequestEvent.objects.bulk_create(
            [
                RequestEvent(
                    merchant=merchant,
                    livemode=livemode,
                    request=pr,
                    participant=p,
                    type="participant_paid",
                )
                for _, pr, p in paid
            ]
        )
        Dispatch.objects.bulk_create(
            [
                Dispatch(
                    merchant=merchant,
                    livemode=livemode,
                    request=pr,
                    participant=p,
                    kind="scenario_step",
                    channel="email",
                    recipient=p.email,
                    due_at=now + timedelta(days=1),
                    next_attempt_at=now + timedelta(days=1),
                    status=("planned", "sent", "failed")[n % 3],
                    dedupe_key=f"bench:{tag}:{n}",
                )
                for n, pr, p in zip(numbers, requests, payers, strict=True)
                if n % 2 == 0
            ]
        )
    with connection.cursor() as cursor:
        # Spread over DAYS days, a payment a few hours after its request.
        cursor.execute(
            "UPDATE requests_app_paymentrequest SET created_at = now() - "
            "((id %% %s) * interval '1 day') - ((id %% 23) * interval '1 hour') "
            "WHERE livemode = %s",
            [DAYS, livemode],
        )
        for table, column in (
            ("payments_leg", "checkout_id"),
            ("requests_app_requestevent", "request_id"),
        ):
            join = (
                "SELECT c.id, r.created_at FROM payments_checkout c "
                "JOIN requests_app_paymentrequest r ON r.id = c.request_id"
                if table == "payments_leg"
                else "SELECT r.id, r.created_at FROM requests_app_paymentrequest r"
            )
            cursor.execute(
                f"UPDATE {table} t SET created_at = s.created_at + ((t.id %% 7) * interval "
                f"'1 hour') FROM ({join}) s WHERE t.{column} = s.id AND t.livemode = %s",
                [livemode],
            )
        cursor.execute(
            "UPDATE scenarios_dispatch SET updated_at = now() - ((id %% 40) * interval '1 day') "
            "WHERE livemode = %s",
            [livemode],
        )
        cursor.execute("ANALYZE")


def timed(call) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        call()
        elapsed = time.perf_counter() - start
    return elapsed, len(queries)


def main() -> None:
    args = parse_args()
    configure()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from merchants.models import Membership
    from merchants.services import merchant_create
    from requests_app.models import PaymentRequest

    merchant = merchant_create(name="Bench dashboard", default_language="en")
    started = time.perf_counter()
    populate(merchant, args.requests, livemode=False)
    populate(merchant, args.requests // 10, livemode=True)
    print(f"populated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    user = get_user_model().objects.create_user("bench@example.com", "bench@example.com", "x")
    Membership.objects.create(merchant=merchant, user=user, role="viewer")
    client = Client()
    client.force_login(user)
    today = timezone.now().astimezone(timezone.get_default_timezone()).date()
    year = {"start": (today.replace(year=today.year - 1)).isoformat(), "end": today.isoformat()}

    def page(params):
        def call():
            response = client.get("/app/dashboard/", params, secure=True)
            assert response.status_code == 200, response.status_code

        return call

    cases = {
        "COUNT(*) of the test requests (baseline)": lambda: PaymentRequest.objects.filter(
            merchant=merchant, livemode=False
        ).count(),
        "dashboard, last 30 days": page({}),
        "dashboard, 365 days": page(year),
    }
    timings = {name: [] for name in cases}
    queries = {}
    for round_ in range(args.warmup + args.repeats):
        for name, call in cases.items():
            elapsed, count = timed(call)
            queries[name] = count
            if round_ >= args.warmup:
                timings[name].append(elapsed)
    base = statistics.median(timings["COUNT(*) of the test requests (baseline)"])
    lines = [
        "",
        f"### Dashboard ({time.strftime('%Y-%m-%d')}, {args.requests:,} test requests "
        f"+ {args.requests // 10:,} live, {args.repeats} repeats, PostgreSQL)",
        "",
        "| Case | Median ms | Ratio to COUNT | Queries |",
        "|---|---|---|---|",
    ]
    for name in cases:
        median = statistics.median(timings[name])
        lines.append(f"| {name} | {median * 1000:.1f} | {median / base:.1f} | {queries[name]} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.write:
        with open(HERE / "docs" / "benchmarks.md", "a") as docs:
            docs.write(table)


if __name__ == "__main__":
    main()
