"""Integrator API for events: what happened to a merchant's requests, newest first.

Each event is shown under its integrator name with the versioned payload its catalogue entry
declares, so a key added to a row's payload for internal use never leaks into the contract.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pushpay.api.errors import ApiError, NotFound
from pushpay.api.pagination import NewestFirstPagination
from requests_app import selectors
from requests_app.events import CATALOGUE, by_integrator_name
from requests_app.filters import EventFilter
from requests_app.models import RequestEvent

# Each filter's refusal gets its own machine code, so an integrator can tell them apart.
_FILTER_CODES = {
    "type": "unknown_event_type",
    "object": "invalid_object_id",
    "created_after": "invalid_datetime",
    "created_before": "invalid_datetime",
}


class EventSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    type = serializers.SerializerMethodField()
    version = serializers.SerializerMethodField()
    livemode = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    request = serializers.CharField(source="request.public_id")
    participant = serializers.CharField(source="participant.public_id", allow_null=True)
    data = serializers.SerializerMethodField()

    def get_type(self, event: RequestEvent) -> str:
        return CATALOGUE[event.type].integrator_name

    def get_version(self, event: RequestEvent) -> int:
        return CATALOGUE[event.type].version

    def get_data(self, event: RequestEvent) -> dict:
        return {key: event.payload.get(key) for key in CATALOGUE[event.type].payload}


def _integrator_names() -> list[str]:
    return sorted(by_integrator_name())


class EventListView(APIView):
    @extend_schema(
        operation_id="events_list",
        responses=EventSerializer(many=True),
        parameters=[
            OpenApiParameter(
                "type",
                str,
                many=True,
                enum=_integrator_names(),
                description="Integrator name of the event type; repeat for several.",
            ),
            OpenApiParameter(
                "object",
                str,
                description="Public id of the request, participant or other object "
                "(checkout, installment plan, reconciliation) the event is about.",
            ),
            OpenApiParameter("created_after", OpenApiTypes.DATETIME),
            OpenApiParameter("created_before", OpenApiTypes.DATETIME),
            OpenApiParameter("limit", int, description="Page size, at most 100."),
            OpenApiParameter("cursor", str),
        ],
    )
    def get(self, request: Request) -> Response:
        filterset = EventFilter(
            request.query_params,
            queryset=selectors.event_list(
                merchant=request.auth.merchant, livemode=request.auth.livemode
            ),
        )
        if not filterset.is_valid():
            field, messages = next(iter(filterset.errors.items()))
            raise ApiError(
                f"{field}: {messages[0]}",
                code=_FILTER_CODES.get(field, "invalid_filter"),
                status_code=422,
                field=field,
            )
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(filterset.qs, request, view=self)
        return paginator.get_paginated_response(EventSerializer(page, many=True).data)


class EventDetailView(APIView):
    @extend_schema(operation_id="events_retrieve", responses=EventSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        event = selectors.event_get(
            merchant=request.auth.merchant, livemode=request.auth.livemode, public_id=public_id
        )
        if event is None:
            raise NotFound(f"No such event: '{public_id}'.")
        return Response(EventSerializer(event).data)
