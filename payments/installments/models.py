"""Installment plans and their installments: what is charged, when, and how it went."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant, TimeStamped
from pushpay.ids import new_public_id

MINOR_UNITS_HELP = "Integer amount in minor units of the currency (cents for EUR)."
# After a failed charge, the next attempts come this many days after the due date.
DEFAULT_RETRY_DAYS = [1, 3, 7]


def _plan_id() -> str:
    return new_public_id("ip")


def _installment_id() -> str:
    return new_public_id("in")


class InstallmentPlan(TimeStamped):
    """One payer's share spread over several card charges, the card kept as a token with
    the acquirer for the merchant-initiated ones (never the card number)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")  # the first charge is under way (3-D Secure …)
        ACTIVE = "active", _("Active")  # first charge taken; the rest are collected on dates
        COMPLETED = "completed", _("Completed")  # every installment paid (final)
        DEFAULTED = "defaulted", _("Defaulted")  # the last retry failed (final)
        CANCELLED = "cancelled", _("Cancelled")  # stopped: no further charges (final)

    TRANSITIONS = {
        Status.PENDING: {Status.ACTIVE, Status.CANCELLED},
        Status.ACTIVE: {Status.COMPLETED, Status.DEFAULTED, Status.CANCELLED},
        Status.COMPLETED: set(),
        Status.DEFAULTED: set(),
        Status.CANCELLED: set(),
    }

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    public_id = models.CharField(max_length=40, unique=True, default=_plan_id, editable=False)
    livemode = models.BooleanField(default=False)
    request = models.ForeignKey(
        "requests_app.PaymentRequest", on_delete=models.PROTECT, related_name="+"
    )
    participant = models.ForeignKey(
        "requests_app.Participant", on_delete=models.PROTECT, related_name="installment_plans"
    )
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField(
        help_text=MINOR_UNITS_HELP + " What the payer is charged in all: the share + the fee."
    )
    fee_amount = models.BigIntegerField(
        default=0,
        help_text=MINOR_UNITS_HELP + " The plan's fee, paid on top of the share (in amount).",
    )
    count = models.PositiveSmallIntegerField(help_text="Installments after the deposit.")
    interval_unit = models.CharField(max_length=5)
    interval_count = models.PositiveSmallIntegerField(default=1)
    method = models.CharField(max_length=40, default="card")
    source = models.CharField(
        max_length=80, help_text="The acquirer's reusable token for merchant-initiated charges."
    )
    # The card behind ``source`` as the acquirer described it when it was saved (brand,
    # last four digits, expiry; never the number): the plan page reads these instead of
    # asking the acquirer on every render. Blank for a card saved before they were kept.
    source_brand = models.CharField(max_length=20, blank=True)
    source_last4 = models.CharField(max_length=4, blank=True)
    source_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    source_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    retry_days = models.JSONField(default=list)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    language = models.CharField(max_length=2, default="fr")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="installment_plan_amount_gt_0"),
            models.CheckConstraint(
                condition=Q(fee_amount__gte=0, fee_amount__lt=models.F("amount")),
                name="installment_plan_fee_within_amount",
            ),
            # One plan at a time per payer: a second would charge the same share twice.
            models.UniqueConstraint(
                fields=["participant"],
                condition=Q(status__in=["pending", "active"]),
                name="installment_plan_one_running_per_participant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.status}"


class Installment(TimeStamped):
    """One charge of a plan. Claimed by the charging job as the outbox claims its rows: a
    lease and an attempt counter, so several clusters never charge it twice."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")  # waits for its date (or its next retry)
        PROCESSING = "processing", _("Processing")  # leased by a worker, being charged
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")  # the last attempt failed; a retry is planned
        DEFAULTED = "defaulted", _("Defaulted")  # every retry failed (final)
        CANCELLED = "cancelled", _("Cancelled")  # the plan stopped (final)

    DUE = (Status.SCHEDULED, Status.FAILED)

    plan = models.ForeignKey(InstallmentPlan, on_delete=models.CASCADE, related_name="installments")
    public_id = models.CharField(
        max_length=40, unique=True, default=_installment_id, editable=False
    )
    position = models.PositiveSmallIntegerField(help_text="0 for the deposit or the first.")
    is_deposit = models.BooleanField(default=False)
    due_date = models.DateField()
    amount = models.BigIntegerField(help_text=MINOR_UNITS_HELP + " Fee included.")
    fee_amount = models.BigIntegerField(
        default=0,
        help_text=MINOR_UNITS_HELP + " The part of amount that is the plan's fee, not the share.",
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    leased_by = models.CharField(max_length=80, blank=True)
    checkout = models.CharField(max_length=40, blank=True, help_text="co_… of the last attempt")
    failure_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["plan_id", "position"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="installment_amount_gt_0"),
            models.CheckConstraint(
                condition=Q(fee_amount__gte=0, fee_amount__lt=models.F("amount")),
                name="installment_fee_within_amount",
            ),
            models.UniqueConstraint(fields=["plan", "position"], name="installment_position"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount} {self.status}"
