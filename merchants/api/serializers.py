from rest_framework import serializers

from merchants.models import ApiKey
from pushpay.api.fields import LiveModeField, StrictSerializer


class ApiKeySerializer(serializers.Serializer):
    """A key as the API shows it: never its secret, only what tells keys apart."""

    id = serializers.CharField(source="public_id", read_only=True)
    object = serializers.SerializerMethodField()
    name = serializers.CharField(read_only=True)
    mode = serializers.ChoiceField(choices=ApiKey.Mode.choices, read_only=True)
    livemode = LiveModeField()
    prefix = serializers.CharField(
        read_only=True, help_text="The first characters of the secret (sk_test_Ab12)."
    )
    created_at = serializers.DateTimeField(read_only=True)
    last_used_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="To the minute; null if never used."
    )
    revoked = serializers.SerializerMethodField()
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_object(self, api_key: ApiKey) -> str:
        return "api_key"

    def get_revoked(self, api_key: ApiKey) -> bool:
        return api_key.revoked_at is not None


class CreatedApiKeySerializer(ApiKeySerializer):
    secret = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The whole secret, in this response only: it is not stored and cannot be "
        "read again. Null in a replay of the creation (Idempotency-Key).",
    )


class KeyNameField(serializers.CharField):
    """A name a person reads in a list: a JSON string (5 is not coerced to "5") of printable
    characters, not only spaces."""

    def __init__(self, **kwargs):
        super().__init__(allow_blank=True, trim_whitespace=False, **kwargs)

    def run_validation(self, data=serializers.empty):
        if data is not serializers.empty and (
            not isinstance(data, str) or not data.strip() or not data.isprintable()
        ):
            raise serializers.ValidationError(
                "Give the key a name of printable characters.", code="invalid_name"
            )
        if isinstance(data, str):
            data = data.strip()
        return super().run_validation(data)


class ApiKeyCreateSerializer(StrictSerializer):
    name = KeyNameField(
        max_length=100,
        required=False,
        default="Default",
        help_text="What the key is for, shown in lists (the secret never is).",
    )
