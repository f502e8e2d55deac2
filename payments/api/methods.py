"""Integrator API for the payment methods a merchant offers and how payers may combine them."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pushpay.api.errors import NotFound
from pushpay.api.fields import StrictSerializer

from .. import selectors, services
from ..models import MerchantPaymentMethod, MerchantPaymentSettings
from ..registry import payment_method_available, payment_methods


class MethodSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    enabled = serializers.BooleanField()
    available = serializers.BooleanField(help_text="Can move money in this key's mode.")
    min_leg_amount = serializers.IntegerField()
    combinable_with = serializers.ListField(child=serializers.CharField(), allow_null=True)


class MethodsSerializer(serializers.Serializer):
    max_methods_per_payment = serializers.IntegerField()
    methods = MethodSerializer(many=True)


class MethodUpdateSerializer(StrictSerializer):
    enabled = serializers.BooleanField(required=False)
    min_leg_amount = serializers.JSONField(required=False)
    combinable_with = serializers.JSONField(required=False, allow_null=True)


class SettingsUpdateSerializer(StrictSerializer):
    max_methods_per_payment = serializers.JSONField()


def _body(request: Request) -> dict:
    merchant, livemode = request.auth.merchant, request.auth.livemode
    enabled = set(selectors.payment_methods_enabled(merchant=merchant))
    rows = {row.method: row for row in MerchantPaymentMethod.objects.filter(merchant=merchant)}
    settings = MerchantPaymentSettings.objects.filter(merchant=merchant).first()
    return {
        "max_methods_per_payment": (
            settings.max_methods_per_payment
            if settings
            else MerchantPaymentSettings.DEFAULT_MAX_METHODS
        ),
        "methods": [
            {
                "code": method.code,
                "label": method.label,
                "enabled": method.code in enabled,
                "available": payment_method_available(
                    merchant=merchant, method=method.code, livemode=livemode
                ),
                "min_leg_amount": rows[method.code].min_leg_amount if method.code in rows else 0,
                "combinable_with": (
                    rows[method.code].combinable_with if method.code in rows else None
                ),
            }
            for method in payment_methods()
        ],
    }


class PaymentMethodListView(APIView):
    @extend_schema(responses=MethodsSerializer, summary="Payment methods and combination rules")
    def get(self, request: Request) -> Response:
        return Response(_body(request))

    @extend_schema(
        request=SettingsUpdateSerializer,
        responses=MethodsSerializer,
        summary="Set how many methods one payment may combine",
        operation_id="payment_methods_settings_update",
    )
    def patch(self, request: Request) -> Response:
        serializer = SettingsUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.payment_settings_update(
            merchant=request.auth.merchant,
            max_methods_per_payment=serializer.validated_data["max_methods_per_payment"],
        )
        return Response(_body(request))


class PaymentMethodDetailView(APIView):
    @extend_schema(
        request=MethodUpdateSerializer,
        responses=MethodsSerializer,
        summary="Offer a method or not, and set its combination rules",
        operation_id="payment_method_update",
    )
    def patch(self, request: Request, code: str) -> Response:
        if code not in {method.code for method in payment_methods()}:
            raise NotFound(f"No such payment method: '{code[:40]}'.")
        serializer = MethodUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        merchant = request.auth.merchant
        if "min_leg_amount" in data or "combinable_with" in data:
            combinable = data.get("combinable_with")
            services.payment_method_configure(
                merchant=merchant,
                method=code,
                min_leg_amount=data.get("min_leg_amount"),
                combinable_with=combinable,
                any_combination="combinable_with" in data and combinable is None,
            )
        if "enabled" in data:
            if data["enabled"]:
                services.payment_method_enable(merchant=merchant, method=code)
            else:
                services.payment_method_disable(merchant=merchant, method=code)
        return Response(_body(request))
