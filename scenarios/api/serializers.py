from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pushpay.api.fields import LiveModeField, StrictSerializer
from scenarios.models import Dispatch, OutboxMessage, Scenario, Step
from scenarios.services import STEP_FIELDS


@extend_schema_field(
    {
        "oneOf": [{"type": "integer"}, {"type": "string", "example": "P2D"}],
        "description": "Seconds, or an ISO 8601 duration (weeks, days, hours, minutes, seconds).",
    }
)
class DurationInputField(serializers.Field):
    """Passed through: the service parses it and names the step at fault."""

    def to_internal_value(self, data):
        return data


class ConditionsSerializer(StrictSerializer):
    only_if_unpaid = serializers.BooleanField(required=False)
    min_amount = serializers.JSONField(required=False, help_text="Minor units.")
    language = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class QuietHoursSerializer(StrictSerializer):
    start = serializers.CharField(help_text="21:00, in the merchant's time zone.")
    end = serializers.CharField(help_text="08:00, in the merchant's time zone.")


class StepInputSerializer(serializers.Serializer):
    """Documents the step shape; values are checked by scenarios.services with codes."""

    trigger = serializers.CharField()
    offset = DurationInputField(required=False)
    repeat_every = DurationInputField(required=False)
    repeat_max = serializers.IntegerField(required=False)
    repeat_until_paid = serializers.BooleanField(required=False)
    audience = serializers.CharField()
    channel = serializers.CharField()
    template = serializers.CharField(required=False, allow_null=True)
    webhook_endpoint = serializers.CharField(required=False, allow_null=True)
    conditions = ConditionsSerializer(required=False)
    quiet_hours = QuietHoursSerializer(required=False, allow_null=True)


@extend_schema_field(StepInputSerializer(many=True))
class StepsField(serializers.Field):
    """The raw list; scenarios.services checks it whole, field by field, with codes."""

    def to_internal_value(self, data):
        return data


class ScenarioCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    steps = StepsField()


class ScenarioUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False)
    steps = StepsField(required=False)


class StepSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(read_only=True, help_text="email, sms or webhook.")
    offset = serializers.IntegerField(source="offset_seconds", read_only=True)
    repeat_every = serializers.IntegerField(
        source="repeat_every_seconds", read_only=True, allow_null=True
    )
    template = serializers.SlugRelatedField(slug_field="public_id", read_only=True, allow_null=True)
    webhook_endpoint = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True, allow_null=True
    )
    conditions = serializers.SerializerMethodField()
    quiet_hours = serializers.SerializerMethodField()

    class Meta:
        model = Step
        fields = ["position", *STEP_FIELDS]
        read_only_fields = fields

    @extend_schema_field(ConditionsSerializer)
    def get_conditions(self, step: Step) -> dict:
        return {
            "only_if_unpaid": step.only_if_unpaid,
            "min_amount": step.min_amount,
            "language": step.language or None,
        }

    @extend_schema_field(QuietHoursSerializer(allow_null=True))
    def get_quiet_hours(self, step: Step) -> dict | None:
        if step.quiet_start is None:
            return None
        return {
            "start": step.quiet_start.strftime("%H:%M"),
            "end": step.quiet_end.strftime("%H:%M"),
        }


class ScenarioSerializer(serializers.ModelSerializer):
    livemode = LiveModeField()
    id = serializers.CharField(source="public_id", read_only=True)
    steps = serializers.SerializerMethodField()

    class Meta:
        model = Scenario
        fields = [
            "id",
            "livemode",
            "name",
            "version",
            "is_paused",
            "steps",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(StepSerializer(many=True))
    def get_steps(self, scenario: Scenario) -> list:
        steps = getattr(scenario, "all_steps", None)
        if steps is None:
            steps = list(scenario.steps.select_related("template", "webhook_endpoint"))
        current = [s for s in steps if s.version == scenario.version]
        return StepSerializer(sorted(current, key=lambda s: s.position), many=True).data


class NotificationStepSerializer(serializers.Serializer):
    scenario = serializers.CharField()
    version = serializers.IntegerField()
    position = serializers.IntegerField()
    trigger = serializers.CharField()


class NotificationSerializer(serializers.ModelSerializer):
    livemode = LiveModeField()
    id = serializers.CharField(source="public_id", read_only=True)
    channel = serializers.CharField(read_only=True, help_text="email, sms or webhook.")
    kind = serializers.CharField(
        read_only=True, help_text="scenario_step, or the product's own: receipt, refund_notice …"
    )
    participant = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True, allow_null=True
    )  # null for a message to a webhook endpoint or the merchant
    step = serializers.SerializerMethodField()
    skip_reason = serializers.SerializerMethodField()
    cancel_reason = serializers.SerializerMethodField()
    resend_of = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True, allow_null=True
    )

    class Meta:
        model = Dispatch
        fields = [
            "id",
            "livemode",
            "status",
            "kind",
            "channel",
            "recipient",
            "participant",
            "due_at",
            "sent_at",
            "step",
            "repetition",
            "attempts",
            "skip_reason",
            "cancel_reason",
            "last_error",
            "delivery_status",
            "resend_of",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(NotificationStepSerializer(allow_null=True))
    def get_step(self, dispatch: Dispatch) -> dict | None:
        """The scenario step that planned it; null for the product's own messages (a
        receipt, a refund notice), whose ``kind`` says what they are."""
        step = dispatch.step
        if step is None:
            return None
        return {
            "scenario": step.scenario.public_id,
            "version": step.version,
            "position": step.position,
            "trigger": step.trigger,
        }

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_skip_reason(self, dispatch: Dispatch) -> str | None:
        return dispatch.skip_reason if dispatch.status == Dispatch.Status.SKIPPED else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_cancel_reason(self, dispatch: Dispatch) -> str | None:
        return dispatch.skip_reason if dispatch.status == Dispatch.Status.CANCELLED else None


class OutboxMessageSerializer(serializers.ModelSerializer):
    livemode = LiveModeField()
    id = serializers.CharField(source="public_id", read_only=True)
    notification = serializers.CharField(source="dispatch_public_id", read_only=True)
    channel = serializers.CharField(read_only=True, help_text="email, sms or webhook.")

    class Meta:
        model = OutboxMessage
        fields = [
            "id",
            "livemode",
            "channel",
            "to",
            "subject",
            "text",
            "html",
            "notification",
            "created_at",
        ]
        read_only_fields = fields
