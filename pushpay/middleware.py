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
