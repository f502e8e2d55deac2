"""``Idempotency-Key`` on POST: the same key and body replays the first response.

The record is claimed in the same transaction as the work it guards, so either both the
object and its recorded response commit, or neither does and a retry starts afresh. Server
errors are never recorded: a retry after a 500 runs again.
"""

import hashlib
import json
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

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


def _request_data(request: Request) -> Any:
    return request.data


def _fingerprint(request: Request, body: Any) -> str:
    payload = {"method": request.method, "path": request.path, "body": body}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _validated_key(raw: str, header: str = HEADER) -> str:
    if not raw or len(raw) > MAX_KEY_LENGTH or not raw.isascii() or not raw.isprintable():
        raise ApiError(
            f"{header} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            code="invalid_idempotency_key",
            field=header,
        )
    return raw


def _presented_key(request: Request, headers: Sequence[str]) -> str | None:
    """The key from whichever of ``headers`` the client sent; two different keys at once
    are refused rather than one of them silently preferred."""
    found = [(name, request.headers[name]) for name in headers if name in request.headers]
    if not found:
        return None
    keys = {_validated_key(raw, name) for name, raw in found}
    if len(keys) > 1:
        names = " and ".join(name for name, _ in found)
        raise ApiError(
            f"{names} carry different keys; send one key.",
            code="conflicting_idempotency_keys",
            field=found[0][0],
        )
    return keys.pop()


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


def idempotent(
    method: Callable | None = None,
    *,
    headers: Sequence[str] = (HEADER,),
    body: Callable[[Request], Any] = _request_data,
    stored_without: tuple[str, ...] = (),
) -> Callable:
    """Decorate an APIView handler (``post``) to honour the ``Idempotency-Key`` header.

    ``headers`` are the names a key may come under (a compatibility API also reads its
    provider's spelling); ``body`` is what the fingerprint compares, for views that read
    their body themselves instead of through ``request.data``. ``stored_without`` names
    top-level response fields that must never be written to the database (an API key's
    secret): the record keeps them as null, so a replay answers the same object without them.
    """
    if method is None:
        return lambda handler: idempotent(
            handler, headers=headers, body=body, stored_without=stored_without
        )

    @wraps(method)
    def wrapper(view, request: Request, *args, **kwargs) -> Response:
        key = _presented_key(request, headers)
        if key is None:
            return method(view, request, *args, **kwargs)
        fingerprint = _fingerprint(request, body(request))
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
                stored = json.loads(JSONRenderer().render(response.data) or b"null")
                if isinstance(stored, dict):
                    stored.update({name: None for name in stored_without if name in stored})
                merchant_services.idempotency_record_response(
                    record=record, status=response.status_code, body=stored
                )
                return response
        except _ServerError as failure:
            return failure.response

    return wrapper
