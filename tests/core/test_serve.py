"""The production command (``manage.py serve``), its gunicorn configuration and the
production settings it runs under (PostgreSQL reuse and pooling, logs, metrics)."""

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db.migrations import Migration

from pushpay import gunicorn_conf
from pushpay import settings as settings_module
from tests.core.test_commands import PRODUCTION_ENV

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = "postgres://pushpay@127.0.0.1:1/pushpay"  # never connected to by these checks
TOKEN = "t" * 40


# --- gunicorn configuration ------------------------------------------------------------------


@pytest.fixture
def conf_env(monkeypatch):
    for name in ("WEB_CONCURRENCY", "GUNICORN_THREADS", "PORT", "BIND", "GUNICORN_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)

    def load(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return importlib.reload(gunicorn_conf)

    yield load
    monkeypatch.undo()
    importlib.reload(gunicorn_conf)


def test_gunicorn_defaults_suit_a_two_core_machine(conf_env):
    conf = conf_env()
    assert (conf.workers, conf.threads, conf.worker_class) == (2, 4, "gthread")
    assert conf.bind == ["0.0.0.0:8000"]
    assert conf.accesslog is None  # Django writes the access line, without raw paths
    assert conf.wsgi_app == "pushpay.wsgi:application"


def test_gunicorn_takes_workers_threads_and_port_from_the_environment(conf_env):
    conf = conf_env(WEB_CONCURRENCY="5", GUNICORN_THREADS="1", PORT="9001")
    assert (conf.workers, conf.threads, conf.worker_class) == (5, 1, "sync")
    assert conf.bind == ["0.0.0.0:9001"]
    assert conf_env(BIND="unix:/run/pushpay.sock").bind == ["unix:/run/pushpay.sock"]


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("WEB_CONCURRENCY", "0"),
        ("WEB_CONCURRENCY", "two"),
        ("WEB_CONCURRENCY", "1000"),
        ("GUNICORN_THREADS", "-1"),
        ("PORT", "70000"),
        ("GUNICORN_TIMEOUT", "1.5"),
    ],
)
def test_a_bad_gunicorn_value_is_refused_by_name(conf_env, name, raw):
    with pytest.raises(ImproperlyConfigured, match=name):
        conf_env(**{name: raw})


# --- manage.py serve ---------------------------------------------------------------------------


@pytest.fixture
def serve_env(monkeypatch, tmp_path, settings):
    settings.STATIC_ROOT = str(tmp_path / "static")
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    (metrics_dir / "counter_123.db").write_bytes(b"stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    for name in ("WEB_CONCURRENCY", "GUNICORN_THREADS", "PORT", "BIND"):
        monkeypatch.delenv(name, raising=False)
    yield metrics_dir
    monkeypatch.undo()
    importlib.reload(gunicorn_conf)


@pytest.mark.django_db
def test_serve_collects_static_files_then_becomes_gunicorn(serve_env, settings):
    out = StringIO()
    with mock.patch("os.execv") as execv:
        call_command("serve", stdout=out, stderr=StringIO())

    program, argv = execv.call_args.args
    assert program == sys.executable
    assert argv[1:] == ["-m", "gunicorn", "--config", str(ROOT / "pushpay" / "gunicorn_conf.py")]
    assert any(Path(settings.STATIC_ROOT).rglob("*.css"))
    # The workers' metrics folder starts empty: a previous run's counts are not summed again.
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(serve_env)
    assert list(serve_env.iterdir()) == []
    assert "2 worker(s) x 4 thread(s)" in out.getvalue()


@pytest.mark.django_db
def test_serve_refuses_to_start_while_a_migration_is_unapplied(serve_env):
    pending = [(Migration("0099_new_column", "notifications"), False)]
    with (
        mock.patch("django.db.migrations.executor.MigrationExecutor.migration_plan") as plan,
        mock.patch("os.execv") as execv,
    ):
        plan.return_value = pending
        with pytest.raises(CommandError, match=r"notifications\.0099_new_column.*migrate"):
            call_command("serve", "--no-collectstatic", stdout=StringIO(), stderr=StringIO())
    execv.assert_not_called()


@pytest.mark.django_db
def test_serve_refuses_a_bad_worker_count_before_doing_anything(serve_env, monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "many")
    with (
        mock.patch("os.execv") as execv,
        mock.patch("pushpay.management.commands.serve.call_command") as command,
        pytest.raises(CommandError, match="WEB_CONCURRENCY"),
    ):
        call_command("serve", stdout=StringIO(), stderr=StringIO())
    execv.assert_not_called()
    command.assert_not_called()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, **headers) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # only 127.0.0.1
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def test_the_production_command_serves_probes_metrics_and_json_logs(tmp_path):
    """The real thing: production settings, ``serve --migrate``, gunicorn with two workers."""
    port = _free_port()
    env = {
        **PRODUCTION_ENV,
        "DJANGO_SETTINGS_MODULE": "pushpay.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
        "PORT": str(port),
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "2",
        "METRICS_TOKEN": TOKEN,
    }
    log = (tmp_path / "stderr").open("w+")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--migrate"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, (tmp_path / "stderr").read_text()
            try:
                status, _, _ = _get(f"{base}/livez")
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.5)
        assert status == 200

        status, content, headers = _get(f"{base}/readyz", **{"X-Request-ID": "probe-1"})
        assert status == 200, content
        assert json.loads(content)["failed"] == []
        assert headers["X-Request-ID"] == "probe-1"
        assert _get(f"{base}/metrics")[0] == 401
        status, content, _ = _get(f"{base}/metrics", Authorization=f"Bearer {TOKEN}")
        assert status == 200 and b"pushpay_outbox_pending" in content
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    lines = (tmp_path / "stderr").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    assert any(
        e["logger"] == "gunicorn.error" and "Booting worker" in e["message"] for e in entries
    )
    probes = [e for e in entries if e["logger"] == "pushpay.access" and e["route"] == "/readyz"]
    assert probes and probes[0]["request_id"] == "probe-1"
    assert (tmp_path / "static" / "staticfiles.json").is_file()  # collected, hashed names


