from django.db import models
from django.db.models import Q

from merchants.models import Merchant, TimeStamped
from pushpay.ids import new_public_id


def _template_id() -> str:
    return new_public_id("tp")


class MessageTemplate(TimeStamped):
    """What a merchant sends at one step of a scenario, in French and English.

    Each text field is a JSON object ``{"fr": str, "en": str}``; a language may be missing and
    then falls back to the other one at render time. The sources are checked by
    ``notifications.rendering`` before they are ever stored, so a stored template always
    compiles and only reaches whitelisted variables.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="message_templates"
    )
    public_id = models.CharField(max_length=40, unique=True, default=_template_id, editable=False)
    name = models.CharField(max_length=100)
    channel = models.CharField(max_length=5, choices=Channel.choices)
    subject = models.JSONField(
        default=dict, blank=True, help_text='Email only: {"fr": "…", "en": "…"}.'
    )
    body_text = models.JSONField(
        default=dict, help_text='Plain text (email) or the SMS body: {"fr": "…", "en": "…"}.'
    )
    body_html = models.JSONField(
        default=dict, blank=True, help_text='Email only, optional: {"fr": "…", "en": "…"}.'
    )
    is_archived = models.BooleanField(default=False)
    default_stage = models.CharField(
        max_length=60,
        blank=True,
        help_text="The shipped default this template was installed from, if any.",
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "name"], name="message_template_unique_name"
            ),
            models.UniqueConstraint(
                fields=["merchant", "default_stage", "channel"],
                condition=~Q(default_stage=""),
                name="message_template_unique_default",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["email", "sms"]), name="message_template_channel_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel})"
