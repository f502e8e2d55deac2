"""/healthz, /livez and /readyz: what each one asks, the 503 naming the failed check, and
that orchestrators reach them by address over plain HTTP in production."""

from unittest import mock

import pytest
from django.db import OperationalError
from django.db.migrations import Migration
from django.test import Client

from pushpay import health

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_migration_memory(monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["pay.example.com"]
    settings.SECURE_SSL_REDIRECT = True


def database_down():
    return mock.patch.object(
        health.connections["default"], "cursor", side_effect=OperationalError("no route")
    )


def test_livez_answers_without_touching_the_database(client, django_assert_num_queries):
    with database_down(), django_assert_num_queries(0):
        response = client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_readyz_is_ok_when_every_check_passes(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "migrations": "ok"},
        "failed": [],
    }


def test_readyz_is_a_503_naming_the_database_when_it_is_down(client, caplog):
    with database_down():
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    assert body["checks"]["database"] == "failed (OperationalError)"
    assert body["checks"]["migrations"] == "skipped"
    # The error's text may name a host or a password: it stays out of the answer.
    assert "no route" not in response.content.decode()
    assert not [r for r in caplog.records if r.name == "django.request"]


def test_readyz_is_a_503_naming_the_broker_when_redis_refuses(client, settings):
    # Nothing listens on port 1: the connection is refused at once.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert response.json()["checks"]["broker"].startswith("failed (")
    assert response.json()["checks"]["database"] == "ok"


def test_readyz_asks_redis_for_a_ping_with_a_timeout(client, settings):
    settings.REDIS_URL = "redis://cache.internal:6379/0"
    with mock.patch("redis.Redis.from_url") as from_url:
        from_url.return_value.ping.return_value = True
        assert client.get("/readyz").status_code == 200
    assert from_url.call_args.kwargs["socket_connect_timeout"] == 2
    from_url.return_value.ping.assert_called_once()


def test_readyz_is_a_503_while_a_migration_is_unapplied(client):
    pending = [(Migration("0099_new_column", "notifications"), False)]
    with mock.patch.object(health.MigrationExecutor, "migration_plan", return_value=pending):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["migrations"]
    assert body["checks"]["migrations"] == (
        "1 unapplied, starting with notifications.0099_new_column"
    )
    # Once applied, it is remembered: the migration graph is not loaded on every probe.
    assert client.get("/readyz").status_code == 200
    with mock.patch.object(health.MigrationExecutor, "migration_plan", return_value=pending):
        assert client.get("/readyz").status_code == 200


def test_healthz_still_answers_as_before(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz"])
def test_probes_answer_by_address_over_plain_http_in_production(client, path):
    response = client.get(path, HTTP_HOST="10.0.3.7:8000")
    assert response.status_code == 200, response.content
    # Any other page is still held to ALLOWED_HOSTS and redirected to HTTPS.
    assert client.get("/app/", HTTP_HOST="10.0.3.7:8000").status_code == 400
    assert client.get("/app/", HTTP_HOST="pay.example.com").status_code == 301


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/metrics"])
def test_probes_refuse_other_methods(client, path):
    assert client.post(path).status_code == 405
    assert client.delete(path).status_code == 405


def test_a_probe_is_not_fooled_by_a_trailing_slash_or_a_query(client):
    assert client.get("/livez?verbose=1").status_code == 200
    assert client.get("/readyz?check=all").status_code == 200
    assert client.get("/livez/").status_code == 404
