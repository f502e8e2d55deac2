from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from payments.dispute_models import Dispute
from payments.installments.api import PlanSerializer
from payments.installments.schedule import INTERVAL_UNITS, MAX_COUNT, MIN_COUNT
from pushpay.api.fields import (
    EmailField,
    LiveModeField,
    MinorUnitsField,
    PhoneField,
    StrictSerializer,
)
from pushpay.i18n import LANGUAGES
from requests_app.links import payment_url
from requests_app.models import Participant, PaymentRequest


class InstallmentSettingsSchema(serializers.Serializer):
    """The shape of ``installments`` for the schema; the values are read and checked by
    ``payments.installments.offers.installment_offer_parse`` (with the share they spread)."""

    count = serializers.IntegerField(
        min_value=MIN_COUNT, max_value=MAX_COUNT, help_text="Installments after the deposit."
    )
    interval_unit = serializers.ChoiceField(choices=INTERVAL_UNITS)
    interval_count = serializers.IntegerField(required=False, default=1)
    start_date = serializers.DateField(required=False, allow_null=True)
    deposit_amount = serializers.IntegerField(required=False, default=0)
    deposit_date = serializers.DateField(required=False, allow_null=True)
    fee_amount = serializers.IntegerField(
        required=False, default=0, help_text="Paid by the payer on top of the share."
    )
    pay_at_once_allowed = serializers.BooleanField(
        required=False, default=True, help_text="Whether the payer may still pay all at once."
    )


@extend_schema_field(InstallmentSettingsSchema(allow_null=True))
class InstallmentSettingsField(serializers.JSONField):
    """Passed on as received: the service checks it against the share, naming the field."""


class ParticipantInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    email = EmailField(required=False, allow_blank=True, default="")
    phone = PhoneField(required=False, allow_blank=True, default="")
    language = serializers.ChoiceField(choices=LANGUAGES, required=False)
    amount = MinorUnitsField(required=False, allow_null=True)
    show_name = serializers.BooleanField(
        required=False, default=False, help_text="Agreed to appear on the public progress page."
    )
    installments = InstallmentSettingsField(
        required=False, allow_null=True, default=None, help_text="This share's own plan offer."
    )


class PaymentRequestCreateSerializer(StrictSerializer):
    reference = serializers.CharField(max_length=100)
    description = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default=""
    )
    currency = serializers.CharField(min_length=3, max_length=3)
    amount_mode = serializers.ChoiceField(
        choices=PaymentRequest.AmountMode.values, default=PaymentRequest.AmountMode.FIXED
    )
    total_amount = MinorUnitsField(required=False, allow_null=True)
    split = serializers.ChoiceField(choices=["equal"], required=False, allow_null=True)
    min_amount = MinorUnitsField(required=False, allow_null=True)
    max_amount = MinorUnitsField(required=False, allow_null=True)
    participants = ParticipantInputSerializer(many=True, allow_empty=False, max_length=1000)
    send_at = serializers.DateTimeField(required=False, allow_null=True)
    deadline = serializers.DateTimeField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    language = serializers.ChoiceField(choices=LANGUAGES, required=False)
    allowed_payment_methods = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=20
    )
    metadata = serializers.JSONField(required=False)
    form = serializers.CharField(
        max_length=40, required=False, allow_null=True, help_text="A smart form id (fm_…)."
    )
    capture_mode = serializers.ChoiceField(
        choices=PaymentRequest.CaptureMode.values, default=PaymentRequest.CaptureMode.IMMEDIATE
    )
    scenario = serializers.CharField(
        max_length=40, required=False, allow_null=True, help_text="A scenario id (sc_…)."
    )
    public_progress = serializers.BooleanField(required=False, default=False)
    installments = InstallmentSettingsField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The plan offered to every participant without settings of their own.",
    )
    return_url = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Where the payer is sent back after paying (https).",
    )
    cancel_url = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Where the payer goes on leaving without paying (https).",
    )


class PaymentRequestUpdateSerializer(StrictSerializer):
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    send_at = serializers.DateTimeField(required=False, allow_null=True)
    deadline = serializers.DateTimeField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class RefundLineSerializer(StrictSerializer):
    """One participant to refund: all that is left to give back, or ``amount`` of it."""

    id = serializers.CharField(max_length=40, help_text="A participant id (pa_…).")
    amount = MinorUnitsField(
        required=False,
        help_text="Integer amount in minor units to give back; all that is left when omitted.",
    )


