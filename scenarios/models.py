"""Scenarios (what to send when), their planned dispatches (the transactional outbox), the
local outbox of the embedded default, and webhook endpoints.

Everything a scenario sends is a ``Dispatch`` row written in the transaction that caused it
(ARCHITECTURE.md guarantee 4). The broker only nudges; the rows are the truth.
"""

from django.db import models
from django.db.models import Q

from merchants.models import Merchant, TimeStamped
from notifications.models import MessageTemplate
from pushpay.i18n import LANGUAGES
from pushpay.ids import new_public_id
from requests_app.models import Participant, PaymentRequest


def _scenario_id() -> str:
    return new_public_id("sc")


def _dispatch_id() -> str:
    return new_public_id("nt")


def _endpoint_id() -> str:
    return new_public_id("we")


def _outbox_id() -> str:
    return new_public_id("ob")


class Trigger(models.TextChoices):
    REQUEST_CREATED = "request_created"  # at send_at, or at creation when there is none
    BEFORE_DEADLINE = "before_deadline"
    AFTER_DEADLINE = "after_deadline"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PARTICIPANT_PAID = "participant_paid"
    REQUEST_COMPLETED = "request_completed"
    REQUEST_EXPIRED = "request_expired"
    INSTALLMENT_PLAN_CONFIRMED = "installment_plan_confirmed"
    INSTALLMENT_DUE = "installment_due"
    INSTALLMENT_FAILED = "installment_failed"


# Planned from the request's own dates; replanned when those dates change.
TIME_TRIGGERS = (Trigger.REQUEST_CREATED, Trigger.BEFORE_DEADLINE, Trigger.AFTER_DEADLINE)
# Messages that only make sense while money is still being collected.
COLLECTING_TRIGGERS = (
    Trigger.REQUEST_CREATED,
    Trigger.BEFORE_DEADLINE,
    Trigger.AFTER_DEADLINE,
    Trigger.PAYMENT_FAILED,
    Trigger.INSTALLMENT_DUE,
    Trigger.INSTALLMENT_FAILED,
)


class Audience(models.TextChoices):
    UNPAID_PARTICIPANTS = "unpaid_participants"  # re-checked at send time
    ALL_PARTICIPANTS = "all_participants"  # every participant not cancelled
    INITIATOR = "initiator"  # the participant in first position
    MERCHANT = "merchant"  # the merchant's contact email


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

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.url})"


class Scenario(TimeStamped):
    """A merchant's plan of notifications. Steps are versioned: a request keeps the version
    it was planned with (``ScenarioBinding``), so editing never rewrites promises made."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="scenarios")
    public_id = models.CharField(max_length=40, unique=True, default=_scenario_id, editable=False)
    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    is_paused = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(version__gte=1), name="scenario_version_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.name} v{self.version})"


class Step(TimeStamped):
    """One message of a scenario: when (trigger + offset, repetitions), to whom, how."""

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="steps")
    version = models.PositiveIntegerField()
    position = models.PositiveIntegerField()
    trigger = models.CharField(max_length=32, choices=Trigger.choices)
    offset_seconds = models.IntegerField(
        default=0,
        help_text="Seconds after the trigger; for before_deadline, seconds before the deadline.",
    )
    repeat_every_seconds = models.PositiveIntegerField(null=True, blank=True)
    repeat_max = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Total messages of the step, the first included."
    )
    repeat_until_paid = models.BooleanField(default=True)
    audience = models.CharField(max_length=24, choices=Audience.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    template = models.ForeignKey(
        MessageTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    webhook_endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    only_if_unpaid = models.BooleanField(default=False)
    min_amount = models.BigIntegerField(
        null=True, blank=True, help_text="Minor units: send only when at least this is due."
    )
    language = models.CharField(max_length=2, choices=LANGUAGES, blank=True)
    quiet_start = models.TimeField(null=True, blank=True, help_text="Merchant's time zone.")
    quiet_end = models.TimeField(null=True, blank=True, help_text="Merchant's time zone.")

    class Meta:
        ordering = ["scenario_id", "version", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scenario", "version", "position"], name="step_unique_position"
            ),
            models.CheckConstraint(
                condition=Q(channel="webhook", webhook_endpoint__isnull=False)
                | (~Q(channel="webhook") & Q(template__isnull=False)),
                name="step_has_target",
            ),
            models.CheckConstraint(
                condition=Q(repeat_every_seconds__isnull=True) | Q(repeat_max__gte=2),
                name="step_repeat_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scenario_id} v{self.version} #{self.position} {self.trigger}"

    @property
    def needs_unpaid(self) -> bool:
        """Whether the recipient participant must still owe money for this to go out."""
        return self.audience == Audience.UNPAID_PARTICIPANTS or self.only_if_unpaid


class ScenarioBinding(TimeStamped):
    """Which scenario version a request follows, fixed when it is first planned.

    Kept here rather than on the request so an edited scenario never changes the messages of
    requests already under way (replanning after a date change reuses this version).
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    request = models.OneToOneField(
        PaymentRequest, on_delete=models.CASCADE, related_name="scenario_binding"
    )
    scenario = models.ForeignKey(Scenario, on_delete=models.PROTECT, related_name="bindings")
    version = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.request_id} -> {self.scenario_id} v{self.version}"


class Dispatch(TimeStamped):
    """One planned message: the transactional outbox row (ARCHITECTURE.md guarantee 4)."""

    class Status(models.TextChoices):
        """Where a message stands. Only ``scenarios.services`` and the dispatcher change it."""

        PLANNED = "planned", "Planned"  # waiting for due_at (or for its next attempt)
        SENDING = "sending", "Sending"  # claimed by a worker until lease_until
        SENT = "sent", "Sent"  # the transport accepted it (final)
        SKIPPED = "skipped", "Skipped"  # no longer relevant at send time (final)
        FAILED = "failed", "Failed"  # permanent error, or retries exhausted (final)
        CANCELLED = "cancelled", "Cancelled"  # withdrawn before it fell due (final)

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
    request = models.ForeignKey(PaymentRequest, on_delete=models.CASCADE, related_name="dispatches")
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="dispatches")
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
    resend_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to}"
