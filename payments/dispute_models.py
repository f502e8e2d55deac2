"""Disputes (chargebacks): a payer's bank taking back, or threatening to take back, money a
leg captured.

Kept apart from the saga's tables; ``payments.models`` imports them so Django finds them.
Only ``payments.services.disputes.dispute_record`` writes these rows, whatever the provider.
"""

from django.db import models

from merchants.models import Merchant, TimeStamped
from pushpay.ids import new_public_id


def _dispute_id() -> str:
    return new_public_id("dp")


class Dispute(TimeStamped):
    """One dispute the provider reports on one leg, in the provider-neutral vocabulary.

    The provider's own words stay beside ours (``raw_reason``), so an operator can look the
    case up in the provider's dashboard. ``state_at`` is when the state we hold was true at
    the provider: an older report never overwrites a newer one (``dispute_record``).
    """

    class Reason(models.TextChoices):
        """Why the payer's bank disputes the payment (the provider's reason, normalised)."""

        FRAUDULENT = "fraudulent", "Fraudulent"
        PRODUCT_NOT_RECEIVED = "product_not_received", "Product not received"
        DUPLICATE = "duplicate", "Duplicate"
        SUBSCRIPTION_CANCELED = "subscription_canceled", "Subscription cancelled"
        UNRECOGNIZED = "unrecognized", "Unrecognised"
        CREDIT_NOT_PROCESSED = "credit_not_processed", "Credit not processed"
        GENERAL = "general", "General"
        OTHER = "other", "Other"  # any reason of the provider not listed above

    class Status(models.TextChoices):
        """Where the case stands. Warnings are inquiries: no money has moved yet and a refund
        still settles them; a chargeback (needs response, under review) has taken the money
        back until the bank decides; won gives it back, lost keeps it taken."""

        WARNING_NEEDS_RESPONSE = "warning_needs_response", "Inquiry: needs response"
        WARNING_UNDER_REVIEW = "warning_under_review", "Inquiry: under review"
        WARNING_CLOSED = "warning_closed", "Inquiry closed"
        NEEDS_RESPONSE = "needs_response", "Needs response"
        UNDER_REVIEW = "under_review", "Under review"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    # How far along a case is: a report of a lower rank than the state held is stale (it was
    # read before the newer one) and is ignored. Final states never change again.
    RANK = {
        Status.WARNING_NEEDS_RESPONSE: 0,
        Status.WARNING_UNDER_REVIEW: 1,
        Status.NEEDS_RESPONSE: 2,
        Status.UNDER_REVIEW: 3,
        Status.WARNING_CLOSED: 4,
        Status.WON: 4,
        Status.LOST: 4,
    }
    FINAL = (Status.WARNING_CLOSED, Status.WON, Status.LOST)
    # The money of these is out of the merchant's hands: it cannot be refunded as well.
    HOLDING = (Status.NEEDS_RESPONSE, Status.UNDER_REVIEW, Status.LOST)

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    public_id = models.CharField(max_length=40, unique=True, default=_dispute_id, editable=False)
    livemode = models.BooleanField(
        default=False,
        help_text="True for real money (made with a live key), false for test mode.",
    )
    leg = models.ForeignKey("payments.Leg", on_delete=models.PROTECT, related_name="disputes")
    provider = models.CharField(max_length=20)
    provider_reference = models.CharField(
        max_length=80, help_text="The provider's id of the dispute (Stripe's dp_…)."
    )
    amount = models.BigIntegerField(help_text="Integer amount in minor units disputed.")
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=24, choices=Reason.choices, default=Reason.OTHER)
    raw_reason = models.CharField(max_length=80, blank=True, help_text="The provider's reason.")
    status = models.CharField(max_length=24, choices=Status.choices)
    evidence_due_by = models.DateTimeField(
        null=True, blank=True, help_text="When the provider must have the merchant's evidence."
    )
    funds_withdrawn = models.BigIntegerField(
        default=0, help_text="Integer amount in minor units the provider took back so far."
    )
    funds_reinstated = models.BigIntegerField(
        default=0, help_text="Integer amount in minor units the provider gave back so far."
    )
    fee = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Integer amount in minor units the provider charges the merchant for the "
        "dispute, net of any it gave back (Stripe's dispute fee, from the dispute's balance "
        "transactions); null while it reports none, or one in another currency.",
    )
    state_at = models.DateTimeField(help_text="When the state held here was the provider's.")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # Per merchant and mode: an account's reports can only ever reach its own books.
            models.UniqueConstraint(
                fields=["merchant", "livemode", "provider", "provider_reference"],
                name="dispute_unique_provider_reference",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="dispute_amount_gt_0"),
            models.CheckConstraint(
                condition=models.Q(funds_withdrawn__gte=0, funds_reinstated__gte=0),
                name="dispute_funds_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.status}"

    @property
    def is_closed(self) -> bool:
        return self.status in self.FINAL

    @property
    def amount_held(self) -> int:
        """What this dispute keeps out of reach of a refund: the disputed amount while a
        chargeback is open or once it is lost; nothing for an inquiry or a won case."""
        return self.amount if self.status in self.HOLDING else 0
