"""The OpenAPI schema's error half, written once for every operation.

Every API error has one shape (``pushpay.api.errors``), so each operation's error responses
are the same few, differing only by which can happen: any call can be malformed (400), come
without a valid key (401), be refused (403) or throttled (429); a path with an id can name
nothing (404); a write can conflict with the object's state or an in-flight
``Idempotency-Key`` (409), send values that make no sense (422), a body too large (413) or not
JSON (415). This postprocessing hook adds them, with examples, to every operation under
``/api/v1/`` that does not already describe that status itself, instead of repeating them on
each view.
"""

from copy import deepcopy

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

API_PREFIX = "/api/v1/"
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})

_DETAIL = {
    "type": "object",
    "properties": {
        "field": {"type": "string", "nullable": True},
        "code": {"type": "string"},
        "message": {"type": "string"},
    },
    "required": ["field", "code", "message"],
}

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every 4xx answer of the API: a machine code to branch on, a message for "
    "people and the offending field (a path such as participants[1].email), if any.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "type": {
                    "type": "string",
                    "enum": [
                        "invalid_request_error",
                        "authentication_error",
                        "permission_error",
                        "not_found_error",
                        "conflict_error",
                        "rate_limit_error",
                        "api_error",
                    ],
                },
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string", "nullable": True},
                "details": {
                    "type": "array",
                    "items": _DETAIL,
                    "description": "Every problem, when several fields are wrong (422).",
                },
            },
            "required": ["type", "code", "message", "field"],
        }
    },
    "required": ["error"],
}


def _example(type_: str, code: str, message: str, field: str | None = None) -> dict:
    return {"value": {"error": {"type": type_, "code": code, "message": message, "field": field}}}


def _with_details(example: dict, details: list[dict]) -> dict:
    example = deepcopy(example)
    example["value"]["error"]["details"] = details
    return example


# status -> (description, {example name: example}, headers)
RESPONSES: dict[str, tuple[str, dict, dict]] = {
    "400": (
        "Malformed request: not JSON, not an object, an unknown field, a bad filter or "
        "Idempotency-Key.",
        {
            "parse_error": _example(
                "invalid_request_error",
                "parse_error",
                "JSON parse error - Expecting value: line 1 column 1 (char 0)",
            ),
            "unknown_field": _example(
                "invalid_request_error", "unknown_field", "Unknown field 'amout'.", "amout"
            ),
            "invalid_filter": _example(
                "invalid_request_error",
                "invalid_filter",
                "created_after: Enter a valid date/time.",
                "created_after",
            ),
        },
        {},
    ),
    "401": (
        "No API key, a malformed Authorization header, an unknown or a revoked key.",
        {
            "authentication_required": _example(
                "authentication_error",
                "authentication_required",
                "Authentication credentials were not provided.",
            ),
            "invalid_api_key": _example(
                "authentication_error", "invalid_api_key", "The API key is not valid."
            ),
            "api_key_revoked": _example(
                "authentication_error", "api_key_revoked", "This API key has been revoked."
            ),
        },
        {
            "WWW-Authenticate": {
                "schema": {"type": "string"},
                "description": 'Bearer realm="api"',
            }
        },
    ),
    "403": (
        "The key is valid but may not do this.",
        {
            "permission_denied": _example(
                "permission_error",
                "permission_denied",
                "You do not have permission to perform this action.",
            )
        },
        {},
    ),
    "404": (
        "Nothing with this id for this merchant in this mode (another merchant's object, or "
        "the other mode's, is a 404 too).",
        {"not_found": _example("not_found_error", "not_found", "No such payment request: 'pr_x'.")},
        {},
    ),
    "409": (
        "The object's state forbids this, or a call with the same Idempotency-Key is still "
        "running.",
        {
            "state_conflict": _example(
                "conflict_error", "request_not_open", "This request is paid: it cannot change."
            ),
            "idempotency_key_in_use": _example(
                "conflict_error",
                "idempotency_key_in_use",
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                "Idempotency-Key",
            ),
        },
        {},
    ),
    "413": (
        "The body is larger than the server accepts.",
        {
            "request_too_large": _example(
                "invalid_request_error",
                "request_too_large",
                "The request body is larger than this server accepts.",
            )
        },
        {},
    ),
    "415": (
        "The body is not application/json.",
        {
            "unsupported_media_type": _example(
                "invalid_request_error",
                "unsupported_media_type",
                'Unsupported media type "text/plain" in request.',
            )
        },
        {},
    ),
    "422": (
        "The values are refused; ``details`` lists every problem.",
        {
            "invalid": _with_details(
                _example(
                    "invalid_request_error",
                    "unknown_currency",
                    "Unknown currency 'EUX'.",
                    "currency",
                ),
                [
                    {
                        "field": "currency",
                        "code": "unknown_currency",
                        "message": "Unknown currency 'EUX'.",
                    },
                    {
                        "field": "participants[1].email",
                        "code": "invalid_email",
                        "message": "Enter a valid email address.",
                    },
                ],
            ),
            "idempotency_key_reused": _example(
                "invalid_request_error",
                "idempotency_key_reused",
                "This Idempotency-Key was already used with a different request; use a new "
                "key for a new request.",
                "Idempotency-Key",
            ),
        },
        {},
    ),
    "429": (
        "Too many calls with this key; retry after the number of seconds in Retry-After.",
        {
            "rate_limited": _example(
                "rate_limit_error",
                "rate_limited",
                "Request was throttled. Expected available in 12 seconds.",
            )
        },
        {
            "Retry-After": {
                "schema": {"type": "integer", "minimum": 0},
                "required": True,
                "description": "Seconds to wait before the next call.",
            }
        },
    ),
}


