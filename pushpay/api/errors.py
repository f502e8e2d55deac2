"""One JSON shape for every API error (ARCHITECTURE.md guarantee 6).

    {"error": {"type": "invalid_request_error", "code": "unknown_currency",
               "message": "…", "field": "currency", "details": [ … every problem … ]}}

``code`` is the machine-readable part integrators branch on; ``field`` is a path such as
``participants[1].email``; ``details`` lists every problem when several fields are wrong.
"""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

from pushpay.errors import DomainError

logger = logging.getLogger(__name__)

# Problems with the shape of the request rather than with its values: 400, not 422.
MALFORMED_CODES = frozenset({"unknown_field", "parse_error", "not_an_object", "invalid_filter"})

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    406: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class ApiError(exceptions.APIException):
    """An error raised on purpose by a view: carries its own status, code and field."""

    def __init__(
        self, message: str, *, code: str, status_code: int = 400, field: str | None = None
    ):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.field = field


class NotFound(ApiError):
    def __init__(self, message: str):
        super().__init__(message, code="not_found", status_code=404)


class Conflict(ApiError):
    def __init__(self, message: str, *, code: str, field: str | None = None):
        super().__init__(message, code=code, status_code=409, field=field)


def error_body(status_code: int, code: str, message: str, field: str | None = None, details=None):
    body = {
        "type": _TYPES.get(status_code, "api_error"),
        "code": code,
        "message": message,
        "field": field,
    }
    if details:
        body["details"] = details
    return {"error": body}


# The CentralPay-compatible API (requests_app.centralpay) lives under this prefix; the door
# middleware refuses its oversized bodies in that API's shape too.
COMPAT_PREFIX = "/v2/rest/"


def compat_error_body(
    status_code: int, code: str, message: str, field: str | None = None, details=None
) -> dict:
    """``error_body`` plus the flat ``errors`` list CentralPay clients read: every problem
    as ``{code, field, message}``, the first one repeated in ``error``."""
    body = error_body(status_code, code, message, field, details)
    body["errors"] = [
        {"code": item["code"], "field": item["field"], "message": item["message"]}
        for item in (details or [{"code": code, "field": field, "message": message}])
    ]
    return body


def _join(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key == api_settings.NON_FIELD_ERRORS_KEY:
        return path
    return f"{path}.{key}" if path else str(key)


def flatten_validation_detail(detail, path: str = "") -> list[dict]:
    """Turn DRF's nested error detail into a flat list of {field, code, message}."""
    if isinstance(detail, dict):
        items = []
        for key, value in detail.items():
            items.extend(flatten_validation_detail(value, _join(path, key)))
        return items
    if isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail) for item in detail):
            return [_problem(path, item) for item in detail]
        items = []
        for index, value in enumerate(detail):
            if value:  # DRF puts {} for list items that are fine
                items.extend(flatten_validation_detail(value, _join(path, index)))
        return items
    return [_problem(path, detail)]


def _problem(path: str, item) -> dict:
    code = getattr(item, "code", None) or "invalid"
    return {"field": path or None, "code": code, "message": str(item)}


def exception_handler(exc, context) -> Response | None:
    if isinstance(exc, Http404):
        exc = NotFound("The resource does not exist.")
    elif isinstance(exc, RequestDataTooBig):
        exc = ApiError(
            "The request body is larger than this server accepts.",
            code="request_too_large",
            status_code=413,
        )
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    headers = {}
    if isinstance(exc, exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, DomainError):
        body = error_body(exc.http_status, exc.code, exc.message, exc.field)
        return Response(body, status=exc.http_status)

    if isinstance(exc, ApiError):
        body = error_body(exc.status_code, exc.code, str(exc.detail), exc.field)
        return Response(body, status=exc.status_code, headers=headers)

    if isinstance(exc, exceptions.ValidationError):
        problems = flatten_validation_detail(exc.detail) or [
            {"field": None, "code": "invalid", "message": "The request is not valid."}
        ]
        first = problems[0]
        status_code = 400 if first["code"] in MALFORMED_CODES else 422
        body = error_body(status_code, first["code"], first["message"], first["field"], problems)
        return Response(body, status=status_code, headers=headers)

    if isinstance(exc, exceptions.APIException):
        codes = {
            exceptions.NotAuthenticated: "authentication_required",
            exceptions.ParseError: "parse_error",
            exceptions.Throttled: "rate_limited",
            exceptions.MethodNotAllowed: "method_not_allowed",
            exceptions.UnsupportedMediaType: "unsupported_media_type",
            exceptions.NotAcceptable: "not_acceptable",
            exceptions.PermissionDenied: "permission_denied",
            exceptions.NotFound: "not_found",
        }
        code = next(
            (c for cls, c in codes.items() if isinstance(exc, cls)),
            exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code,
        )
        body = error_body(exc.status_code, code, str(exc.detail))
        return Response(body, status=exc.status_code, headers=headers)

    logger.exception("Unhandled API error", exc_info=exc)
    body = error_body(500, "internal_error", "Something went wrong on our side.")
    return Response(body, status=status.HTTP_500_INTERNAL_SERVER_ERROR)


def api_not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    return JsonResponse(error_body(404, "not_found", "No such API endpoint."), status=404)