# --- Production settings -----------------------------------------------------------------------


def _settings(**env) -> dict:
    script = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "db = s.DATABASES['default']; print(json.dumps({'CONN_MAX_AGE': db['CONN_MAX_AGE'], "
        "'CONN_HEALTH_CHECKS': db.get('CONN_HEALTH_CHECKS'), 'OPTIONS': db.get('OPTIONS', {}), "
        "'Q': s.Q_CLUSTER, 'LOG': s.LOGGING['handlers']['console']['formatter']}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "pushpay.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_postgres_reuses_connections_with_health_checks_by_default():
    values = _settings(DATABASE_URL=POSTGRES)
    assert values["CONN_MAX_AGE"] == 60 and values["CONN_HEALTH_CHECKS"] is True
    assert "pool" not in values["OPTIONS"]
    assert values["LOG"] == "json"
    values = _settings(DATABASE_URL=POSTGRES, CONN_MAX_AGE="0", CONN_HEALTH_CHECKS="false")
    assert values["CONN_MAX_AGE"] == 0 and values["CONN_HEALTH_CHECKS"] is False


def test_a_psycopg_pool_is_one_setting_away():
    values = _settings(DATABASE_URL=POSTGRES, DB_POOL="true", DB_POOL_MAX_SIZE="20")
    assert values["CONN_MAX_AGE"] == 0
    assert values["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 20, "timeout": 10}


def test_redis_becomes_the_broker_when_configured():
    values = _settings(REDIS_URL="redis://127.0.0.1:6379/3")
    assert values["Q"]["redis"] == "redis://127.0.0.1:6379/3" and "orm" not in values["Q"]
    assert _settings()["Q"]["orm"] == "default"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"DATABASE_URL": POSTGRES, "DB_POOL": "true", "CONN_MAX_AGE": "60"}, "CONN_MAX_AGE"),
        ({"DB_POOL": "true"}, "DB_POOL needs PostgreSQL"),
        ({"DATABASE_URL": POSTGRES, "DB_POOL": "true", "DB_POOL_MIN_SIZE": "9",
          "DB_POOL_MAX_SIZE": "3"}, "DB_POOL_MIN_SIZE"),
        ({"DATABASE_URL": POSTGRES, "CONN_MAX_AGE": "-1"}, "CONN_MAX_AGE"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN"),
        ({"METRICS_SETTLE_SECONDS": "-5"}, "METRICS_SETTLE_SECONDS"),
        ({"SECRET_KEY_FALLBACKS": PRODUCTION_ENV["SECRET_KEY"]}, "SECRET_KEY_FALLBACKS"),
        (
            {"SECRET_KEY_FALLBACKS": settings_module._DEV_SECRET},
            "fallback",
        ),
    ],
)  # fmt: skip
def test_bad_production_values_stop_the_process_by_name(override, message):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**PRODUCTION_ENV, **override, "DJANGO_SETTINGS_MODULE": "pushpay.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_a_rotated_secret_key_still_reads_what_the_previous_one_signed():
    old = "r" * 30 + "Old-Key-7#x!Qz@9Lp$2Wm&5Vn^8Bc*3Dk"
    script = (
        "import django; django.setup(); from django.core import signing; "
        f"print(signing.loads(signing.dumps('session', key={old!r})))"
    )
    env = {**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "pushpay.settings"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "SECRET_KEY_FALLBACKS": old},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == "session", result.stderr
    refused = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert "BadSignature" in refused.stderr


def test_the_scaled_out_configuration_passes_the_deployment_checklist():
    env = {
        **PRODUCTION_ENV,
        "DJANGO_SETTINGS_MODULE": "pushpay.settings",
        "DATABASE_URL": POSTGRES,
        "DB_POOL": "true",
        "REDIS_URL": "redis://127.0.0.1:6379/3",
        "METRICS_TOKEN": TOKEN,
        "BEHIND_TLS_PROXY": "true",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
