"""Reconciliation ("lettrage"): fee rules, per-request statements and daily statements.

Kept apart from the saga's tables; ``payments.models`` imports them so Django finds them.
"""

from django.db import models

from merchants.models import Merchant, TimeStamped
from pushpay.history import AuditedHistory
from pushpay.ids import new_public_id

BASIS_POINTS = 10_000  # 1.40 % is 140 basis points


class FeeRule(TimeStamped):
    """What a merchant pays its provider for one method when the provider does not say.

    ``fixed_fee`` is in the minor units of the payment's currency and ``percent_bp`` in
    basis points, so "25 + 1.40 %" is ``fixed_fee=25, percent_bp=140``. No row: no fee.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=40)
    fixed_fee = models.BigIntegerField(
        default=0, help_text="Integer amount in minor units charged per captured leg."
    )
    percent_bp = models.PositiveIntegerField(
        default=0, help_text="Percentage of the captured amount, in basis points (140 = 1.40%)."
    )

    history = AuditedHistory(kind="fee_rule", ident="method")

    class Meta:
        ordering = ["merchant_id", "method"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "method"], name="fee_rule_unique"),
            models.CheckConstraint(
                condition=models.Q(fixed_fee__gte=0), name="fee_rule_fixed_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(percent_bp__lte=BASIS_POINTS), name="fee_rule_percent_lte_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method}: {self.fixed_fee} + {self.percent_bp} bp"

    def fee_for(self, amount: int) -> int:
        """The fee on ``amount`` minor units, the percentage rounded half up to the minor
        unit (integer arithmetic: 3000 at 1.40 % is 42, 1250 at 1.40 % is 17.5 -> 18)."""
        return self.fixed_fee + (amount * self.percent_bp * 2 + BASIS_POINTS) // (2 * BASIS_POINTS)


def _reconciliation_id() -> str:
    return new_public_id("rc")


class Reconciliation(models.Model):
    """One version of a request's statement, written once the request is final.

    A row is never changed: a refund after the statement was sent writes the next version
    (and a new ``reconciliation_ready`` event and email), so what an accountant received is
    always still there. ``lines`` and ``totals`` are the API's shape (``docs/api.md``).
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    livemode = models.BooleanField(default=False)
    public_id = models.CharField(
        max_length=40, unique=True, default=_reconciliation_id, editable=False
    )
    request = models.ForeignKey(
        "requests_app.PaymentRequest", on_delete=models.CASCADE, related_name="reconciliations"
    )
    version = models.PositiveIntegerField()
    request_status = models.CharField(max_length=20)
    currency = models.CharField(max_length=3)
    lines = models.JSONField(default=list)
    totals = models.JSONField(default=dict)
    # Chargebacks on the request's legs as the statement stated them (docs/api.md).
    disputes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request_id", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "version"], name="reconciliation_unique_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} v{self.version}"


def _daily_id() -> str:
    return new_public_id("dr")


class DailyReconciliation(TimeStamped):
    """A merchant's CSV of every capture and refund of one day (its own time zone), per
    mode. One row per (merchant, mode, day): building the day again replaces its text."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField(default=False)
    public_id = models.CharField(max_length=40, unique=True, default=_daily_id, editable=False)
    day = models.DateField()
    row_count = models.PositiveIntegerField(default=0)
    csv_text = models.TextField(blank=True)

    class Meta:
        ordering = ["-day", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "livemode", "day"], name="daily_reconciliation_unique_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} ({'live' if self.livemode else 'test'}) for {self.merchant_id}"
