"""``Idempotency-Key`` on POST: the same key and body replays the first response.

The record is claimed in the same transaction as the work it guards, so either both the
object and its recorded response commit, or neither does and a retry starts afresh. Server
errors are never recorded: a retry after a 500 runs again.
"""

import hashlib
import json
from collections.abc import Callable
from functools import wraps

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from merchants import selectors as merchant_selectors
from merchants import services as merchant_services

from .errors import ApiError

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

# For extend_schema(parameters=[…]) on every idempotent POST.
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Retries with the same key and body replay the first response (kept 24 h).",
)


class _ServerError(Exception):
    def __init__(self, response: Response):
        self.response = response


def _fingerprint(request: Request) -> str:
    payload = {"method": request.method, "path": request.path, "body": request.data}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _validated_key(raw: str) -> str:
    if not raw or len(raw) > MAX_KEY_LENGTH or not raw.isascii() or not raw.isprintable():
        raise ApiError(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            code="invalid_idempotency_key",
            field=HEADER,
        )
    return raw


def _replay(request: Request, key: str, fingerprint: str) -> Response:
    record = merchant_selectors.idempotency_record_get(
        merchant=request.auth.merchant, livemode=request.auth.livemode, key=key
    )
    if record is None or record.response_status is None:
        raise ApiError(
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            code="idempotency_key_in_use",
            status_code=409,
            field=HEADER,
        )
    if record.request_fingerprint != fingerprint:
        raise ApiError(
            "This Idempotency-Key was already used with a different request; "
            "use a new key for a new request.",
            code="idempotency_key_reused",
            status_code=422,
            field=HEADER,
        )
    return Response(
        record.response_body,
        status=record.response_status,
        headers={"Idempotent-Replayed": "true"},
    )


def idempotent(method: Callable | None = None, *, stored_without: tuple[str, ...] = ()):
    """Decorate an APIView handler (``post``) to honour the ``Idempotency-Key`` header.

    ``stored_without`` names top-level response fields that must never be written to the
    database (an API key's secret): the record keeps them as null, so a replay answers the
    same object without them.
    """
    if method is None:
        return lambda inner: idempotent(inner, stored_without=stored_without)

    @wraps(method)
    def wrapper(view, request: Request, *args, **kwargs) -> Response:
        raw = request.headers.get(HEADER)
        if raw is None:
            return method(view, request, *args, **kwargs)
        key = _validated_key(raw)
        fingerprint = _fingerprint(request)
        try:
            with transaction.atomic():
                record = merchant_services.idempotency_claim(
                    merchant=request.auth.merchant,
                    livemode=request.auth.livemode,
                    key=key,
                    fingerprint=fingerprint,
                )
                if record is None:
                    return _replay(request, key, fingerprint)
                try:
                    with transaction.atomic():
                        response = method(view, request, *args, **kwargs)
                except Exception as exc:
                    response = view.handle_exception(exc)
                if response.status_code >= 500:
                    raise _ServerError(response)
                body = json.loads(JSONRenderer().render(response.data) or b"null")
                if isinstance(body, dict):
                    body.update({name: None for name in stored_without if name in body})
                merchant_services.idempotency_record_response(
                    record=record, status=response.status_code, body=body
                )
                return response
        except _ServerError as failure:
            return failure.response

    return wrapper
