"""Two things every back-office request goes through once the user is known.

- ``InactivityTimeoutMiddleware``: a session left without a request for
  SESSION_INACTIVITY_TIMEOUT minutes is logged out (a screen left open in an office).
- ``TwoFactorMiddleware``: after the password, an operator with an authenticator is only
  half logged in until the code step (``/accounts/two-factor/``) succeeds; until then no
  back-office, admin or account page answers, whatever the URL typed.

The API is not concerned: it authenticates by key only, never by session.
"""

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django_otp import user_has_device

LAST_ACTIVITY_SESSION_KEY = "last_activity"
PENDING_SESSION_KEY = "two_factor_pending"
# Everything a half-logged-in session must not reach. /accounts/login/ and /logout/ and the
# code step itself stay open.
GUARDED_PREFIXES = ("/app/", "/admin/", "/accounts/")
OPEN_PATHS = ("/accounts/login/", "/accounts/logout/", "/accounts/two-factor/")


@receiver(user_logged_in, dispatch_uid="merchants.two_factor_on_login")
def _on_login(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """Whatever logged the user in (the login page, the admin's, a test client), a user with
    a confirmed device starts half logged in; the session's clock starts now."""
    if request is None or not hasattr(request, "session"):
        return
    request.session[LAST_ACTIVITY_SESSION_KEY] = int(time.time())
    if user_has_device(user, confirmed=True) and getattr(user, "otp_device", None) is None:
        request.session[PENDING_SESSION_KEY] = True
    else:
        request.session.pop(PENDING_SESSION_KEY, None)


def two_factor_pending(request: HttpRequest) -> bool:
    return bool(request.session.get(PENDING_SESSION_KEY)) and request.user.is_authenticated


class InactivityTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The auth key, not request.user: a payer's request costs no user query.
        session = request.session
        if "_auth_user_id" in session:
            now = int(time.time())
            last = session.get(LAST_ACTIVITY_SESSION_KEY)
            timeout = settings.SESSION_INACTIVITY_TIMEOUT * 60
            if isinstance(last, int) and not isinstance(last, bool) and now - last > timeout:
                logout(request)
                messages.info(
                    request,
                    _("You were logged out after %(minutes)d minutes without activity.")
                    % {"minutes": settings.SESSION_INACTIVITY_TIMEOUT},
                )
            elif (
                not isinstance(last, int)
                or isinstance(last, bool)
                or now - last >= settings.SESSION_ACTIVITY_WRITE_SECONDS
            ):
                # At most one session write a minute, not one per request.
                session[LAST_ACTIVITY_SESSION_KEY] = now
        return self.get_response(request)


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.two_factor_pending = False
        if request.session.get(PENDING_SESSION_KEY):
            if not request.user.is_authenticated or request.user.is_verified():
                request.session.pop(PENDING_SESSION_KEY, None)
            else:
                request.two_factor_pending = True
                path = request.path
                if path.startswith(GUARDED_PREFIXES) and not path.startswith(OPEN_PATHS):
                    return redirect_to_verification(request)
        return self.get_response(request)


def redirect_to_verification(request: HttpRequest) -> HttpResponse:
    target = reverse("two_factor_verify")
    if request.method == "GET":
        target += "?" + urlencode({"next": request.get_full_path()})
    return redirect(target)
