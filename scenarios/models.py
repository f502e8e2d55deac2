"""Scenarios: what to send when (versioned steps) and which version each request follows.

What a scenario sends is a row of the general outbox (``notifications.models.Dispatch``, kind
``scenario_step``) written in the transaction that caused it (ARCHITECTURE.md guarantee 4).
The outbox, the local outbox and webhook endpoints belong to notifications; they are
imported here for the planner and for the many readers that know them by these names.
"""

from django.db import models
from django.db.models import Q

from merchants.models import Merchant, TimeStamped
from notifications.models import (
    Channel,
    Dispatch,
    MessageTemplate,
    OutboxMessage,
    WebhookEndpoint,
    _dispatch_id,  # noqa: F401  (named by the first migrations, from when the models lived here)
    _endpoint_id,  # noqa: F401
    _outbox_id,  # noqa: F401
)
from pushpay.history import AuditedHistory
from pushpay.i18n import LANGUAGES
from pushpay.ids import new_public_id
from requests_app.models import PaymentRequest


def _scenario_id() -> str:
    return new_public_id("sc")


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
    INSTALLMENT_SUCCEEDED = "installment_succeeded"
    INSTALLMENT_PLAN_COMPLETED = "installment_plan_completed"
    INSTALLMENT_PLAN_DEFAULTED = "installment_plan_defaulted"
    INSTALLMENT_PLAN_CANCELLED = "installment_plan_cancelled"


# Planned from the request's own dates; replanned when those dates change.
TIME_TRIGGERS = (Trigger.REQUEST_CREATED, Trigger.BEFORE_DEADLINE, Trigger.AFTER_DEADLINE)
# An installment plan's own messages: they replace the request's "unpaid" reminders for a
# payer on a running plan.
INSTALLMENT_TRIGGERS = (
    Trigger.INSTALLMENT_PLAN_CONFIRMED,
    Trigger.INSTALLMENT_DUE,
    Trigger.INSTALLMENT_SUCCEEDED,
    Trigger.INSTALLMENT_FAILED,
    Trigger.INSTALLMENT_PLAN_COMPLETED,
    Trigger.INSTALLMENT_PLAN_DEFAULTED,
    Trigger.INSTALLMENT_PLAN_CANCELLED,
)
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


class Scenario(TimeStamped):
    """A merchant's plan of notifications. Steps are versioned: a request keeps the version
    it was planned with (``ScenarioBinding``), so editing never rewrites promises made."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="scenarios")
    public_id = models.CharField(max_length=40, unique=True, default=_scenario_id, editable=False)
    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    is_paused = models.BooleanField(default=False)

    # Steps are stored per version with bulk_create: the scenario's entry carries their
    # summary before and after (scenarios.services.definitions).
    history = AuditedHistory(kind="scenario")

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


__all__ = [
    "COLLECTING_TRIGGERS",
    "INSTALLMENT_TRIGGERS",
    "TIME_TRIGGERS",
    "Audience",
    "Channel",
    "Dispatch",
    "OutboxMessage",
    "Scenario",
    "ScenarioBinding",
    "Step",
    "Trigger",
    "WebhookEndpoint",
]
