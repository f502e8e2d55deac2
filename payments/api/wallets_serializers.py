from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pushpay.api.fields import (
    EmailField,
    LiveModeField,
    MinorUnitsField,
    PhoneField,
    StrictSerializer,
)
from pushpay.i18n import LANGUAGES
from pushpay.money import MAX_MINOR_UNITS

from ..wallet.models import Wallet, WalletTransaction


class WalletCreateSerializer(StrictSerializer):
    """One of ``holder_email`` or ``holder_phone``: a holder has one wallet per mode."""

    holder_email = EmailField(required=False, allow_blank=True, default="")
    holder_phone = PhoneField(required=False, allow_blank=True, default="")
    language = serializers.ChoiceField(
        choices=LANGUAGES, required=False, help_text="The holder's emails' language."
    )


class WalletCreditSerializer(StrictSerializer):
    amount = MinorUnitsField()
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Spendable until then; never expires if omitted."
    )


@extend_schema_field(OpenApiTypes.INT)
class SignedMinorUnitsField(serializers.Field):
    """A non-zero JSON integer of minor units: added when positive, removed when negative."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError(
                "Amounts are JSON integers in minor units.", code="invalid_amount"
            )
        if data == 0:
            raise serializers.ValidationError("An adjustment is not zero.", code="invalid_amount")
        if abs(data) > MAX_MINOR_UNITS:
            raise serializers.ValidationError(
                f"Amounts are at most {MAX_MINOR_UNITS} minor units.", code="amount_too_large"
            )
        return data

    def to_representation(self, value):
        return value


class WalletAdjustmentSerializer(StrictSerializer):
    amount = SignedMinorUnitsField(help_text="Added when positive, removed when negative.")
    reason = serializers.CharField(max_length=300)


class WalletEntrySerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    hold = serializers.SerializerMethodField()
    postings = serializers.SerializerMethodField()

    class Meta:
        model = WalletTransaction
        fields = [
            "id",
            "kind",
            "source",
            "amount",
            "currency",
            "reason",
            "reference",
            "expires_at",
            "hold",
            "postings",
            "created_at",
        ]

    def get_hold(self, entry: WalletTransaction) -> str | None:
        return entry.hold.public_id if entry.hold_id else None

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"account": {"type": "string"}, "amount": {"type": "integer"}},
            },
        }
    )
    def get_postings(self, entry: WalletTransaction) -> list[dict]:
        return [{"account": p.account, "amount": p.amount} for p in entry.postings.all()]


class WalletSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    object = serializers.SerializerMethodField()
    livemode = LiveModeField()
    holder_email = serializers.SerializerMethodField()
    holder_phone = serializers.SerializerMethodField()
    spendable = serializers.SerializerMethodField()

    class Meta:
        model = Wallet
        fields = [
            "id",
            "object",
            "livemode",
            "holder_email",
            "holder_phone",
            "language",
            "currency",
            "balance",
            "held",
            "spendable",
            "created_at",
        ]

    def get_object(self, wallet: Wallet) -> str:
        return "wallet"

    def get_holder_email(self, wallet: Wallet) -> str | None:
        return wallet.holder_email or None

    def get_holder_phone(self, wallet: Wallet) -> str | None:
        return wallet.holder_phone or None

    def get_spendable(self, wallet: Wallet) -> int:
        return self.context["spendable"].get(wallet.pk, wallet.balance)


class WalletDetailSerializer(WalletSerializer):
    entries = serializers.SerializerMethodField()

    class Meta(WalletSerializer.Meta):
        fields = [*WalletSerializer.Meta.fields, "entries"]

    @extend_schema_field(WalletEntrySerializer(many=True))
    def get_entries(self, wallet: Wallet) -> list[dict]:
        return WalletEntrySerializer(self.context["entries"], many=True).data
