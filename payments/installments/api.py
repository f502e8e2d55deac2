"""Integrator API for installments: the schedule preview, and reading and changing plans."""

from zoneinfo import ZoneInfo

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pushpay.api.errors import NotFound
from pushpay.api.fields import MinorUnitsField, StrictSerializer
from pushpay.api.pagination import NewestFirstPagination
from pushpay.money import MAX_MINOR_UNITS

from . import selectors, services
from .schedule import INTERVAL_UNITS, MAX_COUNT, MIN_COUNT, schedule_build


@extend_schema_field(OpenApiTypes.INT)
class StrictIntegerField(serializers.Field):
    """A JSON integer only (not "3", not 3.0), zero allowed: a fee or deposit may be none."""

    def __init__(self, *, minimum: int = 0, maximum: int = MAX_MINOR_UNITS, **kwargs):
        super().__init__(**kwargs)
        self.minimum, self.maximum = minimum, maximum

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError("Expected a JSON integer.", code="invalid_integer")
        if not self.minimum <= data <= self.maximum:
            raise serializers.ValidationError(
                f"Must be between {self.minimum} and {self.maximum}.", code="out_of_range"
            )
        return data

    def to_representation(self, value):
        return value


class PreviewSerializer(StrictSerializer):
    amount = MinorUnitsField(help_text="What the plan spreads, in minor units, fee excluded.")
    currency = serializers.CharField(max_length=3, min_length=3)
    count = StrictIntegerField(
        minimum=MIN_COUNT, maximum=MAX_COUNT, help_text="Installments after the deposit."
    )
    interval_unit = serializers.ChoiceField(choices=INTERVAL_UNITS)
    interval_count = StrictIntegerField(minimum=1, maximum=90, required=False, default=1)
    start_date = serializers.DateField(required=False, allow_null=True, default=None)
    deposit_amount = StrictIntegerField(required=False, default=0)
    deposit_date = serializers.DateField(required=False, allow_null=True, default=None)
    fee_amount = StrictIntegerField(required=False, default=0)


class ScheduleLineSerializer(serializers.Serializer):
    due_date = serializers.DateField()
    amount = serializers.IntegerField()


class ScheduleSerializer(serializers.Serializer):
    deposit = ScheduleLineSerializer(allow_null=True)
    installments = ScheduleLineSerializer(many=True)
    total = serializers.IntegerField()
    currency = serializers.CharField()
    fee_amount = serializers.IntegerField()


class InstallmentPreviewView(APIView):
    """POST /api/v1/installment-plans/preview: the exact schedule, nothing created."""

    @extend_schema(
        request=PreviewSerializer,
        responses={200: ScheduleSerializer},
        summary="Preview an installment schedule",
        description="Dates are in the merchant's time zone; the fee and any rounding "
        "remainder go on the first installment after the deposit.",
    )
    def post(self, request: Request) -> Response:
        serializer = PreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        merchant = request.auth.merchant
        today = timezone.localdate(timezone=ZoneInfo(merchant.time_zone))
        schedule = schedule_build(**serializer.validated_data, today=today)
        return Response(schedule.as_dict())


class InstallmentSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    position = serializers.IntegerField()
    is_deposit = serializers.BooleanField()
    due_date = serializers.DateField()
    amount = serializers.IntegerField(help_text="Charged on the date, fee included.")
    fee_amount = serializers.IntegerField(help_text="The part of amount that is the plan's fee.")
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    failure_reason = serializers.CharField()
    checkout = serializers.CharField()


class PlanSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    livemode = serializers.BooleanField()
    request = serializers.CharField(source="request.public_id")
    participant = serializers.CharField(source="participant.public_id")
    status = serializers.CharField()
    currency = serializers.CharField()
    amount = serializers.IntegerField(help_text="Charged in all: the share + the fee.")
    fee_amount = serializers.IntegerField(help_text="Paid on top of the share, never refunded.")
    count = serializers.IntegerField()
    interval_unit = serializers.CharField()
    interval_count = serializers.IntegerField()
    retry_days = serializers.ListField(child=serializers.IntegerField())
    installments = InstallmentSerializer(many=True)
    created_at = serializers.DateTimeField()


class RescheduleSerializer(StrictSerializer):
    installment = serializers.CharField(max_length=40)
    due_date = serializers.DateField()


class ResplitSerializer(StrictSerializer):
    count = StrictIntegerField(minimum=MIN_COUNT, maximum=MAX_COUNT)
    interval_unit = serializers.ChoiceField(choices=INTERVAL_UNITS)
    interval_count = StrictIntegerField(minimum=1, maximum=90, required=False, default=1)
    start_date = serializers.DateField(required=False, allow_null=True, default=None)


def _plan_or_404(request: Request, public_id: str):
    plan = selectors.installment_plan_get(
        merchant=request.auth.merchant, livemode=request.auth.livemode, public_id=public_id
    )
    if plan is None:
        raise NotFound(f"No such installment plan: '{public_id}'.")
    return plan


def _render(request: Request, plan) -> Response:
    fresh = _plan_or_404(request, plan.public_id)
    return Response(PlanSerializer(fresh).data)


class PlanListView(APIView):
    @extend_schema(
        responses=PlanSerializer(many=True),
        parameters=[
            OpenApiParameter("participant", str, description="pa_… id"),
            OpenApiParameter("limit", int, description="Page size, at most 100."),
            OpenApiParameter("cursor", str),
        ],
        summary="List installment plans",
    )
    def get(self, request: Request) -> Response:
        participant = request.query_params.get("participant")
        plans = selectors.installment_plans(
            merchant=request.auth.merchant,
            livemode=request.auth.livemode,
            participant_public_id=participant[:40] if participant else None,
        )
        # A cursor page like every other list (it used to stop at 100 plans, silently).
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(plans, request, view=self)
        return paginator.get_paginated_response(PlanSerializer(page, many=True).data)


class PlanDetailView(APIView):
    @extend_schema(responses=PlanSerializer, summary="Read an installment plan")
    def get(self, request: Request, public_id: str) -> Response:
        return Response(PlanSerializer(_plan_or_404(request, public_id)).data)


class PlanCancelView(APIView):
    @extend_schema(request=None, responses=PlanSerializer, summary="Cancel a plan")
    def post(self, request: Request, public_id: str) -> Response:
        plan = services.installment_plan_cancel(plan=_plan_or_404(request, public_id))
        return _render(request, plan)


class PlanRescheduleView(APIView):
    @extend_schema(
        request=RescheduleSerializer, responses=PlanSerializer, summary="Move an installment"
    )
    def post(self, request: Request, public_id: str) -> Response:
        plan = _plan_or_404(request, public_id)
        serializer = RescheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        plan = services.installment_reschedule(
            plan=plan,
            installment_public_id=serializer.validated_data["installment"],
            due_date=serializer.validated_data["due_date"],
        )
        return _render(request, plan)


class PlanResplitView(APIView):
    @extend_schema(
        request=ResplitSerializer, responses=PlanSerializer, summary="Re-split what is left"
    )
    def post(self, request: Request, public_id: str) -> Response:
        plan = _plan_or_404(request, public_id)
        serializer = ResplitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        plan = services.installment_plan_resplit(plan=plan, **serializer.validated_data)
        return _render(request, plan)
