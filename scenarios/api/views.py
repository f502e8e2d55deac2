"""Integrator API for scenarios and the notifications they plan: thin views over
scenarios services and selectors."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pushpay.api.errors import ApiError, NotFound
from pushpay.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from pushpay.api.pagination import NewestFirstPagination
from requests_app import selectors as request_selectors
from requests_app.models import PaymentRequest
from scenarios import selectors, services
from scenarios.models import Scenario

from .serializers import (
    NotificationSerializer,
    OutboxMessageSerializer,
    ScenarioCreateSerializer,
    ScenarioSerializer,
    ScenarioUpdateSerializer,
)

PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description="Page size, at most 100."),
    OpenApiParameter("cursor", str),
]


class ByDueTime(NewestFirstPagination):
    ordering = ("due_at", "id")
    page_size = 100
    max_page_size = 500


def _paginate(view: APIView, request: Request, queryset, serializer_class, paginator_class):
    paginator = paginator_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(
        serializer_class(page, many=True, context={"request": request}).data
    )


def _get_scenario(request: Request, public_id: str) -> Scenario:
    scenario = selectors.scenario_get(merchant=request.auth.merchant, public_id=public_id)
    if scenario is None:
        raise NotFound(f"No such scenario: '{public_id}'.")
    return scenario


def _get_request(request: Request, public_id: str) -> PaymentRequest:
    payment_request = request_selectors.payment_request_get(
        merchant=request.auth.merchant, livemode=request.auth.livemode, public_id=public_id
    )
    if payment_request is None:
        raise NotFound(f"No such payment request: '{public_id}'.")
    return payment_request


def _render(request: Request, scenario: Scenario, status_code: int = 200) -> Response:
    fresh = _get_scenario(request, scenario.public_id)
    return Response(
        ScenarioSerializer(fresh, context={"request": request}).data, status=status_code
    )


class ScenarioListCreateView(APIView):
    @extend_schema(responses=ScenarioSerializer(many=True), parameters=PAGE_PARAMETERS)
    def get(self, request: Request) -> Response:
        queryset = selectors.scenario_list(merchant=request.auth.merchant)
        return _paginate(self, request, queryset, ScenarioSerializer, NewestFirstPagination)

    @extend_schema(
        request=ScenarioCreateSerializer,
        responses={201: ScenarioSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = ScenarioCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        scenario = services.scenario_create(
            merchant=request.auth.merchant, **serializer.validated_data
        )
        return _render(request, scenario, status.HTTP_201_CREATED)


class ScenarioDetailView(APIView):
    @extend_schema(responses=ScenarioSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        return Response(
            ScenarioSerializer(_get_scenario(request, public_id), context={"request": request}).data
        )

    @extend_schema(
        request=ScenarioUpdateSerializer,
        responses=ScenarioSerializer,
        description="Replacing steps of a scenario that requests already follow creates a "
        "new version; those requests keep the version they started with.",
    )
    def patch(self, request: Request, public_id: str) -> Response:
        scenario = _get_scenario(request, public_id)
        serializer = ScenarioUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        scenario = services.scenario_update(scenario=scenario, **serializer.validated_data)
        return _render(request, scenario)


class ScenarioPauseView(APIView):
    paused = True

    @extend_schema(request=None, responses=ScenarioSerializer, parameters=[IDEMPOTENCY_PARAMETER])
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        scenario = _get_scenario(request, public_id)
        if self.paused:
            scenario = services.scenario_pause(scenario=scenario)
        else:
            scenario = services.scenario_resume(scenario=scenario)
        return _render(request, scenario)


class ScenarioResumeView(ScenarioPauseView):
    paused = False


class NotificationListView(APIView):
    @extend_schema(
        responses=NotificationSerializer(many=True),
        parameters=[
            OpenApiParameter("limit", int, description="Page size, at most 500."),
            OpenApiParameter("cursor", str),
        ],
        description="Every planned and past notification of the request, by due time.",
    )
    def get(self, request: Request, public_id: str) -> Response:
        payment_request = _get_request(request, public_id)
        queryset = selectors.dispatch_list(
            merchant=request.auth.merchant, payment_request=payment_request
        )
        return _paginate(self, request, queryset, NotificationSerializer, ByDueTime)


class NotificationResendView(APIView):
    @extend_schema(
        request=None,
        responses={201: NotificationSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        description="Send the notification again now, as a new notification.",
    )
    @idempotent
    def post(self, request: Request, public_id: str, notification_id: str) -> Response:
        payment_request = _get_request(request, public_id)
        dispatch = selectors.dispatch_get(
            merchant=request.auth.merchant,
            payment_request=payment_request,
            public_id=notification_id,
        )
        if dispatch is None:
            raise NotFound(f"No such notification: '{notification_id}'.")
        copy = services.dispatch_resend(dispatch=dispatch)
        fresh = selectors.dispatch_get(
            merchant=request.auth.merchant,
            payment_request=payment_request,
            public_id=copy.public_id,
        )
        return Response(
            NotificationSerializer(fresh, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class OutboxListView(APIView):
    @extend_schema(
        responses=OutboxMessageSerializer(many=True),
        parameters=PAGE_PARAMETERS,
        description="Emails and SMS kept by the local outbox (embedded default only).",
    )
    def get(self, request: Request) -> Response:
        if not selectors.outbox_in_use(livemode=request.auth.livemode):
            raise ApiError(
                "This installation sends email and SMS through providers; there is no outbox.",
                code="outbox_disabled",
                status_code=404,
            )
        queryset = selectors.outbox_list(
            merchant=request.auth.merchant, livemode=request.auth.livemode
        )
        return _paginate(self, request, queryset, OutboxMessageSerializer, NewestFirstPagination)
