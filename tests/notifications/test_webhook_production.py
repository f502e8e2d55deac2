"""In production settings (DEBUG off) webhooks never reach inside: private and metadata
addresses are refused at registration, a name resolving to loopback at send time, and the
development switch that allows loopback receivers refuses to start."""

import subprocess
import sys

from tests.core.test_commands import PRODUCTION_ENV

SCRIPT = r"""
import socket
import django
django.setup()
from django.conf import settings
from notifications.channels import TransportError
from notifications.channels.webhook import resolve_target
from notifications.webhooks import webhook_url_checked
from pushpay.errors import InvalidInput

assert settings.DEBUG is False and settings.WEBHOOK_ALLOW_PRIVATE_TARGETS is False
for url in ("https://10.0.0.1/hook", "https://169.254.169.254/latest/meta-data/",
            "http://hooks.example.com/plain"):
    try:
        webhook_url_checked(url)
    except InvalidInput as refusal:
        print("refused", url, refusal.code)
    else:
        print("ACCEPTED", url)
LOOPBACK = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 443))]
socket.getaddrinfo = lambda *a, **k: LOOPBACK
try:
    resolve_target("https://inward.example.com/hook")
except TransportError as refusal:
    print("refused at send", refusal.permanent)
else:
    print("ACCEPTED at send")
"""


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        env={**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "pushpay.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_private_metadata_and_loopback_targets_are_refused_in_production():
    result = _run(["-c", SCRIPT])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "refused https://10.0.0.1/hook private_target" in lines
    assert "refused https://169.254.169.254/latest/meta-data/ private_target" in lines
    assert "refused http://hooks.example.com/plain invalid_url" in lines
    assert "refused at send True" in lines
    assert not any("ACCEPTED" in line for line in lines)


def test_production_refuses_to_start_with_private_targets_allowed():
    result = _run(["manage.py", "check"], WEBHOOK_ALLOW_PRIVATE_TARGETS="true")
    assert result.returncode != 0
    assert "WEBHOOK_ALLOW_PRIVATE_TARGETS is for development only" in result.stderr


def test_make_run_allows_loopback_receivers_for_local_development():
    result = subprocess.run(["make", "-n", "-p", "run"], capture_output=True, text=True, timeout=60)
    # make's database lists the run target's exported variables.
    assert "run: WEBHOOK_ALLOW_PRIVATE_TARGETS = true" in result.stdout.splitlines()
