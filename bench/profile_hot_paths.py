"""Where an API create and a payer page spend their time: a cProfile of each, in-process
(Django's test client, production settings, PostgreSQL), folded into the parts that matter.

    python bench/profile_hot_paths.py                # 200 creates, 500 pages
    python bench/profile_hot_paths.py --creates 50 --pages 100 --no-write

The parts are the cumulative time of named functions (a part's time includes the parts it
calls: the planner runs inside the creation's event), as a share of the whole request; the
bare baselines of bench/http_load.py are profiled the same way. The figures are printed and
appended to docs/benchmarks.md unless --no-write. BENCH_DATABASE_URL (default a local
PostgreSQL database named pushpay_bench_http) is dropped and created again.
"""

import argparse
import cProfile
import datetime
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import http_load  # noqa: E402

# fmt: off
CREATE_PARTS = [
    ("the whole request", "django/test/client.py", "request"),
    ("middleware and DRF up to the view", "rest_framework/views.py", "dispatch"),
    ("API key authentication", "merchants/services.py", "api_key_authenticate"),
    ("Idempotency-Key guard (claim, record)", "pushpay/api/idempotency.py", "wrapper"),
    ("body validation (serializer)", "rest_framework/serializers.py", "is_valid"),
    ("the creation service", "requests_app/services/create.py", "payment_request_create"),
    ("  participants and their snapshots", "pushpay/history.py", "bulk_create_with_snapshots"),
    ("  the request's snapshot and audit entry", "simple_history/models.py", "post_save"),
    ("  the creation event and its reactions", "requests_app/events.py", "event_record"),
    ("    planning the outbox rows", "scenarios/services/planner.py", "dispatches_plan_for_request"),  # noqa: E501
    ("      writing them (one statement)", "pushpay/bulk.py", "insert_rows"),
    ("    integrator webhooks (endpoint read)", "notifications/webhooks.py", "webhook_deliveries_plan"),  # noqa: E501
    ("the 201 body", "requests_app/api/views.py", "_render"),
    ("the commit (PostgreSQL's WAL flush)", "django/db/backends/base/base.py", "commit"),
    ("waiting on PostgreSQL (every statement)", "psycopg/connection.py", "wait"),
]
# fmt: on
PAYER_PARTS = [
    ("the whole request", "django/test/client.py", "request"),
    ("the view", "requests_app/payer_views.py", "get"),
    ("  the one read", "payments/selectors.py", "payer_page_participant"),
    ("  building the context and rendering", "requests_app/payer_views.py", "_render"),
    ("    the template", "django/template/backends/django.py", "render"),
    ("waiting on PostgreSQL (every statement)", "psycopg/connection.py", "wait"),
]


def parts(stats: pstats.Stats, wanted, calls: int) -> list[tuple[str, float]]:
    found = {}
    for (filename, _line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.stats.items():
        for label, path, function in wanted:
            if name == function and filename.endswith(path):
                found[label] = found.get(label, 0.0) + cumulative
    return [(label, found.get(label, 0.0) * 1000 / calls) for label, _p, _f in wanted]


def profile(call, n: int) -> tuple[pstats.Stats, float]:
    started = time.perf_counter()
    for _ in range(n):
        call()
    plain = (time.perf_counter() - started) * 1000 / n
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        call()
    profiler.disable()
    return pstats.Stats(profiler), plain


def table(title: str, rows: list[tuple[str, float]], plain: float, bare: float) -> str:
    total = rows[0][1] or 1.0
    lines = [
        f"{title}: {plain:.2f} ms a request unprofiled, against {bare:.2f} ms for its bare"
        f" baseline (ratio {bare / plain:.2f}); under the profiler:",
        "",
        "| Part | ms (profiled) | Share |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {label} | {ms:.2f} | {ms / total:.0%} |" for label, ms in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=200)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    env = http_load.environment(0)
    for name in (
        "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS",
        "PROVIDER_CREDENTIALS_KEYS", "EMAIL_BACKEND", "SMS_BACKEND", "PUBLIC_BASE_URL",
        "REDIS_URL", "BEHIND_TLS_PROXY", "API_RATE_LIMIT", "PUBLIC_RATE_LIMIT", "LOG_LEVEL",
        "ACCESS_LOG", "STATIC_ROOT",
    ):  # fmt: skip
        os.environ[name] = env[name]
    http_load.recreate_database()
    seeded = http_load.seed()
    from django.test import Client

    client = Client(HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="127.0.0.1")
    counter = iter(range(10**9))

    def post(path: str, **headers):
        n = next(counter)
        body = seeded["body"].replace("__REF__", f"PROFILE-{n}")
        return client.post(path, body, content_type="application/json", **headers)

    def create():
        n = next(counter)
        response = client.post(
            "/api/v1/payment-requests",
            seeded["body"].replace("__REF__", f"PROFILE-{n}"),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {seeded['secret']}",
            HTTP_IDEMPOTENCY_KEY=f"profile-{n}",
        )
        assert response.status_code == 201, response.content

    def bare_insert():
        assert post("/bench/bare-insert").status_code == 201

    def payer():
        assert client.get(f"/pay/{seeded['token']}/").status_code == 200

    def bare_view():
        assert client.get("/bench/bare-view").status_code == 200

    for call in (create, bare_insert, payer, bare_view):  # warm-up: imports, caches
        for _ in range(20):
            call()
    _stats, bare_create = profile(bare_insert, args.creates)
    create_stats, create_ms = profile(create, args.creates)
    _stats, bare_page = profile(bare_view, args.pages)
    payer_stats, payer_ms = profile(payer, args.pages)

    text = "\n\n".join(
        [
            f"### {datetime.datetime.now(datetime.UTC).date()}: where the time goes,"
            f" {http_load.machine()}"
            " (bench/profile_hot_paths.py)",
            "In-process (Django's test client, production settings, PostgreSQL on the same"
            " machine), no HTTP server: the parts are cumulative times of named functions, so"
            " an indented part is included in the one above it.",
            table(
                "API create (3 participants, 5-step scenario)",
                parts(create_stats, CREATE_PARTS, args.creates),
                create_ms,
                bare_create,
            ),
            table(
                "Payer page (unpaid payer, cards and PayPal)",
                parts(payer_stats, PAYER_PARTS, args.pages),
                payer_ms,
                bare_page,
            ),
        ]
    )
    print(text)
    if not args.no_write:
        with (ROOT / "docs" / "benchmarks.md").open("a") as docs:
            docs.write("\n" + text + "\n")


if __name__ == "__main__":
    main()
