"""Shapes of the forms API. Inputs only check types; every rule lives in smartforms.services."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pushpay.api.fields import LiveModeField, StrictSerializer
from pushpay.i18n import LANGUAGES
from smartforms.models import Form, FormVersion, Submission

_TRANSLATED = {
    "type": "object",
    "properties": {"fr": {"type": "string"}, "en": {"type": "string"}},
    "description": "At least one language; the other falls back to it.",
}

FIELD_DEFINITION_SCHEMA = {
    "type": "array",
    "maxItems": 50,
    "items": {
        "type": "object",
        "required": ["key", "type", "label"],
        "properties": {
            "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,49}$"},
            "type": {
                "type": "string",
                "enum": [
                    "text",
                    "email",
                    "phone",
                    "number",
                    "date",
                    "single_choice",
                    "multiple_choice",
                    "consent",
                ],
            },
            "label": _TRANSLATED,
            "help_text": _TRANSLATED,
            "required": {"type": "boolean", "default": False},
            "min_length": {"type": "integer", "description": "text"},
            "max_length": {"type": "integer", "description": "text"},
            "regex": {"type": "string", "description": "text; the whole answer must match"},
            "min": {"description": "number (a number) or date (YYYY-MM-DD)"},
            "max": {"description": "number (a number) or date (YYYY-MM-DD)"},
            "decimal_places": {"type": "integer", "description": "number"},
            "choices": {
                "type": "array",
                "description": "single_choice and multiple_choice",
                "items": {
                    "type": "object",
                    "properties": {"value": {"type": "string"}, "label": _TRANSLATED},
                },
            },
            "min_selections": {"type": "integer", "description": "multiple_choice"},
            "max_selections": {"type": "integer", "description": "multiple_choice"},
        },
    },
}


@extend_schema_field(FIELD_DEFINITION_SCHEMA)
class FieldDefinitionsField(serializers.JSONField):
    """Passed through untouched: smartforms.definition checks it and names the bad path."""


@extend_schema_field({"type": "object", "additionalProperties": True})
class AnswersField(serializers.JSONField):
    pass


class FormCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    fields = FieldDefinitionsField()


class FormUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False)
    fields = FieldDefinitionsField(
        required=False,
        help_text="Replaces the current version if it is unlocked, else creates the next one.",
    )


class ValidateAnswersSerializer(StrictSerializer):
    answers = AnswersField(help_text="Answers keyed by field key.")
    language = serializers.ChoiceField(
        choices=LANGUAGES, required=False, help_text="Language of the error messages."
    )
    version = serializers.IntegerField(
        min_value=1,
        max_value=2**31 - 1,  # a larger one would overflow the database's integer column
        required=False,
        help_text="Version number; the current one if omitted.",
    )


class FormSerializer(serializers.ModelSerializer):
    livemode = LiveModeField()
    id = serializers.CharField(source="public_id", read_only=True)
    version = serializers.IntegerField(source="current_version.number", read_only=True)
    version_locked = serializers.BooleanField(source="current_version.is_locked", read_only=True)
    fields = FieldDefinitionsField(source="current_version.fields", read_only=True)

    class Meta:
        model = Form
        fields = [
            "id",
            "livemode",
            "name",
            "status",
            "version",
            "version_locked",
            "fields",
            "archived_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class FormVersionSerializer(serializers.ModelSerializer):
    """One numbered set of fields: what a submission of that version was checked against."""

    livemode = LiveModeField()
    form = serializers.CharField(source="form.public_id", read_only=True)
    locked = serializers.BooleanField(
        source="is_locked",
        read_only=True,
        help_text="True once a submission or a request uses it: its fields never change again.",
    )
    fields = FieldDefinitionsField(read_only=True)

    class Meta:
        model = FormVersion
        fields = ["form", "number", "livemode", "locked", "locked_at", "fields", "created_at"]
        read_only_fields = fields


class SubmissionSerializer(serializers.ModelSerializer):
    livemode = LiveModeField()
    id = serializers.CharField(source="public_id", read_only=True)
    form = serializers.CharField(source="form_version.form.public_id", read_only=True)
    version = serializers.IntegerField(source="form_version.number", read_only=True)
    answers = AnswersField(read_only=True)

    class Meta:
        model = Submission
        fields = [
            "id",
            "livemode",
            "form",
            "version",
            "answers",
            "language",
            "participant",
            "created_at",
        ]
        read_only_fields = fields


class ValidationResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    version = serializers.IntegerField()
    answers = AnswersField(help_text="The cleaned answers, as they would be stored.")
