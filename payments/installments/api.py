"""Integrator API for installments: the schedule preview (plans come with their issue)."""

from zoneinfo import ZoneInfo

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pushpay.api.fields import MinorUnitsField, StrictSerializer
from pushpay.money import MAX_MINOR_UNITS

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
