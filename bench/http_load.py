"""HTTP load on the production server (gunicorn, PostgreSQL), each figure against a baseline
measured in the same run, with wrk on 127.0.0.1.

    python bench/http_load.py                          # 2 rounds of 10 s per endpoint
    python bench/http_load.py --duration 20 --rounds 3 --no-write

Measured, in interleaved rounds so load from other work falls on every endpoint alike:

- API create (`POST /api/v1/payment-requests`, 3 participants, a five-step scenario, a
  test-mode API key and an Idempotency-Key per request) against a bare DRF endpoint that
  parses the same JSON body and inserts one row;
- the payer page (`GET /pay/<token>/`) against a bare Django view.

Both baselines are served by the same gunicorn, behind the same middleware
(bench/http_bench_urls.py). The server is `manage.py serve` with production settings
(DEBUG off, HTTPS behind a proxy: wrk sends X-Forwarded-Proto), `WEB_CONCURRENCY` workers
(default 2) of `GUNICORN_THREADS` threads, the database as task broker (no cluster runs:
planned messages stay planned). BENCH_DATABASE_URL (default a local PostgreSQL database
named pushpay_bench_http) is dropped and created again; DATABASE_URL is never read. The
figures are printed and appended to docs/benchmarks.md unless --no-write. Needs wrk.
"""

import argparse
import base64
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path[:0] = [str(ROOT), str(BENCH)]
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/pushpay_bench_http"
PARTICIPANTS = 3


def environment(port: int) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB),
        "REDIS_URL": "",
        "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "http_bench_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH)]),
        "ALLOWED_HOSTS": "127.0.0.1",
        "BEHIND_TLS_PROXY": "true",
        "PUBLIC_BASE_URL": "https://127.0.0.1",
        "EMAIL_BACKEND": "notifications.outbox_backend.OutboxEmailBackend",
        "SMS_BACKEND": "outbox",
        # The throttles still run, with limits the load never reaches.
        "API_RATE_LIMIT": "100000000/min",
        "PUBLIC_RATE_LIMIT": "100000000/min",
        "LOG_LEVEL": "WARNING",
        "ACCESS_LOG": "false",
        "PORT": str(port),
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2"),
        "STATIC_ROOT": str(Path(tempfile.gettempdir()) / "pushpay-bench-static"),
    }
    env.setdefault("SECRET_KEY", "bench-only-" + os.urandom(24).hex())
    env.setdefault("PROVIDER_CREDENTIALS_KEYS", base64.urlsafe_b64encode(os.urandom(32)).decode())
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recreate_database() -> None:
    from pgadmin import admin_connection

    admin, name = admin_connection()
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def seed() -> dict:
    """A merchant with a test API key, a five-step scenario and one payer's link."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from merchants.services import api_key_create, merchant_create
    from notifications.selectors import template_for_stage
    from requests_app.services import ParticipantData, payment_request_create
    from scenarios.services import scenario_create

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_row (id bigserial PRIMARY KEY, body jsonb NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now())"
        )
    merchant = merchant_create(name="Bench HTTP", default_language="en")
    template = template_for_stage(merchant=merchant, stage="request_created", channel="email")

    def step(trigger: str, **extra) -> dict:
        return {
            "trigger": trigger,
            "audience": "unpaid_participants",
            "channel": "email",
            "template": template.public_id,
            **extra,
        }

    scenario = scenario_create(
        merchant=merchant,
        name="Five steps",
        steps=[
            step("request_created"),
            step("before_deadline", offset="P3D"),
            step("before_deadline", offset="P1D"),
            step("after_deadline", offset="P1D", repeat_every="P3D", repeat_max=3),
            {**step("request_completed"), "audience": "all_participants"},
        ],
    )
    secret = api_key_create(merchant=merchant, name="Bench").secret
    now = timezone.now()
    payer_request = payment_request_create(
        merchant=merchant,
        reference="PAYER-PAGE",
        currency="EUR",
        total_amount=3000,
        participants=[
            ParticipantData(name=f"Payer {i}", email=f"payer{i}@example.com", amount=1000)
            for i in range(PARTICIPANTS)
        ],
        deadline=now + datetime.timedelta(days=10),
        expires_at=now + datetime.timedelta(days=40),
    )
    token = payer_request.participants.order_by("position").first().link_token
    body = {
        "reference": "__REF__",
        "currency": "EUR",
        "amount_mode": "fixed",
        "total_amount": 1000 * PARTICIPANTS,
        "participants": [
            {"name": f"Payer {i}", "email": f"payer{i}@example.com", "amount": 1000}
            for i in range(PARTICIPANTS)
        ],
        "deadline": (now + datetime.timedelta(days=10)).isoformat(),
        "expires_at": (now + datetime.timedelta(days=40)).isoformat(),
        "scenario": scenario.public_id,
    }
    connection.close()
    return {"secret": secret, "token": token, "body": json.dumps(body)}


def lua(headers: dict, expected: int, post: tuple[str, str] | None = None, run: str = "") -> str:
    """A wrk script: the headers on every request; with ``post`` (path, body), a POST of the
    body with a unique reference and Idempotency-Key each time. Every answer other than
    ``expected`` is counted and printed at the end (wrk itself counts a redirect as served)."""
    lines = ["local headers = {}"]
    lines += [f"headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    lines.append("wrk.headers = headers")
    if post:
        path, body = post
        lines += [
            'wrk.method = "POST"',
            # Unique per script: every round writes its own, so no reference or key repeats
            # (a repeated Idempotency-Key would be a replay, not a create).
            f"local run = {json.dumps(run)}",
            f"wrk.path = {json.dumps(path)}",
            f"local template = {json.dumps(body)}",
        ]
    lines.append(
        f"""
