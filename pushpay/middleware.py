"""Refuse NUL characters at the door.

PostgreSQL cannot store a NUL in text, so one in a URL or a JSON string would otherwise
surface as a database error (a 500) deep inside a query. A clear 400 here is the contract.
"""

from collections.abc import Callable
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from pushpay.api.errors import error_body

MESSAGE = "The request contains a NUL character, which no field accepts."


class RejectNulCharactersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw_query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "\x00" in unquote(raw_query):
            if request.path.startswith("/api/"):
                body = error_body(400, "invalid_characters", MESSAGE)
                return JsonResponse(body, status=400)
            return HttpResponseBadRequest(MESSAGE)
        return self.get_response(request)


CONTENT_SECURITY_POLICY = "; ".join(
    [
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
        "form-action 'self'",
        "object-src 'none'",
        "base-uri 'self'",
    ]
)

# A leaked payer link must not land in a search index.
NOINDEX_PREFIXES = ("/pay/", "/progress/", "/sandbox/")


class SecurityHeadersMiddleware:
    """A Content-Security-Policy on every response, and X-Robots-Tag on the public pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if request.path.startswith(NOINDEX_PREFIXES):
            response["X-Robots-Tag"] = "noindex, nofollow"
        return response
