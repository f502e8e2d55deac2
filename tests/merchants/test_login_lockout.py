"""Login lockout in production mode: failures are counted per login *and* address, locked
logins get a clear page, and an administrator can unlock them."""

import logging
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command

from tests.factories import UserFactory

PASSWORD = "correct-horse-battery"
ATTACKER = "203.0.113.7"
OFFICE = "198.51.100.20"
LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def production(settings):
    settings.DEBUG = False
    settings.AXES_FAILURE_LIMIT = 3


@pytest.fixture
def camille(db):
    return UserFactory(username="camille@example.com")


@pytest.fixture
def dominique(db):
    return UserFactory(username="dominique@example.com")


def log_in(client, username, password, ip=ATTACKER, url=LOGIN, **headers):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip, **headers)


def fail(client, username, times=3, **kwargs):
    for _ in range(times):
        log_in(client, username, "wrong-password", **kwargs)


def logged_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.client.session


def test_wrong_passwords_lock_that_login_from_that_address(client, camille):
    fail(client, "camille@example.com", times=2)
    assert log_in(client, "camille@example.com", "wrong-password").status_code == 429

    response = log_in(client, "camille@example.com", PASSWORD)
    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    assert b"Login locked" in response.content
    assert b"failed 3 times in a row" in response.content
    assert "_auth_user_id" not in client.session


def test_the_counter_ignores_the_case_of_the_login(client, camille):
    for username in ("Camille@example.com", "CAMILLE@example.com", " camille@example.com"):
        log_in(client, username, "wrong-password")
    assert log_in(client, "camille@example.com", PASSWORD).status_code == 429


def test_the_lockout_page_speaks_french(client, camille):
    fail(client, "camille@example.com")
    response = log_in(client, "camille@example.com", PASSWORD, HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 429
    assert "Connexion bloquée" in response.content.decode()


def test_the_same_login_from_another_address_still_works(client, camille):
    fail(client, "camille@example.com")
    assert logged_in(log_in(client, "camille@example.com", PASSWORD, ip=OFFICE))


def test_another_login_from_the_same_address_is_not_locked(client, camille, dominique):
    fail(client, "camille@example.com")
    assert logged_in(log_in(client, "dominique@example.com", PASSWORD))


def test_fewer_failures_than_the_limit_do_not_lock(client, camille):
    fail(client, "camille@example.com", times=2)
    assert logged_in(log_in(client, "camille@example.com", PASSWORD))


def test_the_unlock_command_unlocks_the_login(client, camille):
    fail(client, "camille@example.com")
    call_command("axes_reset_username", "camille@example.com", stdout=StringIO())
    assert logged_in(log_in(client, "camille@example.com", PASSWORD))


def test_failed_attempts_are_recorded_and_logged(client, camille, caplog):
    caplog.set_level(logging.INFO)
    fail(client, "camille@example.com", times=2)
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (
        "camille@example.com",
        ATTACKER,
        2,
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("camille@example.com" in m and ATTACKER in m for m in warnings)
    assert "wrong-password" not in caplog.text


def test_the_admin_login_is_locked_too(client, camille):
    camille.is_staff = camille.is_superuser = True
    camille.save()
    fail(client, "camille@example.com", url="/admin/login/")
    response = log_in(client, "camille@example.com", PASSWORD, url="/admin/login/")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_x_forwarded_for_is_ignored_without_a_tls_proxy(client, camille):
    for n in range(3):
        log_in(client, "camille@example.com", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    response = log_in(client, "camille@example.com", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert response.status_code == 429


def test_behind_a_tls_proxy_the_address_it_forwarded_counts(client, camille, settings):
    settings.BEHIND_TLS_PROXY = True
    proxy = "10.0.0.2"
    fail(client, "camille@example.com", ip=proxy, HTTP_X_FORWARDED_FOR=ATTACKER)
    locked = log_in(
        client, "camille@example.com", PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR=ATTACKER
    )
    assert locked.status_code == 429
    # A spoofed left-most entry does not help: the proxy appends the real address last.
    spoofed = f"{OFFICE}, {ATTACKER}"
    again = log_in(client, "camille@example.com", PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR=spoofed)
    assert again.status_code == 429
    office = log_in(client, "camille@example.com", PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR=OFFICE)
    assert logged_in(office)


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"REMOTE_ADDR": "203.0.113.7"}, "203.0.113.7"),
        ({}, None),
        ({"REMOTE_ADDR": "not-an-address"}, None),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "junk"}, "10.0.0.2"),
        (
            {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 2001:db8::1"},
            "2001:db8::1",
        ),
    ],
)
def test_the_client_address_is_a_valid_ip_or_none(settings, meta, expected):
    from django.test import RequestFactory

    from pushpay.client_ip import client_ip

    settings.BEHIND_TLS_PROXY = True
    request = RequestFactory().get("/")
    request.META = meta
    assert client_ip(request) == expected


def test_force_login_without_an_address_still_works(client, camille):
    client.force_login(camille)  # axes records the login; PostgreSQL refuses a non-IP address
    assert "_auth_user_id" in client.session
