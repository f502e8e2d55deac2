"""Cost of one `POST /api/v1/payment-requests`, on PostgreSQL, against a bare-ORM baseline.

    python bench/api_create.py                    # the tree in the current directory
    python bench/api_create.py --tree ../other    # another checkout of the project
    python bench/api_create.py --repeats 50 --write --sql var/sql-current

Each case (1, 10, 100 and 1,000 participants, `--sizes`; without a scenario, and with a one-
step scenario sending the default "request_created" email) is created through the API in-
process (DRF's test client, a real test-mode API key, an Idempotency-Key, production
settings) and, in the same loop, by a bare `PaymentRequest.objects.create` +
`Participant.objects.bulk_create` of the same rows in one transaction. The two alternate, so
load from other work on the machine falls on both, and the ratio API/ORM is steadier than
either figure. Reported: the median of `--repeats` timed creates after a warm-up, and the
query count of one create.

The tree measured is imported from its own root (put first on the import path), so one copy
of this script measures any checkout whose API takes the same body. Its migrations may
differ from another checkout's, so the database is dropped and created again at the start
of every run. BENCH_DATABASE_URL (default: a local PostgreSQL database named
pushpay_bench_create) is used, never DATABASE_URL: a benchmark must not wipe a real
database. `--write` appends the table to this script's own docs/benchmarks.md. Not a timed
test: figures depend on the machine.
"""

import argparse
import os
import re
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]  # the checkout holding this script and its docs
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/pushpay_bench_create"
SIZES = (1, 10, 100, 1000)
PATH = "/api/v1/payment-requests"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tree", type=Path, default=None, help="checkout to measure (default: current directory)"
    )
    parser.add_argument("--repeats", type=int, default=30, help="timed creates per case")
    parser.add_argument("--warmup", type=int, default=3, help="untimed creates per case first")
    parser.add_argument("--label", default="", help="name of the tree in the table")
    parser.add_argument(
        "--sql", type=Path, default=None, help="directory to write the SQL of one create per case"
    )
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in SIZES),
        help="participants per request, comma-separated",
    )
    parser.add_argument("--write", action="store_true", help="append to docs/benchmarks.md")
    args = parser.parse_args()
    try:
        args.sizes = tuple(int(n) for n in args.sizes.split(","))
    except ValueError:
        parser.error("--sizes takes whole numbers separated by commas")
    return args


def use_tree(tree: Path | None) -> Path:
    """Import the project from `tree`, ahead of any installed copy, and run from its root."""
    root = (tree or Path.cwd()).resolve()
    if not (root / "pushpay" / "__init__.py").is_file():
        sys.exit(f"{root} is not a checkout of the project (no pushpay package)")
    os.chdir(root)
    sys.path.insert(0, str(root))
    return root


def configure_environment() -> None:
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    os.environ["REDIS_URL"] = ""  # local-memory cache; the task broker is the database
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-only-" + os.urandom(24).hex())
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ["EMAIL_BACKEND"] = "notifications.outbox_backend.OutboxEmailBackend"
    os.environ["SMS_BACKEND"] = "outbox"
    os.environ["API_RATE_LIMIT"] = "1000000/min"  # the throttle still runs, it never refuses
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_SETTINGS_MODULE"] = "pushpay.settings"