local threads = {{}}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
local n = 0
unexpected = 0
function response(status, headers, body)
  if status ~= {expected} then unexpected = unexpected + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("unexpected") end
  io.write("UNEXPECTED " .. total .. "\\n")
end
"""
    )
    if post:
        lines.append(
            """
request = function()
  n = n + 1
  local ref = "LOAD-" .. run .. "-" .. tid .. "-" .. n
  local h = {}
  for k, v in pairs(headers) do h[k] = v end
  h["Idempotency-Key"] = ref
  return wrk.format(nil, nil, h, (string.gsub(template, "__REF__", ref)))
end
"""
        )
    return "\n".join(lines)


def run_wrk(url: str, script: Path, duration: int, connections: int, threads: int) -> dict:
    run = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    if "UNEXPECTED" not in run.stdout:  # wrk runs on without a script it could not load
        sys.exit(f"wrk did not run its script: {run.stderr.strip()[-2000:]}")
    out = run.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"UNEXPECTED (\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    return {
        "rate": rate,
        "requests": total,
        "bad": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(0) if errors else "",
        "p50_ms": _ms(p50),
        "p99_ms": _ms(p99),
    }


def _ms(match) -> float:
    if not match:
        return 0.0
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def check(url: str, expected: int, method: str = "GET", body: bytes | None = None, headers=None):
    """One request before the load: a redirect or an error would be counted as served by wrk."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    if status != expected:
        sys.exit(f"{method} {url} answered {status}, expected {expected}")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores{f' ({model})' if model else ''}"


