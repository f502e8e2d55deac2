"""Shapes of the webhook endpoint and delivery API (input checked by the services)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notifications.models import DeliveryAttempt, Dispatch, WebhookEndpoint
from pushpay.api.fields import LiveModeField, StrictSerializer

# What integrators see of a delivery's state (the outbox row has finer ones).
DELIVERY_STATUS = {
    Dispatch.Status.PLANNED: "pending",
    Dispatch.Status.SENDING: "pending",
    Dispatch.Status.SENT: "succeeded",
    Dispatch.Status.FAILED: "failed",
    Dispatch.Status.SKIPPED: "skipped",
    Dispatch.Status.CANCELLED: "skipped",
}
DELIVERY_STATUSES = ("pending", "succeeded", "failed", "skipped")


class WebhookErrorDetailSerializer(serializers.Serializer):
    type = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(allow_null=True)


class WebhookErrorSerializer(serializers.Serializer):
    """The one error shape of the API (pushpay.api.errors)."""

    error = WebhookErrorDetailSerializer()


class WebhookEndpointCreateSerializer(StrictSerializer):
    url = serializers.CharField(help_text="https:// only; checked again at every send.")
    events = serializers.ListField(
        child=serializers.CharField(),
        help_text='Integrator event names (see GET /api/v1/events), or ["*"] for all.',
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")


class WebhookEndpointUpdateSerializer(StrictSerializer):
    url = serializers.CharField(required=False)
    events = serializers.ListField(child=serializers.CharField(), required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    livemode = LiveModeField()
    events = serializers.ListField(child=serializers.CharField(), read_only=True)
    enabled = serializers.BooleanField(source="is_active", read_only=True)
    disabled_reason = serializers.CharField(
        read_only=True, help_text="operator, gone (it answered 410) or failing; empty if enabled."
    )
    previous_secret_expires_at = serializers.SerializerMethodField(
        help_text="Until then the secret before the last rotation signs too."
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "livemode",
            "url",
            "events",
            "description",
            "enabled",
            "disabled_reason",
            "disabled_at",
            "previous_secret_expires_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_previous_secret_expires_at(self, endpoint: WebhookEndpoint):
        expires = endpoint.previous_secret_expires_at
        if not endpoint.previous_secret or expires is None:
            return None
        return serializers.DateTimeField().to_representation(expires)


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="whsec_…; shown only in this answer (creation or rotation)."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookReplaySinceSerializer(StrictSerializer):
    since = serializers.DateTimeField(
        help_text="Replay failed deliveries created at or after this time (with a time zone)."
    )


class WebhookReplayResultSerializer(serializers.Serializer):
    replayed = serializers.IntegerField(help_text="New deliveries planned.")
    skipped = serializers.IntegerField(
        help_text="Failed events left alone: already delivered since, on their way, past "
        "their retention, or beyond this call's limit."
    )


class WebhookAttemptSerializer(serializers.ModelSerializer):
    outcome = serializers.CharField(help_text="sent, retry or failed.")
    response_excerpt = serializers.CharField(
        help_text="The first kilobyte of the receiver's answer, control characters removed."
    )

    class Meta:
        model = DeliveryAttempt
        fields = [
            "number",
            "started_at",
            "duration_ms",
            "outcome",
            "status_code",
            "response_excerpt",
            "error",
        ]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    livemode = LiveModeField()
    endpoint = serializers.CharField(source="webhook_endpoint.public_id", read_only=True)
    event = serializers.CharField(source="source_id", read_only=True, help_text="ev_…")
    event_type = serializers.CharField(read_only=True)
    webhook_id = serializers.SerializerMethodField(
        help_text="The webhook-id header: the same for every retry and replay of this event "
        "to this endpoint, so a receiver can drop copies."
    )
    replay_of = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    next_attempt_at = serializers.SerializerMethodField()
    delivered_at = serializers.DateTimeField(source="sent_at", read_only=True, allow_null=True)
    skip_reason = serializers.CharField(read_only=True)
    attempt_count = serializers.IntegerField(source="attempts", read_only=True)

    class Meta:
        model = Dispatch
        fields = [
            "id",
            "livemode",
            "endpoint",
            "event",
            "event_type",
            "webhook_id",
            "replay_of",
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_error",
            "skip_reason",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_webhook_id(self, delivery: Dispatch) -> str:
        return delivery.resend_of.public_id if delivery.resend_of_id else delivery.public_id

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_replay_of(self, delivery: Dispatch) -> str | None:
        return delivery.resend_of.public_id if delivery.resend_of_id else None

    @extend_schema_field({"type": "string", "enum": list(DELIVERY_STATUSES)})
    def get_status(self, delivery: Dispatch) -> str:
        return DELIVERY_STATUS[delivery.status]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_attempt_at(self, delivery: Dispatch):
        if delivery.status != Dispatch.Status.PLANNED:
            return None
        return serializers.DateTimeField().to_representation(delivery.next_attempt_at)


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    attempts = WebhookAttemptSerializer(
        source="delivery_attempts", many=True, read_only=True, help_text="Oldest first."
    )

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "attempts"]
        read_only_fields = fields


class _CursorPage(serializers.Serializer):
    next = serializers.CharField(allow_null=True, help_text="URL of the next page, if any.")
    previous = serializers.CharField(allow_null=True, help_text="URL of the previous page.")


class WebhookEndpointPageSerializer(_CursorPage):
    results = WebhookEndpointSerializer(many=True)


class WebhookDeliveryPageSerializer(_CursorPage):
    results = WebhookDeliverySerializer(many=True)
