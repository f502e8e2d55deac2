import json
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from merchants.models import ApiKey, Membership, Merchant
from requests_app.models import PaymentRequest


@pytest.mark.django_db
def test_createmerchant_prints_one_json_object_with_a_working_key(client):
    out = StringIO()
    call_command(
        "createmerchant",
        "--name",
        "Shop",
        "--email",
        "Owner@Example.com",
        "--password",
        "s3cret-pass-word",
        "--json",
        stdout=out,
    )

    data = json.loads(out.getvalue())
    assert data["merchant"]["id"].startswith("mc_")
    assert data["api_key"].startswith("sk_test_")
    membership = Membership.objects.get()
    assert (membership.role, membership.user.email) == ("owner", "owner@example.com")
    assert (
        client.get(
            "/api/v1/payment-requests", HTTP_AUTHORIZATION=f"Bearer {data['api_key']}"
        ).status_code
        == 200
    )
    login = {"username": "owner@example.com", "password": "s3cret-pass-word"}
    assert client.post("/accounts/login/", login).status_code == 302


@pytest.mark.django_db
def test_createmerchant_refuses_an_existing_login_and_creates_nothing():
    call_command(
        "createmerchant",
        "--name",
        "One",
        "--email",
        "a@example.com",
        "--password",
        "pw-123456789",
        stdout=StringIO(),
    )
    with pytest.raises(CommandError, match="already exists"):
        call_command(
            "createmerchant",
            "--name",
            "Two",
            "--email",
            "a@example.com",
            "--password",
            "pw-123456789",
            stdout=StringIO(),
        )
    assert list(Merchant.objects.values_list("name", flat=True)) == ["One"]
    assert ApiKey.objects.count() == 1


@pytest.mark.django_db
def test_createmerchant_refuses_an_unknown_currency():
    with pytest.raises(CommandError, match="currency"):
        call_command(
            "createmerchant",
            "--name",
            "X",
            "--email",
            "x@example.com",
            "--password",
            "pw-123456789",
            "--currency",
            "ABC",
            stdout=StringIO(),
        )
    assert Merchant.objects.count() == 0


@pytest.mark.django_db
def test_seed_demo_creates_requests_in_every_status_and_can_run_twice(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())

    statuses = set(PaymentRequest.objects.values_list("status", flat=True))
    assert statuses == set(PaymentRequest.Status.values)
    assert PaymentRequest.objects.count() == 9


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_in_production(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo", stdout=StringIO())
    assert Merchant.objects.count() == 0


PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "k8#Vq2!mZr7@pL0xW4$nT9&cY1^bH6*eJ3(fD5)gS8-aQ2+uI7=oE4",
    "ALLOWED_HOSTS": "pay.example.com",
    "PUBLIC_BASE_URL": "https://pay.example.com",
    "DATABASE_URL": "sqlite://:memory:",
    "PATH": "/usr/bin:/bin",
    # Two Fernet keys, newest first: the merchants' provider credentials are encrypted.
    "PROVIDER_CREDENTIALS_KEYS": "Jd6qWcLwZC3x3YB3bM0m3aX4nq3yYxF3f9rM8L0w0Xk=,"
    "2a1WrD1o9Yh9kQ4bU0m2z5c7e8g1i3k5m7o9q1s3u5w=",
}


def test_production_settings_pass_the_deployment_checklist():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "pushpay.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("keys", "check_id"),
    [("", "payments.E002"), ("not-a-fernet-key", "payments.E003")],
)
def test_production_refuses_to_start_without_usable_credentials_keys(keys, check_id):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={
            **PRODUCTION_ENV,
            "PROVIDER_CREDENTIALS_KEYS": keys,
            "DJANGO_SETTINGS_MODULE": "pushpay.settings",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert check_id in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"PUBLIC_BASE_URL": "pay.example.com"}, "PUBLIC_BASE_URL"),
        ({"SMS_BACKEND": "pigeon"}, "SMS_BACKEND"),
        ({"SMS_BACKEND": "twilio"}, "TWILIO_ACCOUNT_SID"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
        ({"IDEMPOTENCY_KEY_TTL_HOURS": "1"}, "IDEMPOTENCY_KEY_TTL_HOURS"),
        ({"EVENTS_RETENTION_DAYS": "29"}, "EVENTS_RETENTION_DAYS"),
        ({"CSV_JOB_RETENTION_DAYS": "0"}, "CSV_JOB_RETENTION_DAYS"),
        ({"AXES_FAILURE_LIMIT": "0"}, "AXES_FAILURE_LIMIT"),
        ({"AXES_COOLOFF_MINUTES": "0"}, "AXES_COOLOFF_MINUTES"),
        ({"PUBLIC_RATE_LIMIT": "lots"}, "PUBLIC_RATE_LIMIT"),
        ({"TWO_FACTOR_FAILURE_LIMIT": "0"}, "TWO_FACTOR_FAILURE_LIMIT"),
        ({"TWO_FACTOR_COOLOFF_MINUTES": "0"}, "TWO_FACTOR_COOLOFF_MINUTES"),
        ({"SESSION_INACTIVITY_TIMEOUT": "0"}, "SESSION_INACTIVITY_TIMEOUT"),
    ],
)
def test_bad_configuration_stops_the_process_with_a_clear_message(override, message):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={**PRODUCTION_ENV, **override, "DJANGO_SETTINGS_MODULE": "pushpay.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_secrets_can_be_read_from_files(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(PRODUCTION_ENV["SECRET_KEY"])
    env = {
        **PRODUCTION_ENV,
        "DJANGO_SETTINGS_MODULE": "pushpay.settings",
        "SECRET_KEY_FILE": str(secret_file),
    }
    del env["SECRET_KEY"]
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import "
            "settings; print(len(settings.SECRET_KEY))",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == str(len(PRODUCTION_ENV["SECRET_KEY"])), result.stderr


@pytest.mark.django_db
def test_a_new_merchant_starts_with_the_default_templates():
    from notifications.defaults import STAGES
    from notifications.models import MessageTemplate

    call_command(
        "createmerchant",
        "--name",
        "Shop",
        "--email",
        "o@example.com",
        "--password",
        "s3cret-pass-word",
        stdout=StringIO(),
    )
    stages = set(MessageTemplate.objects.values_list("default_stage", flat=True))
    assert stages == set(STAGES)


@pytest.mark.django_db
def test_seed_demo_plans_the_demo_scenario(settings):
    from scenarios.models import Dispatch

    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    open_request = PaymentRequest.objects.get(reference="DEMO-OPEN")
    assert open_request.scenario_binding.scenario.name == "Standard reminders"
    assert Dispatch.objects.filter(request=open_request, status="planned").count() > 0
