"""Integrator API for webhook endpoints and their delivery log: thin views over
``notifications.webhooks`` and ``notifications.selectors``.

Endpoints and deliveries are bound to the key's mode: a test key never sees a live endpoint
(another mode's object, like another merchant's, is a 404).
"""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, webhooks
from notifications.models import Dispatch, WebhookEndpoint
from pushpay.api.errors import ApiError, NotFound
from pushpay.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from pushpay.api.pagination import NewestFirstPagination
from requests_app.events import by_integrator_name

from .webhook_serializers import (
    DELIVERY_STATUS,
    DELIVERY_STATUSES,
    WebhookDeliveryDetailSerializer,
    WebhookDeliveryPageSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointPageSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
    WebhookEndpointWithSecretSerializer,
    WebhookErrorSerializer,
    WebhookReplayResultSerializer,
    WebhookReplaySinceSerializer,
)

PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description="Page size, at most 100."),
    OpenApiParameter("cursor", str),
]


def _error(description: str, code: str, message: str, field: str | None = None, type_=None):
    return OpenApiResponse(
        WebhookErrorSerializer,
        description=description,
        examples=[
            OpenApiExample(
                code,
                value={
                    "error": {
                        "type": type_ or "invalid_request_error",
                        "code": code,
                        "message": message,
                        "field": field,
                    }
                },
            )
        ],
    )


MALFORMED = _error("Malformed body", "unknown_field", "Unknown field 'colour'.", "colour")
INVALID = _error(
    "Invalid values",
    "unknown_event_type",
    "Unknown event type 'payment.paid'; see GET /api/v1/events for the names, or use *.",
    "events[0]",
)
NOT_FOUND = _error(
    "Not found (also another merchant's or the other mode's)",
    "not_found",
    "No such webhook endpoint: 'we_…'.",
    type_="not_found_error",
)
DISABLED = _error(
    "The endpoint is disabled, or a delivery of this event is on its way",
    "endpoint_disabled",
    "This endpoint is disabled; enable it before replaying its deliveries.",
    type_="conflict_error",
)
# What the Idempotency-Key header can earn any POST: a malformed key, or one reused.
BAD_KEY = _error(
    "Malformed Idempotency-Key", "invalid_idempotency_key", "Idempotency-Key is too long."
)
KEY_REUSED = _error(
    "Idempotency-Key reused with another body",
    "idempotency_key_reused",
    "This Idempotency-Key was used with another request.",
)
KEY_IN_USE = _error(
    "The same Idempotency-Key is being processed",
    "idempotency_key_in_use",
    "A request with this Idempotency-Key is still being processed.",
    type_="conflict_error",
)
IN_USE = _error(
    "A scenario step sends to this endpoint",
    "endpoint_in_use",
    "A scenario step sends to this endpoint; change the step first, or disable the endpoint "
    "instead.",
    type_="conflict_error",
)


def _endpoint(request: Request, public_id: str) -> WebhookEndpoint:
    endpoint = selectors.webhook_endpoint_get(
        merchant=request.auth.merchant, livemode=request.auth.livemode, public_id=public_id
    )
    if endpoint is None:
        raise NotFound(f"No such webhook endpoint: '{public_id}'.")
    return endpoint


def _delivery(request: Request, public_id: str) -> Dispatch:
    delivery = selectors.webhook_delivery_get(
        merchant=request.auth.merchant, livemode=request.auth.livemode, public_id=public_id
    )
    if delivery is None:
        raise NotFound(f"No such webhook delivery: '{public_id}'.")
    return delivery


class WebhookEndpointListCreateView(APIView):
    @extend_schema(
        operation_id="webhook_endpoints_list",
        responses={200: WebhookEndpointPageSerializer, 404: NOT_FOUND},
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request) -> Response:
        queryset = selectors.webhook_endpoint_list(
            merchant=request.auth.merchant, livemode=request.auth.livemode
        )
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)

    @extend_schema(
        operation_id="webhook_endpoints_create",
        request=WebhookEndpointCreateSerializer,
        responses={
            201: WebhookEndpointWithSecretSerializer,
            400: MALFORMED,
            409: KEY_IN_USE,
            422: INVALID,
        },
        parameters=[IDEMPOTENCY_PARAMETER],
        description="Register an endpoint for the given event types (required; ['*'] for "
        "all) in the key's mode. The answer is the only one that shows its secret.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = WebhookEndpointCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = webhooks.webhook_endpoint_create(
            merchant=request.auth.merchant,
            livemode=request.auth.livemode,
            **serializer.validated_data,
        )
        return Response(
            WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )


