"""The holiday-voucher sandbox's own books, modelled on ANCV Chèque-Vacances Connect.

A beneficiary has an account with a balance in euros; the provider holds part of it
(authorise), takes what it held (capture), lets it go (void), and gives money back to the
account, never as cash (refund). These tables stand for the *provider's* side: the product
only keeps the references the adapter hands back. Accounts are kept per merchant and mode,
so one merchant's tests can never spend another's balance.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant, TimeStamped
from pushpay.ids import new_public_id

from .models import MINOR_UNITS_HELP


def _hold_id() -> str:
    return new_public_id("vh")


def _entry_id() -> str:
    return new_public_id("ve")


class SandboxVoucherAccount(TimeStamped):
    """One beneficiary's voucher account, opened on first use at its documented balance."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    livemode = models.BooleanField(default=False)
    number = models.CharField(max_length=10, help_text="The beneficiary number (10 digits).")
    currency = models.CharField(max_length=3, default="EUR")
    opening_balance = models.BigIntegerField(help_text=MINOR_UNITS_HELP)
    balance = models.BigIntegerField(
        help_text=MINOR_UNITS_HELP + " What the beneficiary can still spend (not held)."
    )

    class Meta:
        ordering = ["merchant_id", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "livemode", "number"], name="sandbox_voucher_account_unique"
            ),
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="sandbox_voucher_balance_never_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.balance} {self.currency}"


class SandboxVoucherHold(TimeStamped):
    """One authorise call on an account and everything done to it since."""

    class Status(models.TextChoices):
        AUTHORISED = "authorised", _("Authorised")  # held; part may already be captured
        CAPTURED = "captured", _("Captured")  # nothing held any more, something taken
        REFUNDED = "refunded", _("Refunded")  # everything taken was re-credited (final)
        CANCELLED = "cancelled", _("Cancelled")  # voided before anything was taken (final)
        FAILED = "failed", _("Failed")  # refused: nothing was ever held (final)

    TRANSITIONS = {
        Status.AUTHORISED: {Status.CAPTURED, Status.CANCELLED},
        Status.CAPTURED: {Status.REFUNDED},
        Status.REFUNDED: set(),
        Status.CANCELLED: set(),
        Status.FAILED: set(),
    }

    class FailureReason(models.TextChoices):
        INSUFFICIENT_FUNDS = "insufficient_funds", _("Insufficient balance")

    public_id = models.CharField(max_length=40, unique=True, default=_hold_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(
        SandboxVoucherAccount, on_delete=models.PROTECT, related_name="holds"
    )
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField(help_text=MINOR_UNITS_HELP + " The amount asked for.")
    amount_captured = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)
    amount_released = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)
    amount_refunded = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)
    status = models.CharField(max_length=20, choices=Status.choices)
    failure_reason = models.CharField(max_length=30, choices=FailureReason.choices, blank=True)
    idempotency_key = models.CharField(max_length=255)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"], name="sandbox_voucher_hold_unique_key"
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="sandbox_voucher_hold_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(amount_captured__gte=0, amount_released__gte=0)
                & Q(amount__gte=F("amount_captured") + F("amount_released")),
                name="sandbox_voucher_never_takes_more_than_held",
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0) & Q(amount_captured__gte=F("amount_refunded")),
                name="sandbox_voucher_never_refunds_more_than_taken",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount} {self.currency} ({self.status})"

    @property
    def amount_held(self) -> int:
        if self.status != self.Status.AUTHORISED:
            return 0
        return self.amount - self.amount_captured - self.amount_released


class SandboxVoucherEntry(TimeStamped):
    """One movement on a voucher account: the beneficiary's statement line. Balances are
    summed from these rows, so a bug in the running totals shows up as a mismatch."""

    class Kind(models.TextChoices):
        HOLD = "hold", _("Hold")
        CAPTURE = "capture", _("Capture")
        VOID = "void", _("Void")
        REFUND = "refund", _("Refund")  # re-credited to the account

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")  # a refused hold, kept for the record

    public_id = models.CharField(max_length=40, unique=True, default=_entry_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(
        SandboxVoucherAccount, on_delete=models.PROTECT, related_name="entries"
    )
    hold = models.ForeignKey(SandboxVoucherHold, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.BigIntegerField(help_text=MINOR_UNITS_HELP)
    status = models.CharField(max_length=10, choices=Status.choices)
    failure_reason = models.CharField(max_length=30, blank=True)
    idempotency_key = models.CharField(max_length=255)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "kind", "idempotency_key"],
                name="sandbox_voucher_entry_unique_key_per_kind",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="sandbox_voucher_entry_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.status})"
