"""The sandbox PayPal's own books: orders the payer approves, and a ledger of their money.

Modelled on PayPal's Orders v2 API with ``intent=AUTHORIZE``: the merchant creates an order,
the payer approves it at an approval link, the merchant authorizes the approved order (money
is held), then captures the authorization, voids it, or refunds the capture. Like the card
sandbox's tables, these stand for the *provider's* side; the product keeps only the order id.

PayPal spreads that lifecycle over three resources (order, authorization, capture), each with
its own status. A sandbox order never has more than one authorization, so one row and one
status field carry all three; the values reuse PayPal's names where PayPal has one.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant, TimeStamped
from pushpay.ids import new_public_id, random_string

from .models import MINOR_UNITS_HELP


def _order_id() -> str:
    # PayPal's own order ids carry far less randomness; this one also names the approval
    # page, which is reached without any merchant scope, so it gets the product's 143 bits.
    return f"PAY-{random_string(24)}"


def _entry_id() -> str:
    return new_public_id("ppl")


class SandboxPayPalOrder(TimeStamped):
    """One ``authorise`` call: a PayPal order, its single authorization and its captures.

    The running totals live on this row so that a capture, void or refund can lock it
    (``select_for_update``) and check them without racing another call on the same order.
    """

    class Status(models.TextChoices):
        """Where the order stands. Only ``payments.sandbox.paypal`` changes it."""

        CREATED = "CREATED", _("Created")
        """Waiting for the payer at the approval link; nothing is held."""
        APPROVED = "APPROVED", _("Approved")
        """The payer approved; nothing is held until the merchant authorizes the order."""
        COMPLETED = "COMPLETED", _("Authorized")
        """The AUTHORIZE intent is done: money is held; part of it may already be captured."""
        CAPTURED = "CAPTURED", _("Captured")
        """Nothing is held any more and something was taken (partial refunds stay here)."""
        REFUNDED = "REFUNDED", _("Refunded")
        """Everything taken was given back (final)."""
        VOIDED = "VOIDED", _("Voided")
        """Voided before anything was taken, approved or not; nothing is held (final)."""
        PAYER_CANCELLED = "PAYER_CANCELLED", _("Cancelled by the payer")
        """The payer chose Cancel at the approval link; nothing was ever held (final).
        PayPal itself leaves such an order CREATED until it expires; the sandbox says it."""
        DENIED = "DENIED", _("Denied")
        """PayPal refused to authorize the approved order; nothing was ever held (final)."""

    TRANSITIONS = {
        Status.CREATED: {Status.APPROVED, Status.PAYER_CANCELLED, Status.VOIDED},
        Status.APPROVED: {Status.COMPLETED, Status.DENIED, Status.VOIDED},
        Status.COMPLETED: {Status.CAPTURED, Status.VOIDED},
        Status.CAPTURED: {Status.REFUNDED},
        Status.REFUNDED: set(),
        Status.VOIDED: set(),
        Status.PAYER_CANCELLED: set(),
        Status.DENIED: set(),
    }

    class Scenario(models.TextChoices):
        """How the sandbox answers, picked by the ``source`` given to ``authorise``."""

        NORMAL = "paypal", _("The payer decides on the approval page")
        DENY = "paypal-denied", _("Approved, then PayPal denies the authorization")
        TIMEOUT = "paypal-timeout", _("The order is created but the answer is lost")

    public_id = models.CharField(max_length=40, unique=True, default=_order_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    scenario = models.CharField(max_length=20, choices=Scenario.choices)
    currency = models.CharField(max_length=3, help_text="ISO 4217 code.")
    amount = models.BigIntegerField(help_text=MINOR_UNITS_HELP + " The order's amount.")
    amount_captured = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)
    amount_released = models.BigIntegerField(
        default=0, help_text=MINOR_UNITS_HELP + " Held, then let go by a void."
    )
    amount_refunded = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CREATED)
    return_url = models.CharField(max_length=2000, blank=True)
    idempotency_key = models.CharField(
        max_length=255, help_text="PayPal-Request-Id of the create call; unique per merchant."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"], name="sandbox_paypal_unique_key"
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="sandbox_paypal_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(amount_captured__gte=0, amount_released__gte=0)
                & Q(amount__gte=F("amount_captured") + F("amount_released")),
                name="sandbox_paypal_never_takes_more_than_held",
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0) & Q(amount_captured__gte=F("amount_refunded")),
                name="sandbox_paypal_never_refunds_more_than_taken",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount} {self.currency} ({self.status})"

    @property
    def amount_held(self) -> int:
        if self.status != self.Status.COMPLETED:
            return 0
        return self.amount - self.amount_captured - self.amount_released


class SandboxPayPalLedgerEntry(TimeStamped):
    """One movement on a PayPal order: the payer's PayPal statement line.

    Balances are sums of these rows, never of the order's running totals, so a bug in the
    totals shows up as a mismatch instead of hiding itself.
    """

    class Kind(models.TextChoices):
        HOLD = "hold", _("Hold")  # the authorization: money set aside on the payer's account
        CAPTURE = "capture", _("Capture")  # part of the authorization taken
        VOID = "void", _("Void")  # what remained of the authorization, released
        REFUND = "refund", _("Refund")  # part of a capture given back

    class Status(models.TextChoices):
        """Whether the movement happened. Refused captures, voids and refunds raise instead
        of writing a row, so only holds (a denied authorization) are ever ``failed``."""

        SUCCEEDED = "succeeded", _("Succeeded")
        """The movement happened and counts in the balance."""
        FAILED = "failed", _("Failed")
        """An authorization PayPal denied; kept for the record, counts for nothing."""

    public_id = models.CharField(max_length=40, unique=True, default=_entry_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(SandboxPayPalOrder, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.BigIntegerField(help_text=MINOR_UNITS_HELP)
    currency = models.CharField(max_length=3, help_text="ISO 4217 code.")
    status = models.CharField(max_length=10, choices=Status.choices)
    idempotency_key = models.CharField(max_length=255)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "kind", "idempotency_key"],
                name="sandbox_paypal_entry_unique_key_per_kind",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="sandbox_paypal_entry_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.status})"
