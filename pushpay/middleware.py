"""Refuse, at the door, input that no view can store or afford to read.

PostgreSQL cannot store a NUL in text, so one in a URL, a form field or a JSON string would
otherwise surface as a database error (a 500) deep inside a query; JSON bodies are checked
by the API's parser, everything else here. A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE is
a 413 before anyone reads it (Django would raise RequestDataTooBig from whichever code
touched ``request.POST`` first: a 400 from the CSRF check, a 500 inside DRF).
"""

from collections.abc import Callable
from functools import lru_cache
from urllib.parse import unquote

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from rest_framework.views import APIView

from pushpay.api.errors import COMPAT_PREFIX, compat_error_body, error_body

MESSAGE = "The request contains a NUL character, which no field accepts."
TOO_LARGE = "The request body is larger than this server accepts."
UNREADABLE = "The form data in the request cannot be read."
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _refuse(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(status, code, message), status=status)
    if request.path.startswith(COMPAT_PREFIX):
        return JsonResponse(compat_error_body(status, code, message), status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _has_nul(request: HttpRequest) -> bool:
    for name, values in request.POST.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return True
    return any("\x00" in (upload.name or "") for upload in request.FILES.values())


class RejectNulCharactersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw_query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "\x00" in unquote(raw_query):
            return _refuse(request, 400, "invalid_characters", MESSAGE)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        # Multipart file data does not count towards the limit (Django checks the fields).
        multipart = request.content_type == "multipart/form-data"
        if limit is not None and not multipart and _content_length(request) > limit:
            return _refuse(request, 413, "request_too_large", TOO_LARGE)
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        """Form fields, once the view is known (and before the CSRF check reads them).

        DRF views are left alone: they parse their own bodies (JSON only, so a form is a
        415), and a multipart stream read here would be gone by the time DRF looks.
        """
        if request.method != "POST" or request.content_type not in FORM_TYPES:
            return None
        if isinstance(getattr(view_func, "cls", None), type) and issubclass(view_func.cls, APIView):
            return None
        try:
            if _has_nul(request):
                return _refuse(request, 400, "invalid_characters", MESSAGE)
        except RequestDataTooBig:
            return _refuse(request, 413, "request_too_large", TOO_LARGE)
        except (MultiPartParserError, UnreadablePostError, SuspiciousOperation):
            return _refuse(request, 400, "unreadable_form", UNREADABLE)
        return None


_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    # Bootstrap pages carry a few style attributes (brand colour, progress width); styles
    # only, scripts never run inline.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    # The template preview and the outbox show emails in sandboxed srcdoc frames.
    "frame-src 'self'",
    "worker-src 'self' blob:",
    "frame-ancestors 'none'",
    # form-action is added per request: it names the card provider's hosted pages.
    "object-src 'none'",
    "base-uri 'self'",
)


@lru_cache(maxsize=4)
def content_security_policy(checkout_origins: tuple[str, ...] = ()) -> str:
    """The policy; ``checkout_origins`` join 'self' in form-action, because the pay form's
    answer is a redirect to the provider's hosted card page (Stripe Checkout), and browsers
    apply form-action to the redirects that follow a form submission."""
    form_action = " ".join(["'self'", *checkout_origins])
    return "; ".join([*_DIRECTIVES, f"form-action {form_action}"])


def _checkout_origins() -> tuple[str, ...]:
    # Stripe Checkout for cards, PayPal's approval page for PayPal.
    return (*settings.STRIPE_CHECKOUT_ORIGINS, *settings.PAYPAL_CHECKOUT_ORIGINS)


CONTENT_SECURITY_POLICY = content_security_policy(_checkout_origins())

# A leaked payer link must not land in a search index.
NOINDEX_PREFIXES = ("/pay/", "/progress/", "/sandbox/")


class SecurityHeadersMiddleware:
    """A Content-Security-Policy on every response, and X-Robots-Tag on the public pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault(
            "Content-Security-Policy",
            content_security_policy(_checkout_origins()),
        )
        if request.path.startswith(NOINDEX_PREFIXES):
            response["X-Robots-Tag"] = "noindex, nofollow"
        return response