def recreate_database() -> None:
    from pgadmin import admin_connection

    admin, name = admin_connection()
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def setup() -> None:
    import django

    # Production serves collected static files; the in-process client needs none.
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def tree_commit(root: Path) -> str:
    """The checked-out commit, read from the files (no git command runs in the tree)."""
    git = root / ".git"
    try:
        if git.is_file():  # a linked worktree: its HEAD is apart, its refs are shared
            git = Path(git.read_text().split(":", 1)[1].strip())
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:7]
        ref = head[5:]
        common = (
            git / (git / "commondir").read_text().strip() if (git / "commondir").exists() else git
        )
        if (common / ref).exists():
            return (common / ref).read_text().strip()[:7]
        for line in (common / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line[:7]
    except (OSError, IndexError):
        pass
    return "unknown"


def merchant_scenario_and_key():
    from merchants.services import api_key_create, merchant_create
    from notifications.selectors import template_for_stage
    from scenarios.services import scenario_create

    merchant = merchant_create(name="Bench create", default_language="en")
    template = template_for_stage(merchant=merchant, stage="request_created", channel="email")
    if template is None:
        sys.exit("the merchant got no default request_created email template")
    scenario = scenario_create(
        merchant=merchant,
        name="Creation notice",
        steps=[
            {
                "trigger": "request_created",
                "audience": "unpaid_participants",
                "channel": "email",
                "template": template.public_id,
            }
        ],
    )
    secret = api_key_create(merchant=merchant, name="Bench").secret
    return merchant, scenario, secret


def body(reference: str, payers: int, scenario) -> dict:
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    data = {
        "reference": reference,
        "currency": "EUR",
        "amount_mode": "fixed",
        "total_amount": 1000 * payers,
        "participants": [
            {"name": f"Payer {i}", "email": f"payer{i}@example.com", "amount": 1000}
            for i in range(payers)
        ],
        "deadline": (now + timedelta(days=10)).isoformat(),
        "expires_at": (now + timedelta(days=40)).isoformat(),
    }
    if scenario is not None:
        data["scenario"] = scenario.public_id
    return data


class Creator:
    def __init__(self, merchant, scenario, secret: str) -> None:
        from rest_framework.test import APIClient

        self.merchant = merchant
        self.scenario = scenario
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        self.n = 0

    def _reference(self, kind: str) -> str:
        self.n += 1
        return f"{kind}-{self.n}"

    def api(self, payers: int, with_scenario: bool) -> dict:
        reference = self._reference("API")
        response = self.client.post(
            PATH,
            body(reference, payers, self.scenario if with_scenario else None),
            format="json",
            secure=True,
            HTTP_IDEMPOTENCY_KEY=f"bench-{reference}-{time.time_ns()}",
        )
        if response.status_code != 201:
            sys.exit(f"create answered {response.status_code}: {response.content[:500]!r}")
        return response.json()

    def orm(self, payers: int) -> None:
        from django.db import transaction

        from requests_app.models import Participant, PaymentRequest

        with transaction.atomic():
            request = PaymentRequest.objects.create(
                merchant=self.merchant,
                reference=self._reference("ORM"),
                currency="EUR",
                total_amount=1000 * payers,
                amount_mode="fixed",
            )
            Participant.objects.bulk_create(
                Participant(
                    merchant=self.merchant,
                    request=request,
                    name=f"Payer {i}",
                    email=f"payer{i}@example.com",
                    amount=1000,
                    position=i,
                )
                for i in range(payers)
            )


def planned_for(public_id: str) -> int:
    """Notifications planned for a request (the outbox table kept its name in every tree)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM scenarios_dispatch d JOIN requests_app_paymentrequest r"
            " ON r.id = d.request_id WHERE r.public_id = %s",
            [public_id],
        )
        return cursor.fetchone()[0]


def captured(call) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        call()
    return [q["sql"] for q in queries.captured_queries]


def normalise(sql: str) -> str:
    """SQL with its literal values and savepoint names blanked, for diffing two trees."""
    sql = re.sub(r'"s\d+_x\d+"', '"sp"', sql)
    sql = re.sub(r"'(?:[^']|'')*'", "'…'", sql)
    return re.sub(r"\b\d+(\.\d+)?\b", "N", sql)


def shape(sql: str) -> str:
    """The statement's verb and the tables it names: one line per query, easy to diff."""
    verb = sql.split(None, 1)[0].upper()
    if verb in {"SAVEPOINT", "RELEASE", "ROLLBACK"}:
        return verb
    tables = dict.fromkeys(re.findall(r'(?:FROM|INTO|UPDATE|JOIN) "(\w+)"', sql))
    return f"{verb} {', '.join(tables)}"


def measure(creator: Creator, payers: int, with_scenario: bool, args) -> dict:
    for _ in range(args.warmup):
        creator.api(payers, with_scenario)
        creator.orm(payers)
    api_ms, orm_ms = [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        creator.orm(payers)
        orm_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        creator.api(payers, with_scenario)
        api_ms.append((time.perf_counter() - started) * 1000)
    result: dict = {}
    api_sql = captured(lambda: result.update(creator.api(payers, with_scenario)))
    orm_sql = captured(lambda: creator.orm(payers))
    planned = planned_for(result["id"])
    if planned != (payers if with_scenario else 0):
        sys.exit(f"{planned} notifications planned for {payers} participants")
    api, orm = statistics.median(api_ms), statistics.median(orm_ms)
    return {
        "participants": payers,
        "scenario": with_scenario,
        "queries": len(api_sql),
        "orm_queries": len(orm_sql),
        "ms": api,
        "orm_ms": orm,
        "ratio": api / orm,
        "sql": api_sql,
    }


def table(results: list[dict]) -> str:
    lines = [
        "| Participants | Scenario | Queries | Median ms | Bare ORM queries | Bare ORM ms "
        "| API / ORM |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['participants']} | {'one step' if r['scenario'] else 'none'} | {r['queries']} "
            f"| {r['ms']:.1f} | {r['orm_queries']} | {r['orm_ms']:.1f} | {r['ratio']:.1f} |"
        )
    return "\n".join(lines)


def write_sql(directory: Path, results: list[dict]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for r in results:
        name = f"{r['participants']}-{'scenario' if r['scenario'] else 'plain'}"
        (directory / f"{name}.sql").write_text("\n".join(r["sql"]) + "\n", encoding="utf-8")
        (directory / f"{name}.normalised.sql").write_text(
            "\n".join(normalise(q) for q in r["sql"]) + "\n", encoding="utf-8"
        )
        (directory / f"{name}.shape.txt").write_text(
            "\n".join(shape(q) for q in r["sql"]) + "\n", encoding="utf-8"
        )
    print(f"SQL of one create per case written to {directory}")


def write_docs(label: str, repeats: int, text: str) -> None:
    """Append this run to docs/benchmarks.md under a heading naming the date and machine."""
    import datetime

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0].split()[0]
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    heading = (
        f"### {today}: API create, {label}, median of {repeats}, {os.cpu_count()} cores, "
        f"PostgreSQL {server} on the same machine (bench/api_create.py)"
    )
    path = HERE / "docs" / "benchmarks.md"
    with path.open("a", encoding="utf-8") as docs:
        docs.write(f"\n{heading}\n\n{text}\n")
    print(f"appended to {path}")


def main() -> None:
    args = parse_args()
    sql_dir = args.sql.resolve() if args.sql else None  # before moving into the tree
    root = use_tree(args.tree)
    configure_environment()
    recreate_database()
    setup()
    import pushpay

    label = args.label or f"commit {tree_commit(root)}"
    print(f"measuring {label}: pushpay imported from {Path(pushpay.__file__).parent}", flush=True)
    creator = Creator(*merchant_scenario_and_key())
    results = []
    for payers in args.sizes:
        for with_scenario in (False, True):
            print(f"  {payers} participant(s), scenario={with_scenario}…", flush=True)
            results.append(measure(creator, payers, with_scenario, args))
    text = table(results)
    print()
    print(text)
    if sql_dir:
        write_sql(sql_dir, results)
    if args.write:
        write_docs(label, args.repeats, text)


if __name__ == "__main__":
    main()
