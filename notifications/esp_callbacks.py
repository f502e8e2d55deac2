"""Delivery reports from the email provider (ESP), received through django-anymail.

anymail mounts a tracking route for every ESP it knows and lets each one run unauthenticated
when no secret is set (it only warns). A stranger could then mark any sent email as bounced.
Here only the configured ESP's tracking route exists, it refuses every call until a secret
is configured (``ANYMAIL["WEBHOOK_SECRET"]`` for basic auth, or the ESP's signing key where
anymail verifies one), and a body anymail cannot read is a 400, never a 500.
"""

import logging
import warnings

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
    AnymailWebhookValidationFailure,
)
from anymail.signals import EventType
from anymail.utils import get_anymail_setting, get_request_basic_auth
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)

_BACKEND_PREFIX = "anymail.backends."


def configured_esp() -> str | None:
    """The ESP named by EMAIL_BACKEND (``anymail.backends.mailgun.EmailBackend`` -> mailgun),
    or None when email does not go through anymail."""
    backend = settings.EMAIL_BACKEND or ""
    if not backend.startswith(_BACKEND_PREFIX):
        return None
    esp = backend[len(_BACKEND_PREFIX) :].split(".", 1)[0]
    return esp if esp and esp != "test" else None


def _tracking_view_class(esp: str):
    from anymail import urls as anymail_urls

    names = {f"{esp}_tracking_webhook"} | ({"mandrill_webhook"} if esp == "mandrill" else set())
    for pattern in anymail_urls.urlpatterns:
        if pattern.name in names:
            return pattern.callback.view_class
    return None


class _Unreadable(Exception):
    """The body could not be parsed into events."""


def _understood(event) -> bool:
    """anymail turns almost any JSON object into an "unknown" event; one that names neither a
    message nor a known event type, or whose message id is not text, was not an event."""
    if event.message_id is not None and not isinstance(event.message_id, str):
        return False
    return bool(event.message_id) or event.event_type != EventType.UNKNOWN


def _guarded(view_class):
    """The anymail view, with parsing failures told apart from refusals and from our own
    receivers' failures (those stay 500s, so the ESP retries later)."""

    class Guarded(view_class):
        def run_validators(self, request):
            try:
                super().run_validators(request)
            except (AnymailWebhookValidationFailure, AnymailConfigurationError):
                raise
            except Exception as err:  # a validator choking on the body
                raise _Unreadable from err

        def parse_events(self, request):
            try:
                events = list(super().parse_events(request))
            except Exception as err:
                raise _Unreadable from err
            if not all(_understood(event) for event in events):
                raise _Unreadable
            return events

    Guarded.__name__ = view_class.__name__
    return Guarded


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _basic_auth_secrets() -> list[str]:
    secrets = get_anymail_setting("webhook_secret", default=[])
    if isinstance(secrets, str):
        secrets = [secrets] if secrets else []
    return [secret for secret in secrets if secret]


def _instantiate(view_class):
    """The view as anymail builds it, or None when anymail would accept calls from anyone
    (it warns instead of refusing) or lacks the ESP's signing key."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            view = view_class()
        except AnymailConfigurationError:
            return None
    if any(issubclass(w.category, AnymailInsecureWebhookWarning) for w in caught):
        return None
    return view


@csrf_exempt
def esp_tracking(request: HttpRequest, esp: str) -> HttpResponse:
    if esp != configured_esp():
        raise Http404("No tracking route for this email provider.")
    view_class = _tracking_view_class(esp)
    if view_class is None:
        raise Http404("This email provider has no tracking webhook.")
    if request.method not in ("POST", "HEAD", "OPTIONS"):
        return _text("Only POST is accepted.", 405)
    guarded = _guarded(view_class)
    if _instantiate(guarded) is None:
        logger.warning("Refused a %s callback: no webhook secret or signing key is set.", esp)
        return _text(
            "Email provider callbacks are refused until ANYMAIL WEBHOOK_SECRET or the "
            "provider's webhook signing key is configured.",
            403,
        )
    secrets = _basic_auth_secrets()
    if secrets and request.method == "POST":
        given = get_request_basic_auth(request)
        if given is None:
            response = _text("Basic authentication is required.", 401)
            response["WWW-Authenticate"] = 'Basic realm="Anymail WEBHOOK_SECRET"'
            return response
        if not any(constant_time_compare(given, secret) for secret in secrets):
            return _text("Wrong credentials.", 403)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AnymailInsecureWebhookWarning)
            return guarded.as_view()(request)
    except AnymailWebhookValidationFailure:
        # Also when the signature fields are missing: unauthenticated before unreadable.
        return _text("The callback's signature is missing or wrong.", 403)
    except AnymailConfigurationError:
        return _text("The provider's webhook signing key is not configured.", 403)
    except _Unreadable:
        return _text("The body could not be read.", 400)
