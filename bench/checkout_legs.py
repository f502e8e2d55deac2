"""Cost of a combined checkout against a one-card checkout, on PostgreSQL, in the same run.

    python bench/checkout_legs.py                  # prints the table
    python bench/checkout_legs.py --repeats 40 --write

Three cases pay one 80.00 share through `payments.services.checkout_open`, in-process with
production settings and the sandbox providers: the baseline (one card leg), holiday vouchers
+ card (two legs), and a two-leg payment whose card is declined (the vouchers are then
voided). The cases alternate, so load from other work falls on all of them; reported are
the median time of `--repeats` checkouts after a warm-up, the ratio to the baseline, and the
query count of one checkout. BENCH_DATABASE_URL (default: a local PostgreSQL database named
pushpay_bench_checkout) is dropped and created again: never point it at a real database.
`--write` appends the table to docs/benchmarks.md. Not a timed test: figures depend on the
machine.
"""

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/pushpay_bench_checkout"
GOOD, DECLINED = "4242424242424242", "4000000000000002"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
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
    os.environ["EMAIL_BACKEND"] = "notifications.outbox_backend.OutboxEmailBackend"
    os.environ["SMS_BACKEND"] = "outbox"
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
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class Cases:
    def __init__(self) -> None:
        from merchants.services import merchant_create
        from payments import services

        self.merchant = merchant_create(name="Bench checkout", default_language="en")
        services.payment_method_enable(merchant=self.merchant, method="holiday_voucher")
        self.n = 0

    def _payer(self):
        from datetime import timedelta

        from django.utils import timezone

        from requests_app.services import ParticipantData, payment_request_create

        self.n += 1
        now = timezone.now()
        pr = payment_request_create(
            merchant=self.merchant,
            reference=f"BENCH-{self.n}-{time.time_ns()}",
            currency="EUR",
            total_amount=8000,
            participants=[ParticipantData(name="Payer", email="p@example.com", amount=8000)],
            deadline=now + timedelta(days=5),
            expires_at=now + timedelta(days=10),
        )
        return pr.participants.get()

    def _card(self, number: str) -> str:
        from django.utils import timezone

        from payments.sandbox.services import sandbox_card_tokenise

        return sandbox_card_tokenise(
            number=number, exp_month=12, exp_year=timezone.now().year + 3, cvc="123"
        ).token

    def _voucher(self) -> str:
        # The sandbox account holds 50.00 once; the benchmark tops its spendable balance up
        # between checkouts (bench only: the statement lines then no longer add up).
        from payments.sandbox.voucher_models import SandboxVoucherAccount

        SandboxVoucherAccount.objects.filter(merchant=self.merchant).update(balance=5000)
        return "1000000050"

    def run(self, case: str) -> tuple[float, int, str]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from payments import services
        from payments.services import LegRequest

        payer = self._payer()
        if case == "one card":
            legs = [LegRequest(method="card", source=self._card(GOOD), amount=8000)]
        else:
            card = self._card(GOOD if case == "vouchers + card" else DECLINED)
            legs = [
                LegRequest(method="holiday_voucher", source=self._voucher(), amount=5000),
                LegRequest(method="card", source=card, amount=3000),
            ]
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            checkout = services.checkout_open(participant=payer, legs=legs)
            elapsed = time.perf_counter() - start
        return elapsed, len(queries), checkout.status


CASES = ("one card", "vouchers + card", "vouchers + declined card")


def main() -> None:
    args = parse_args()
    configure()
    cases = Cases()
    timings = {case: [] for case in CASES}
    queries, outcomes = {}, {}
    for round_ in range(args.warmup + args.repeats):
        for case in CASES:
            elapsed, count, status = cases.run(case)
            queries[case], outcomes[case] = count, status
            if round_ >= args.warmup:
                timings[case].append(elapsed)
    base = statistics.median(timings["one card"])
    lines = [
        "",
        f"### Checkout legs ({time.strftime('%Y-%m-%d')}, {args.repeats} repeats, PostgreSQL)",
        "",
        "| Case | Outcome | Median ms | Ratio to one card | Queries |",
        "|---|---|---|---|---|",
    ]
    for case in CASES:
        median = statistics.median(timings[case])
        lines.append(
            f"| {case} | {outcomes[case]} | {median * 1000:.1f} | {median / base:.2f} "
            f"| {queries[case]} |"
        )
    table = "\n".join(lines) + "\n"
    print(table)
    if args.write:
        with open(HERE / "docs" / "benchmarks.md", "a") as docs:
            docs.write(table)


if __name__ == "__main__":
    main()
