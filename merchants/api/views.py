"""Integrator API for API keys: thin views over merchants services and selectors.

Every secret key is a full key of its merchant in its mode (there are no restricted keys):
it may list, create and revoke the keys of its own mode, never see or touch the other
mode's. A new key takes the mode of the key that creates it, so a test key can never mint
a live one.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from merchants import selectors, services
from merchants.models import ApiKey
from pushpay.api.errors import NotFound
from pushpay.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from pushpay.api.pagination import NewestFirstPagination

from .serializers import ApiKeyCreateSerializer, ApiKeySerializer, CreatedApiKeySerializer

_KEY_EXAMPLE = {
    "id": "ak_3kTz9QwErTyUiOpAsDfGhJ",
    "object": "api_key",
    "name": "Shop backend",
    "mode": "test",
    "livemode": False,
    "prefix": "sk_test_Ab12",
    "created_at": "2026-12-01T09:30:00Z",
    "last_used_at": None,
    "revoked": False,
    "revoked_at": None,
}


def _get_key(request: Request, public_id: str) -> ApiKey:
    api_key = selectors.api_key_get(
        merchant=request.auth.merchant, livemode=request.auth.livemode, public_id=public_id
    )
    if api_key is None:
        raise NotFound(f"No such API key: '{public_id}'.")
    return api_key


class ApiKeyListCreateView(APIView):
    pagination_class = NewestFirstPagination

    @extend_schema(
        operation_id="api_keys_list",
        responses=ApiKeySerializer(many=True),
        parameters=[
            OpenApiParameter("limit", int, description="Page size, at most 100."),
            OpenApiParameter("cursor", str),
        ],
    )
    def get(self, request: Request) -> Response:
        keys = selectors.api_key_list(
            merchant=request.auth.merchant, livemode=request.auth.livemode
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(keys, request, view=self)
        return paginator.get_paginated_response(ApiKeySerializer(page, many=True).data)

    @extend_schema(
        operation_id="api_keys_create",
        request=ApiKeyCreateSerializer,
        responses={201: CreatedApiKeySerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=[
            OpenApiExample(
                "A key for a service", value={"name": "Shop backend"}, request_only=True
            ),
            OpenApiExample(
                "The new key, with its secret shown once",
                value={**_KEY_EXAMPLE, "secret": "sk_test_Ab12" + "x" * 36},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    @idempotent(stored_without=("secret",))
    def post(self, request: Request) -> Response:
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = services.api_key_create(
            merchant=request.auth.merchant,
            name=serializer.validated_data["name"],
            mode=request.auth.mode,
        )
        body = {**CreatedApiKeySerializer(created.api_key).data, "secret": created.secret}
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    @extend_schema(
        operation_id="api_keys_retrieve",
        responses=ApiKeySerializer,
        examples=[OpenApiExample("A key", value=_KEY_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, public_id: str) -> Response:
        return Response(ApiKeySerializer(_get_key(request, public_id)).data)


class ApiKeyRevokeView(APIView):
    @extend_schema(
        operation_id="api_keys_revoke",
        request=None,
        responses=ApiKeySerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        description="Revoke at once: the next call with its secret is a 401 "
        "(api_key_revoked). Revoking a revoked key answers it unchanged. A key cannot "
        "revoke itself (409 cannot_revoke_own_key).",
        examples=[
            OpenApiExample(
                "The revoked key",
                value={
                    **_KEY_EXAMPLE,
                    "revoked": True,
                    "revoked_at": "2026-12-02T08:00:00Z",
                },
                response_only=True,
            )
        ],
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        api_key = services.api_key_revoke(
            api_key=_get_key(request, public_id), revoked_by=request.auth
        )
        return Response(ApiKeySerializer(api_key).data)
