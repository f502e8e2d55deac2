"""Strict building blocks for the integrator API.

DRF is lenient by default (it turns "10" and 10.0 into 10 and ignores unknown keys). A
payment API must not be: a typo in a field name or 10.5 where minor units were meant has to
fail loudly instead of silently charging something else.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pushpay.contact import EMAIL_MAX_LENGTH, InvalidContact, normalise_email, normalise_phone
from pushpay.money import MAX_MINOR_UNITS


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know and bodies that are not JSON objects."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {
                    "non_field_errors": [
                        serializers.ErrorDetail("Expected a JSON object.", code="not_an_object")
                    ]
                }
            )
        writable = {name for name, field in self.fields.items() if not field.read_only}
        unknown = sorted(set(data) - writable)
        if unknown:
            raise serializers.ValidationError(
                {
                    key: [serializers.ErrorDetail(f"Unknown field '{key}'.", code="unknown_field")]
                    for key in unknown
                }
            )
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.INT)
class MinorUnitsField(serializers.Field):
    """An amount in minor units: a JSON integer, nothing else (not 10.5, not "10")."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Integer amount in minor units (1050 = 10.50 EUR).")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            if isinstance(data, float):
                message = "Amounts are integers in minor units: send 1050 for 10.50."
            else:
                message = "Amounts are JSON integers in minor units."
            raise serializers.ValidationError(message, code="invalid_amount")
        if data <= 0:
            raise serializers.ValidationError(
                "The amount must be greater than zero.", code="amount_not_positive"
            )
        if data > MAX_MINOR_UNITS:
            raise serializers.ValidationError(
                f"Amounts are at most {MAX_MINOR_UNITS} minor units.", code="amount_too_large"
            )
        return data

    def to_representation(self, value):
        return value


def _contact(normalise, value: str) -> str:
    try:
        return normalise(value)
    except InvalidContact as refusal:
        raise serializers.ValidationError(refusal.message, code=refusal.code) from None


class EmailField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", EMAIL_MAX_LENGTH)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data).strip()
        return _contact(normalise_email, value) if value else value


class PhoneField(serializers.CharField):
    """A phone number in E.164 (+33612345678), checked against the numbering plan."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("help_text", "E.164 format, e.g. +33612345678.")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data).strip()
        return _contact(normalise_phone, value) if value else value


@extend_schema_field(OpenApiTypes.BOOL)
class LiveModeField(serializers.Field):
    """``livemode`` on every API object, as integrators of payment APIs expect.

    Objects bound to a mode (requests, participants, notifications, endpoints …) answer from
    their own column. Configuration shared by both modes (templates, scenarios, smart forms)
    answers with the mode of the key reading it, so a test key never reads ``true``.
    """

    def __init__(self, **kwargs):
        kwargs.update(source="*", read_only=True)
        super().__init__(**kwargs)

    def to_representation(self, value) -> bool:
        own = getattr(value, "livemode", None)
        if isinstance(own, bool):
            return own
        request = self.context.get("request")
        return bool(getattr(getattr(request, "auth", None), "livemode", False))