def statuses_for(path: str, method: str, operation: dict) -> list[str]:
    """The error statuses an operation can answer, from what it takes."""
    statuses = ["400", "401", "403", "429"]
    if "{" in path:
        statuses.append("404")
    if method in WRITE_METHODS:
        statuses += ["409", "422"]
    elif any(p.get("in") == "query" for p in operation.get("parameters", [])):
        statuses.append("422")  # a filter value refused (an unknown event type)
    if "requestBody" in operation or method in WRITE_METHODS:
        statuses += ["413", "415"]
    return sorted(statuses)


def _dedupe_security(operation: dict) -> None:
    security = operation.get("security")
    if security:
        unique = []
        for requirement in security:
            if requirement not in unique:
                unique.append(requirement)
        operation["security"] = unique


def add_error_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    shared = components.setdefault("responses", {})
    for status, (description, examples, headers) in RESPONSES.items():
        response = {
            "description": description,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"},
                    "examples": examples,
                }
            },
        }
        if headers:
            response["headers"] = headers
        shared[f"Error{status}"] = response
    for path, item in result.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _dedupe_security(operation)
            responses = operation["responses"]
            for status in statuses_for(path, method, operation):
                # A view that describes a status itself (its own codes) keeps its text, and
                # the shared shape is the schema of it.
                if status in responses:
                    content = responses[status].setdefault("content", {})
                    content.setdefault(
                        "application/json", {"schema": {"$ref": "#/components/schemas/Error"}}
                    )
                    continue
                responses[status] = {"$ref": f"#/components/responses/Error{status}"}
    return result


class AutoSchema(SpectacularAutoSchema):
    """Every list of the API is a cursor page (``NewestFirstPagination``: next, previous,
    results). Our list views are plain ``APIView``s that page by hand, which drf-spectacular
    cannot see, so it described them as bare arrays; a view under /api/v1/ that answers a list
    any other way says so with its own ``pagination_class`` (None for a bare array)."""

    def _get_paginator(self):
        if self.path.startswith(API_PREFIX) and not hasattr(self.view, "pagination_class"):
            from .pagination import NewestFirstPagination

            return NewestFirstPagination()
        return super()._get_paginator()
