from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant, TimeStamped
from pushpay.history import AuditedHistory
from pushpay.i18n import LANGUAGES
from pushpay.ids import new_public_id
from requests_app.models import Participant, PaymentRequest


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
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")

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

    history = AuditedHistory(kind="template")

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


def _dispatch_id() -> str:
    return new_public_id("nt")


def _endpoint_id() -> str:
    return new_public_id("we")


def _outbox_id() -> str:
    return new_public_id("ob")


class Channel(models.TextChoices):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


class WebhookEndpoint(TimeStamped):
    """Where a merchant receives signed webhooks. The URL is checked again at each send."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    public_id = models.CharField(max_length=40, unique=True, default=_endpoint_id, editable=False)
    livemode = models.BooleanField(
        default=False,
        help_text="True for real money (made with a live key), false for test mode.",
    )
    url = models.URLField(max_length=500)
    secret = models.CharField(
        max_length=100, help_text="Standard Webhooks secret, whsec_ + base64 of 32 bytes."
    )
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    events = models.JSONField(
        default=list,
        blank=True,
        help_text='Integrator event names delivered here, or ["*"] for all; empty: only '
        "the scenario steps that name this endpoint.",
    )
    previous_secret = models.CharField(
        max_length=100, blank=True, help_text="The secret before the last rotation."
    )
    previous_secret_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Until then the previous secret signs too."
    )
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="First failed attempt since the last success."
    )
    disabled_reason = models.CharField(
        max_length=20, blank=True, help_text="operator, gone (HTTP 410) or failing."
    )
    disabled_at = models.DateTimeField(null=True, blank=True)

    # Never the signing secrets; ``failing_since`` is delivery health, not a change.
    history = AuditedHistory(
        kind="webhook_endpoint",
        excluded_fields=["secret", "previous_secret", "failing_since"],
    )

    class Meta:
        db_table = "scenarios_webhookendpoint"  # moved from scenarios; the table kept its name
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["merchant", "livemode"],
                condition=Q(is_active=True),
                name="webhook_endpoint_active",
            ),
        ]

    def signing_secrets(self, now) -> list[str]:
        """The secrets a message sent at ``now`` is signed with: during the overlap after a
        rotation the previous one too, so receivers can switch at their own pace."""
        secrets = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_expires_at
            and now < (self.previous_secret_expires_at)
        ):
            secrets.append(self.previous_secret)
        return secrets

    def __str__(self) -> str:
        return f"{self.public_id} ({self.url})"


class Dispatch(TimeStamped):
    """One message leaving the product: the general transactional outbox (guarantee 4).

    Every message (a scenario step today; receipts, refund notices, integrator webhooks and
    invitations as they come) is a row of a ``kind``, written in the transaction that caused
    it, with a unique dedupe key, a lease, our own attempt counter and a final state. The
    app producing a kind registers how to re-check and build its messages
    (``notifications.kinds``); the dispatcher sends every kind the same way.
    """

    class Status(models.TextChoices):
        """Where a message stands. Only its producer's services and the dispatcher change it."""

        PLANNED = "planned", _("Planned")  # waiting for due_at (or for its next attempt)
        SENDING = "sending", _("Sending")  # claimed by a worker until lease_until
        SENT = "sent", _("Sent")  # the transport accepted it (final)
        SKIPPED = "skipped", _("Skipped")  # no longer relevant at send time (final)
        FAILED = "failed", _("Failed")  # permanent error, or retries exhausted (final)
        CANCELLED = "cancelled", _("Cancelled")  # withdrawn before it fell due (final)

    TRANSITIONS = {
        Status.PLANNED: {Status.SENDING, Status.SKIPPED, Status.CANCELLED},
        # back to planned: a transient error with attempts left
        Status.SENDING: {Status.SENT, Status.SKIPPED, Status.FAILED, Status.PLANNED},
        Status.SENT: set(),
        Status.SKIPPED: set(),
        Status.FAILED: set(),
        Status.CANCELLED: set(),
    }
    PENDING = (Status.PLANNED, Status.SENDING)

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    public_id = models.CharField(max_length=40, unique=True, default=_dispatch_id, editable=False)
    livemode = models.BooleanField(
        default=False,
        help_text="True for real money (made with a live key), false for test mode.",
    )
    kind = models.CharField(
        max_length=32, default="scenario_step", help_text="Who produced it (notifications.kinds)."
    )
    request = models.ForeignKey(
        PaymentRequest,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="dispatches",
    )
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    step = models.ForeignKey(
        "scenarios.Step",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dispatches",
        help_text="The scenario step, for kind scenario_step.",
    )
    repetition = models.PositiveSmallIntegerField(default=0)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = models.CharField(max_length=500, blank=True)
    language = models.CharField(max_length=2, choices=LANGUAGES, default="fr")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    skip_reason = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    leased_by = models.CharField(max_length=100, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    event_id = models.BigIntegerField(null=True, blank=True, help_text="RequestEvent pk.")
    source_id = models.CharField(
        max_length=40, blank=True, help_text="The producer's own object (a checkout co_…)."
    )
    resend_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    webhook_endpoint = models.ForeignKey(
        WebhookEndpoint,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
        help_text="For kind webhook: the subscribed endpoint this event goes to.",
    )
    event_type = models.CharField(
        max_length=64, blank=True, help_text="For kind webhook: the event's integrator name."
    )
    last_error = models.TextField(blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True, db_index=True)
    delivery_status = models.CharField(
        max_length=20, blank=True, help_text="As reported later by the provider."
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "scenarios_dispatch"  # moved from scenarios; the table kept its name
        ordering = ["due_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="skipped") | ~Q(skip_reason=""),
                name="dispatch_skip_has_reason",
            ),
        ]
        indexes = [
            # next_attempt_at is due_at until a retry moves it: the sweep's order.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status="planned"),
                name="dispatch_planned_due",
            ),
            models.Index(
                fields=["lease_until", "id"],
                condition=Q(status="sending"),
                name="dispatch_sending_lease",
            ),
            models.Index(fields=["request", "due_at"], name="dispatch_request_due"),
            # The delivery log: one endpoint's deliveries, newest first.
            models.Index(
                fields=["webhook_endpoint", "-created_at", "-id"],
                condition=Q(webhook_endpoint__isnull=False),
                name="dispatch_endpoint_log",
            ),
            # The dashboard: one mode's planned reminders by due time, failures by date.
            models.Index(
                fields=["merchant", "livemode", "status", "due_at"], name="dispatch_dashboard"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.channel} {self.status}"


class OutboxMessage(models.Model):
    """An email or SMS kept locally instead of leaving the machine (embedded default)."""

    public_id = models.CharField(max_length=40, unique=True, default=_outbox_id, editable=False)
    livemode = models.BooleanField(
        default=False,
        help_text="True for real money (made with a live key), false for test mode.",
    )
    merchant = models.ForeignKey(
        Merchant, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    to = models.CharField(max_length=500)
    from_address = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    dispatch_public_id = models.CharField(max_length=40, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "scenarios_outboxmessage"  # moved from scenarios; the table kept its name
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to}"


class DeliveryAttempt(models.Model):
    """One try at sending one outbox row: what the transport answered and how long it took.

    Kept apart from the row (which holds only the latest state) so operators and integrators
    can see every retry of a webhook or a bounce-then-deliver of an email.
    """

    class Outcome(models.TextChoices):
        SENT = "sent", _("Sent")
        RETRY = "retry", _("Will retry")
        FAILED = "failed", _("Failed")

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    dispatch = models.ForeignKey(
        Dispatch, on_delete=models.CASCADE, related_name="delivery_attempts"
    )
    number = models.PositiveSmallIntegerField(help_text="The row's attempt counter at the time.")
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    duration_ms = models.PositiveIntegerField()
    error = models.TextField(blank=True)
    response_excerpt = models.CharField(
        max_length=1024,
        blank=True,
        help_text="The start of the receiver's answer (webhooks), control characters removed.",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dispatch_id", "id"]

    def __str__(self) -> str:
        return f"{self.dispatch_id} #{self.number} {self.outcome}"
