"""Integrator API for message templates: thin views over notifications services."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, services
from notifications.models import MessageTemplate
from notifications.rendering import ScheduleItem, sample_message_data
from pushpay.api.errors import ApiError, NotFound
from pushpay.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from pushpay.api.pagination import NewestFirstPagination
from pushpay.i18n import LANGUAGE_CODES

from .serializers import (
    MessageTemplateSerializer,
    TemplateCreateSerializer,
    TemplatePreviewInputSerializer,
    TemplatePreviewSerializer,
    TemplateUpdateSerializer,
)

_BOOLEANS = {"true": True, "false": False}


def _get_template(request: Request, public_id: str) -> MessageTemplate:
    template = selectors.template_get(merchant=request.auth.merchant, public_id=public_id)
    if template is None:
        raise NotFound(f"No such template: '{public_id}'.")
    return template


def _message_overrides(data: dict) -> dict:
    """The preview body's nested shape (as templates see it) to MessageData's field names."""
    overrides = {}
    for group, prefix in (("payer", "payer_"), ("merchant", "merchant_"), ("request", "")):
        for key, value in data.get(group, {}).items():
            overrides[f"{prefix}{key}"] = value
    for key in (
        "amount_due",
        "amount_paid",
        "currency",
        "deadline",
        "pay_url",
        "retry_url",
        "failure_reason",
    ):
        if key in data:
            overrides[key] = data[key]
    if "schedule" in data:
        overrides["schedule"] = tuple(ScheduleItem(**item) for item in data["schedule"])
    return overrides


class TemplateListCreateView(APIView):
    @extend_schema(
        responses=MessageTemplateSerializer(many=True),
        parameters=[
            OpenApiParameter("channel", str, enum=MessageTemplate.Channel.values),
            OpenApiParameter("archived", bool, description="Omit for both."),
            OpenApiParameter("limit", int, description="Page size, at most 100."),
            OpenApiParameter("cursor", str),
        ],
    )
    def get(self, request: Request) -> Response:
        channel = request.query_params.get("channel")
        if channel is not None and channel not in MessageTemplate.Channel.values:
            raise ApiError(
                "channel must be 'email' or 'sms'.", code="invalid_filter", field="channel"
            )
        archived = request.query_params.get("archived")
        if archived is not None and archived not in _BOOLEANS:
            raise ApiError(
                "archived must be 'true' or 'false'.", code="invalid_filter", field="archived"
            )
        queryset = selectors.template_list(
            merchant=request.auth.merchant,
            channel=channel,
            archived=None if archived is None else _BOOLEANS[archived],
        )
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(
            MessageTemplateSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(
        request=TemplateCreateSerializer,
        responses={201: MessageTemplateSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = TemplateCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = services.template_create(
            merchant=request.auth.merchant, **serializer.validated_data
        )
        return Response(
            MessageTemplateSerializer(template, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class TemplateDetailView(APIView):
    @extend_schema(responses=MessageTemplateSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        return Response(
            MessageTemplateSerializer(
                _get_template(request, public_id), context={"request": request}
            ).data
        )

    @extend_schema(request=TemplateUpdateSerializer, responses=MessageTemplateSerializer)
    def patch(self, request: Request, public_id: str) -> Response:
        template = _get_template(request, public_id)
        serializer = TemplateUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = services.template_update(template=template, **serializer.validated_data)
        return Response(MessageTemplateSerializer(template, context={"request": request}).data)


class TemplatePreviewView(APIView):
    @extend_schema(
        request=TemplatePreviewInputSerializer,
        responses=TemplatePreviewSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        description="Render the template in each language with sample values (or those "
        "given), and for SMS count characters and segments.",
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        template = _get_template(request, public_id)
        serializer = TemplatePreviewInputSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        merchant = request.auth.merchant
        values = {
            "merchant_name": merchant.name,
            "currency": merchant.default_currency,
            "time_zone": merchant.time_zone,
            **_message_overrides(data),
        }
        sample = sample_message_data(**values)
        languages = [data["language"]] if "language" in data else list(LANGUAGE_CODES)
        previews = services.template_preview(template=template, data=sample, languages=languages)
        body = {"id": template.public_id, "channel": template.channel, "previews": previews}
        return Response(TemplatePreviewSerializer(body, context={"request": request}).data)