class WebhookEndpointDetailView(APIView):
    @extend_schema(
        operation_id="webhook_endpoints_retrieve",
        responses={200: WebhookEndpointSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, public_id: str) -> Response:
        return Response(WebhookEndpointSerializer(_endpoint(request, public_id)).data)

    @extend_schema(
        operation_id="webhook_endpoints_update",
        request=WebhookEndpointUpdateSerializer,
        responses={200: WebhookEndpointSerializer, 400: MALFORMED, 404: NOT_FOUND, 422: INVALID},
        description="Change the URL, event types, description, or enable/disable. Enabling "
        "an endpoint that was disabled does not resend what it missed: replay it.",
    )
    def patch(self, request: Request, public_id: str) -> Response:
        endpoint = _endpoint(request, public_id)
        serializer = WebhookEndpointUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = webhooks.webhook_endpoint_update(endpoint=endpoint, **serializer.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhook_endpoints_destroy",
        request=None,
        responses={204: None, 404: NOT_FOUND, 409: IN_USE},
        description="Delete the endpoint and its delivery log.",
    )
    def delete(self, request: Request, public_id: str) -> Response:
        webhooks.webhook_endpoint_delete(endpoint=_endpoint(request, public_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointRotateSecretView(APIView):
    @extend_schema(
        operation_id="webhook_endpoints_rotate_secret",
        request=None,
        responses={
            200: WebhookEndpointWithSecretSerializer,
            400: BAD_KEY,
            404: NOT_FOUND,
            409: KEY_IN_USE,
            422: KEY_REUSED,
        },
        parameters=[IDEMPOTENCY_PARAMETER],
        description="A new secret, shown once. The previous one keeps signing until "
        "previous_secret_expires_at: meanwhile webhook-signature carries both signatures.",
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        endpoint = webhooks.webhook_endpoint_rotate_secret(endpoint=_endpoint(request, public_id))
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)


class WebhookEndpointReplayView(APIView):
    @extend_schema(
        operation_id="webhook_endpoints_replay",
        request=WebhookReplaySinceSerializer,
        responses={
            200: WebhookReplayResultSerializer,
            400: MALFORMED,
            404: NOT_FOUND,
            409: DISABLED,
            422: _error("Invalid values", "invalid", "Datetime has wrong format.", "since"),
        },
        parameters=[IDEMPOTENCY_PARAMETER],
        description="Replay every failed delivery to this endpoint created since the given "
        f"time, once per event, at most {webhooks.REPLAY_MAX} per call. Events already "
        "delivered or still on their way are skipped, so calling it again is harmless.",
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        endpoint = _endpoint(request, public_id)
        serializer = WebhookReplaySinceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = webhooks.webhook_endpoint_replay_failed(
            endpoint=endpoint, since=serializer.validated_data["since"]
        )
        return Response(WebhookReplayResultSerializer(result).data)


_STATUS_FILTER = {
    public: [state for state, shown in DELIVERY_STATUS.items() if shown == public]
    for public in DELIVERY_STATUSES
}


class WebhookDeliveryListView(APIView):
    @extend_schema(
        operation_id="webhook_deliveries_list",
        responses={
            200: WebhookDeliveryPageSerializer,
            400: _error("Bad filter", "invalid_filter", "Unknown status 'done'.", "status"),
            404: NOT_FOUND,
            422: _error(
                "Unknown event type", "unknown_event_type", "Unknown event type 'x'.", "type"
            ),
        },
        parameters=[
            OpenApiParameter("endpoint", str, description="we_… (the key's mode)."),
            OpenApiParameter("status", str, many=True, enum=list(DELIVERY_STATUSES)),
            OpenApiParameter(
                "type",
                str,
                many=True,
                enum=sorted(by_integrator_name()),
                description="Integrator name of the event type; repeat for several.",
            ),
            *PAGE_PARAMETERS,
        ],
        description="Deliveries to subscribed endpoints, newest first.",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        endpoint = None
        if params.get("endpoint"):
            endpoint = _endpoint(request, params["endpoint"])
        statuses: list[str] = []
        for value in params.getlist("status"):
            if value not in _STATUS_FILTER:
                raise ApiError(
                    f"Unknown status {value!r}; use {', '.join(DELIVERY_STATUSES)}.",
                    code="invalid_filter",
                    field="status",
                )
            statuses += _STATUS_FILTER[value]
        types = params.getlist("type")
        known = by_integrator_name()
        for value in types:
            if value not in known:
                raise ApiError(
                    f"Unknown event type {value!r}.",
                    code="unknown_event_type",
                    status_code=422,
                    field="type",
                )
        queryset = selectors.webhook_delivery_list(
            merchant=request.auth.merchant,
            livemode=request.auth.livemode,
            endpoint=endpoint,
            statuses=statuses or None,
            event_types=types or None,
        )
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class WebhookDeliveryDetailView(APIView):
    @extend_schema(
        operation_id="webhook_deliveries_retrieve",
        responses={200: WebhookDeliveryDetailSerializer, 404: NOT_FOUND},
        description="One delivery with every attempt (status code, duration, the start of "
        "the answer, the error).",
    )
    def get(self, request: Request, public_id: str) -> Response:
        return Response(WebhookDeliveryDetailSerializer(_delivery(request, public_id)).data)


class WebhookDeliveryReplayView(APIView):
    @extend_schema(
        operation_id="webhook_deliveries_replay",
        request=None,
        responses={
            201: WebhookDeliveryDetailSerializer,
            400: BAD_KEY,
            404: NOT_FOUND,
            409: DISABLED,
            422: KEY_REUSED,
        },
        parameters=[IDEMPOTENCY_PARAMETER],
        description="Send the event to the endpoint again, as a new delivery with the same "
        "webhook-id (receivers that already have it drop it). Refused (409) while the "
        "endpoint is disabled (endpoint_disabled), while a delivery of the same event is on "
        "its way (delivery_pending), or once the event is past retention (event_expired).",
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        copy = webhooks.webhook_delivery_replay(delivery=_delivery(request, public_id))
        return Response(
            WebhookDeliveryDetailSerializer(_delivery(request, copy.public_id)).data,
            status=status.HTTP_201_CREATED,
        )