@extend_schema_field(RefundLineSerializer)
class RefundLineField(serializers.Field):
    """``{"id": "pa_…", "amount": 1000}``; a bare ``"pa_…"`` (the first shape of this API)
    still means that participant's whole refundable amount."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = {"id": data}
        line = RefundLineSerializer(data=data)
        line.is_valid(raise_exception=True)
        return dict(line.validated_data)

    def to_representation(self, value):
        return value


class RefundSerializer(StrictSerializer):
    """``{}`` gives back everything captured; ``participants`` names who, and how much."""

    participants = serializers.ListField(
        child=RefundLineField(),
        required=False,
        allow_empty=False,
        max_length=1000,
        help_text="Who to refund, and how much; everything captured when omitted.",
    )


class CancelSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class LegSummarySerializer(serializers.Serializer):
    """One leg of a checkout: the part paid with one method."""

    id = serializers.CharField()
    method = serializers.CharField()
    amount = serializers.IntegerField()
    amount_refunded = serializers.IntegerField()
    status = serializers.CharField()


class CheckoutSummarySerializer(serializers.Serializer):
    """One attempt of a payer to pay, with its legs (several in a combined payment)."""

    id = serializers.CharField()
    status = serializers.CharField()
    amount = serializers.IntegerField()
    installment_fee = serializers.IntegerField(
        default=0,
        help_text="An installment plan's fee included in amount, paid on top of the share.",
    )
    currency = serializers.CharField()
    failure_reason = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    legs = LegSummarySerializer(many=True)


class DisputeSerializer(serializers.Serializer):
    """A payer's bank contesting a captured payment (docs/payments.md, "Disputes")."""

    id = serializers.CharField(help_text="dp_… public id.")
    provider = serializers.CharField()
    provider_reference = serializers.CharField(help_text="The provider's id of the dispute.")
    participant = serializers.CharField()
    checkout = serializers.CharField()
    leg = serializers.CharField()
    amount = serializers.IntegerField(help_text="Integer amount in minor units disputed.")
    currency = serializers.CharField()
    reason = serializers.ChoiceField(choices=Dispute.Reason.choices)
    provider_reason = serializers.CharField(help_text="The provider's own reason.")
    status = serializers.ChoiceField(choices=Dispute.Status.choices)
    amount_held = serializers.IntegerField(
        help_text="What the dispute keeps out of reach of a refund: the amount while a "
        "chargeback is open or once it is lost, 0 for an inquiry or a won case."
    )
    fee = serializers.IntegerField(
        allow_null=True,
        help_text="The provider's dispute fee (Stripe's, from the dispute's balance "
        "transactions, net of any given back), in minor units; null while none is reported.",
    )
    evidence_due_by = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)


