"""Who is calling: the client address used by the login lockout and the public rate limits."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(address: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((address or "").strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, unless BEHIND_TLS_PROXY says a proxy of ours stands in front.

    Then the proxy's address is REMOTE_ADDR and the client's is the last X-Forwarded-For
    entry, the one our proxy appended: the entries before it are whatever the client sent, so
    trusting the left-most would let anyone pick their address (and dodge a lockout).
    None when there is no valid address (a request built in code, a broken proxy header):
    the lockout stores addresses in an IP column, which PostgreSQL checks.
    """
    remote = _valid(request.META.get("REMOTE_ADDR"))
    if not settings.BEHIND_TLS_PROXY:
        return remote
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    return _valid(hops[-1]) or remote


def login_username(request: HttpRequest, credentials: dict | None = None) -> str:
    """The login as counted by the lockout: logins are stored lower-case, so ``Owner@x`` and
    ``owner@x`` are one account and must share one failure counter."""
    if credentials:
        username = credentials.get("username")
    else:
        username = getattr(request, "POST", {}).get("username")
    return str(username or "").strip().lower()