def server_version(env: dict) -> str:
    import psycopg

    url = env["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0].split()[0]


def created_count(env: dict) -> tuple[int, int]:
    import psycopg

    url = env["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        requests = conn.execute(
            "SELECT count(*) FROM requests_app_paymentrequest WHERE reference LIKE 'LOAD-%%'"
        ).fetchone()[0]
        rows = conn.execute(
            "SELECT count(*) FROM scenarios_dispatch d JOIN requests_app_paymentrequest r"
            " ON r.id = d.request_id WHERE r.reference LIKE 'LOAD-%%'"
        ).fetchone()[0]
    return requests, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (the Debian package wrk)")

    port = free_port()
    env = environment(port)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")})
    for name in ("DEBUG", "SECRET_KEY", "PROVIDER_CREDENTIALS_KEYS", "ALLOWED_HOSTS"):
        os.environ[name] = env[name]
    os.environ.update(
        {k: env[k] for k in ("EMAIL_BACKEND", "SMS_BACKEND", "PUBLIC_BASE_URL", "REDIS_URL")}
    )
    recreate_database()
    seeded = seed()

    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/livez", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    sys.exit(f"the server stopped: {server.stdout.read().decode()[-2000:]}")
                time.sleep(0.2)
        proxy = {"X-Forwarded-Proto": "https"}
        api = {
            **proxy,
            "Authorization": f"Bearer {seeded['secret']}",
            "Content-Type": "application/json",
        }
        urllib.request.install_opener(urllib.request.build_opener(NoRedirect))
        check(f"{base}/bench/bare-view", 200, headers=proxy)
        check(f"{base}/pay/{seeded['token']}/", 200, headers=proxy)
        check(
            f"{base}/bench/bare-insert",
            201,
            "POST",
            seeded["body"].replace("__REF__", "CHECK-0").encode(),
            {**proxy, "Content-Type": "application/json"},
        )
        check(
            f"{base}/api/v1/payment-requests",
            201,
            "POST",
            seeded["body"].replace("__REF__", "CHECK-1").encode(),
            {**api, "Idempotency-Key": "check-1"},
        )

        folder = Path(tempfile.mkdtemp(prefix="pushpay-bench-wrk-"))
        scripts = {
            "bare_insert": folder / "bare_insert.lua",
            "create": folder / "create.lua",
            "bare_view": folder / "bare_view.lua",
            "payer": folder / "payer.lua",
        }
        json_headers = {**proxy, "Content-Type": "application/json"}
        scripts["bare_insert"].write_text(
            lua(json_headers, 201, ("/bench/bare-insert", seeded["body"]))
        )
        scripts["create"].write_text(lua(api, 201, ("/api/v1/payment-requests", seeded["body"])))
        scripts["bare_view"].write_text(lua(proxy, 200))
        scripts["payer"].write_text(lua(proxy, 200))
        urls = {
            "bare_insert": f"{base}/bench/bare-insert",
            "create": f"{base}/api/v1/payment-requests",
            "bare_view": f"{base}/bench/bare-view",
            "payer": f"{base}/pay/{seeded['token']}/",
        }
        results: dict[str, list[dict]] = {name: [] for name in scripts}
        for round_ in range(args.rounds):
            scripts["create"].write_text(
                lua(
                    api,
                    201,
                    ("/api/v1/payment-requests", seeded["body"]),
                    run=f"{round_}-{time.time_ns()}",
                )
            )
            for name in ("bare_insert", "create", "bare_view", "payer"):
                print(f"round {round_ + 1}: {name}…", flush=True)
                result = run_wrk(
                    urls[name], scripts[name], args.duration, args.connections, args.threads
                )
                if result["bad"]:
                    sys.exit(f"{name}: {result['bad']} answers were not the expected status")
                results[name].append(result)
        shutil.rmtree(folder, ignore_errors=True)
        requests, rows = created_count(env)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)

    served = sum(r["requests"] for r in results["create"])
    # wrk stops counting at the deadline; a create in flight then still completes.
    if not served <= requests <= served + args.connections * args.rounds:
        sys.exit(f"wrk counted {served} creates but {requests} requests exist: replays or losses")
    text = report(args, results, env, requests, rows, served)
    print()
    print(text)
    if not args.no_write:
        path = ROOT / "docs" / "benchmarks.md"
        with path.open("a", encoding="utf-8") as docs:
            docs.write("\n" + text + "\n")
        print(f"appended to {path.relative_to(ROOT)}")


def report(args, results: dict, env: dict, requests: int, rows: int, served: int) -> str:
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    lines = [
        f"### {today}: HTTP load, {machine()}, PostgreSQL {server_version(env)} on the same "
        f"machine (bench/http_load.py)",
        "",
        f"gunicorn with {env['WEB_CONCURRENCY']} workers x "
        f"{os.environ.get('GUNICORN_THREADS', '4')} threads, production settings; "
        f"wrk {args.threads} threads, {args.connections} "
        f"connections, {args.duration} s per endpoint and round, {args.rounds} rounds "
        "interleaved; wrk, gunicorn and PostgreSQL share the cores.",
        "",
        "| Round | Endpoint | Requests/s | p50 ms | p99 ms | Baseline | Baseline requests/s "
        "| Ratio |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    pairs = (
        (
            "create",
            "bare_insert",
            "API create (3 participants, 5-step scenario)",
            "bare DRF insert",
        ),
        ("payer", "bare_view", "payer page", "bare Django view"),
    )
    for round_ in range(args.rounds):
        for name, baseline, label, baseline_label in pairs:
            r, b = results[name][round_], results[baseline][round_]
            lines.append(
                f"| {round_ + 1} | {label} | {r['rate']:.0f} | {r['p50_ms']:.1f} | "
                f"{r['p99_ms']:.1f} | {baseline_label} | {b['rate']:.0f} | "
                f"{r['rate'] / b['rate']:.3f} |"
            )
    per_create = rows / requests if requests else 0
    lines += [
        "",
        f"The load created {requests:,} requests ({served:,} answers counted by wrk, the rest "
        "completing after a round's deadline), each "
        f"with {per_create:.0f} planned messages.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