class ParticipantSerializer(serializers.ModelSerializer):
    livemode = LiveModeField()
    id = serializers.CharField(source="public_id", read_only=True)
    # Not format "email": a payer reached by SMS only has "" here.
    email = serializers.CharField(read_only=True, help_text="Empty when only a phone is set.")
    amount = serializers.IntegerField(read_only=True, allow_null=True)
    amount_paid = serializers.IntegerField(read_only=True)
    amount_due = serializers.IntegerField(read_only=True, allow_null=True)
    payment_url = serializers.SerializerMethodField()
    form_answers = serializers.SerializerMethodField()
    checkouts = serializers.SerializerMethodField()
    disputes = serializers.SerializerMethodField()
    installments = serializers.SerializerMethodField()
    installment_plan = serializers.SerializerMethodField()

    class Meta:
        model = Participant
        fields = [
            "id",
            "livemode",
            "name",
            "email",
            "phone",
            "language",
            "amount",
            "amount_paid",
            "amount_refunded",
            "amount_due",
            "status",
            "show_name",
            "payment_url",
            "form_answers",
            "checkouts",
            "disputes",
            "installments",
            "installment_plan",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(CheckoutSummarySerializer(many=True))
    def get_checkouts(self, participant: Participant) -> list[dict]:
        """The participant's checkouts, newest first; the view supplies them in bulk."""
        rows = self.context.get("checkouts", {}).get(participant.public_id, [])
        return CheckoutSummarySerializer(rows, many=True).data

    @extend_schema_field(DisputeSerializer(many=True))
    def get_disputes(self, participant: Participant) -> list[dict]:
        """Disputes on this participant's payments, oldest first; the view supplies them."""
        rows = self.context.get("participant_disputes", {}).get(participant.public_id, [])
        return DisputeSerializer(rows, many=True).data

    @extend_schema_field(InstallmentSettingsSchema(allow_null=True))
    def get_installments(self, participant: Participant) -> dict | None:
        """The plan this payer is offered: their own settings, else the request's."""
        return participant.installment_offer

    @extend_schema_field(PlanSerializer(allow_null=True))
    def get_installment_plan(self, participant: Participant) -> dict | None:
        """The payer's latest plan (running or over) with its installments; the view
        supplies them in bulk."""
        plan = self.context.get("installment_plans", {}).get(participant.public_id)
        return PlanSerializer(plan).data if plan is not None else None

    def get_payment_url(self, participant: Participant) -> str:
        return payment_url(participant)

    def get_form_answers(self, participant: Participant) -> dict | None:
        """The participant's latest smart-form answers; the view supplies them in bulk."""
        return self.context.get("form_answers", {}).get(participant.public_id)


class PaymentRequestSerializer(serializers.ModelSerializer):
    livemode = LiveModeField()
    id = serializers.CharField(source="public_id", read_only=True)
    total_amount = serializers.IntegerField(read_only=True, allow_null=True)
    amount_paid = serializers.IntegerField(read_only=True)
    amount_remaining = serializers.IntegerField(read_only=True, allow_null=True)
    amount_collected = serializers.IntegerField(read_only=True)
    progress = serializers.SerializerMethodField()
    public_progress_url = serializers.SerializerMethodField()
    participants = ParticipantSerializer(many=True, read_only=True)
    form = serializers.SerializerMethodField()
    form_version = serializers.SerializerMethodField()
    scenario = serializers.SerializerMethodField()
    disputes = serializers.SerializerMethodField()

    class Meta:
        model = PaymentRequest
        fields = [
            "id",
            "livemode",
            "reference",
            "description",
            "status",
            "currency",
            "amount_mode",
            "total_amount",
            "min_amount",
            "max_amount",
            "amount_paid",
            "amount_refunded",
            "amount_collected",
            "amount_remaining",
            "capture_mode",
            "closed_at",
            "progress",
            "public_progress",
            "public_progress_url",
            "notifications_paused",
            "language",
            "send_at",
            "deadline",
            "expires_at",
            "allowed_payment_methods",
            "installments",
            "metadata",
            "return_url",
            "cancel_url",
            "form",
            "form_version",
            "scenario",
            "participants",
            "disputes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(DisputeSerializer(many=True))
    def get_disputes(self, payment_request: PaymentRequest) -> list[dict]:
        """Every dispute on the request's payments, oldest first; the view supplies them."""
        rows = self.context.get("disputes", {}).get(payment_request.pk, [])
        return DisputeSerializer(rows, many=True).data

    def get_scenario(self, payment_request: PaymentRequest) -> str | None:
        binding = getattr(payment_request, "scenario_binding", None)
        return binding.scenario.public_id if binding else None

    def get_form(self, payment_request: PaymentRequest) -> str | None:
        version = payment_request.form_version
        return version.form.public_id if version else None

    def get_form_version(self, payment_request: PaymentRequest) -> int | None:
        version = payment_request.form_version
        return version.number if version else None

    def get_progress(self, payment_request: PaymentRequest) -> dict[str, int]:
        """Participants per status, counted from the prefetched rows (no extra query)."""
        counts = dict.fromkeys(Participant.Status.values, 0)
        for participant in payment_request.participants.all():
            counts[participant.status] += 1
        return counts

    def get_public_progress_url(self, payment_request: PaymentRequest) -> str | None:
        if not payment_request.public_progress:
            return None
        return settings.PUBLIC_BASE_URL + reverse(
            "progress:page", args=[payment_request.progress_token]
        )
