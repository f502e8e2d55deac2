from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notifications.models import MessageTemplate
from notifications.rendering import RenderedMessage
from pushpay.api.fields import LiveModeField, MinorUnitsField, StrictSerializer
from pushpay.i18n import LANGUAGE_CODES


class LocalizedTextSerializer(StrictSerializer):
    """One text per language; a language left out (or blank) falls back to the other."""

    fr = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, trim_whitespace=False
    )
    en = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, trim_whitespace=False
    )


class TemplateCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    channel = serializers.ChoiceField(choices=MessageTemplate.Channel.values)
    subject = LocalizedTextSerializer(required=False, allow_null=True, help_text="Email only.")
    body_text = LocalizedTextSerializer(help_text="Plain-text email body, or the SMS.")
    body_html = LocalizedTextSerializer(
        required=False, allow_null=True, help_text="Email only, optional."
    )


class TemplateUpdateSerializer(StrictSerializer):
    """Each given field replaces the stored one whole; the channel cannot change."""

    name = serializers.CharField(max_length=100, required=False)
    subject = LocalizedTextSerializer(required=False, allow_null=True)
    body_text = LocalizedTextSerializer(required=False)
    body_html = LocalizedTextSerializer(required=False, allow_null=True)
    is_archived = serializers.BooleanField(required=False)


@extend_schema_field(LocalizedTextSerializer(allow_null=True))
class LocalizedOutputField(serializers.Field):
    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        return dict(value) if value else None


class MessageTemplateSerializer(serializers.ModelSerializer):
    livemode = LiveModeField()
    id = serializers.CharField(source="public_id", read_only=True)
    subject = LocalizedOutputField()
    body_text = LocalizedOutputField()
    body_html = LocalizedOutputField()

    class Meta:
        model = MessageTemplate
        fields = [
            "id",
            "livemode",
            "name",
            "channel",
            "subject",
            "body_text",
            "body_html",
            "is_archived",
            "default_stage",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# --- Preview --------------------------------------------------------------------------------


class _PreviewPayerSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)


class _PreviewMerchantSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class _PreviewRequestSerializer(StrictSerializer):
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class _PreviewScheduleItemSerializer(StrictSerializer):
    due_date = serializers.DateField()
    amount = MinorUnitsField()


class TemplatePreviewInputSerializer(StrictSerializer):
    """Sample values, each optional; what is left out takes a plausible sample value.

    Amounts are minor units and the deadline a date-time: they are formatted for each
    language exactly as in a real message.
    """

    language = serializers.ChoiceField(
        choices=LANGUAGE_CODES, required=False, help_text="Render one language only."
    )
    payer = _PreviewPayerSerializer(required=False)
    merchant = _PreviewMerchantSerializer(required=False)
    request = _PreviewRequestSerializer(required=False)
    amount_due = MinorUnitsField(required=False)
    amount_paid = MinorUnitsField(required=False)
    currency = serializers.CharField(min_length=3, max_length=3, required=False)
    deadline = serializers.DateTimeField(required=False)
    pay_url = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    retry_url = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    failure_reason = serializers.CharField(max_length=500, required=False, allow_blank=True)
    schedule = _PreviewScheduleItemSerializer(many=True, required=False, max_length=120)


class SmsLengthSerializer(serializers.Serializer):
    characters = serializers.IntegerField(
        help_text="Septets for GSM-7 (extension characters such as € count 2), "
        "UTF-16 units for UCS-2."
    )
    segments = serializers.IntegerField()
    encoding = serializers.ChoiceField(choices=["GSM-7", "UCS-2"])


class RenderedMessageSerializer(serializers.Serializer):
    language = serializers.CharField()
    source_language = serializers.CharField(
        help_text="The language the body was written in: differs when it fell back."
    )
    subject = serializers.CharField(allow_null=True)
    text = serializers.CharField()
    html = serializers.CharField(allow_null=True)
    sms = SmsLengthSerializer(allow_null=True)

    def to_representation(self, instance: RenderedMessage) -> dict:
        return {
            "language": instance.language,
            "source_language": instance.source_language,
            "subject": instance.subject,
            "text": instance.text,
            "html": instance.html,
            "sms": instance.sms.as_dict() if instance.sms else None,
        }


class TemplatePreviewSerializer(serializers.Serializer):
    id = serializers.CharField()
    channel = serializers.CharField()
    previews = serializers.DictField(child=RenderedMessageSerializer())
