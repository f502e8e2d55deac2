"""The sandbox card acquirer's own books: a card vault and a ledger of holds and debits.

These tables stand for the *provider's* side, not the product's: the product only ever keeps
the references the adapter hands back. They exist so tests (and the demo) can ask the
acquirer what a payer was held and charged, exactly as one would check a bank statement.

No card number and no CVC is ever stored (ARCHITECTURE.md guarantee 8): a card is its token,
brand, last four digits, expiry and a keyed fingerprint.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant, TimeStamped
from pushpay.ids import new_public_id

MINOR_UNITS_HELP = "Integer amount in minor units of the currency (cents for EUR)."


def _token() -> str:
    return new_public_id("tok")


def _authorisation_id() -> str:
    return new_public_id("auth")


def _entry_id() -> str:
    return new_public_id("le")


class SandboxCard(TimeStamped):
    """A tokenised test card. ``behaviour`` is decided from the number at tokenisation,
    since the number itself is gone once the token exists."""

    class Behaviour(models.TextChoices):
        """How the acquirer answers an authorisation on this card."""

        SUCCEED = "succeed", _("Succeeds")
        DECLINE = "decline", _("Declined")
        INSUFFICIENT_FUNDS = "insufficient_funds", _("Insufficient funds")
        CHALLENGE = "challenge", _("3-D Secure challenge")
        TIMEOUT = "timeout", _("Times out at the provider")
        EXPIRED = "expired", _("Refused as expired by the issuer")

    token = models.CharField(max_length=40, unique=True, default=_token, editable=False)
    brand = models.CharField(max_length=20)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    fingerprint = models.CharField(
        max_length=64,
        db_index=True,
        help_text="HMAC-SHA256 of the card number keyed with SECRET_KEY: one per card number.",
    )
    behaviour = models.CharField(max_length=20, choices=Behaviour.choices)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(exp_month__gte=1, exp_month__lte=12), name="sandbox_card_exp_month"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand} •••• {self.last4} ({self.token})"


class SandboxAuthorisation(TimeStamped):
    """One authorise call and everything done to it since (capture, void, refund).

    The running totals live on this row so that a capture or a void can lock it
    (``select_for_update``) and check them without racing another call on the same hold.
    """

    class Status(models.TextChoices):
        """Where the authorisation stands. Only ``payments.sandbox.services`` changes it."""

        REQUIRES_ACTION = "requires_action", _("Requires action")
        """Waiting for the payer on the 3-D Secure page; nothing is held yet."""
        AUTHORISED = "authorised", _("Authorised")
        """Money is held; part of it may already be captured."""
        CAPTURED = "captured", _("Captured")
        """Nothing is held any more and something was taken (partial refunds stay here)."""
        REFUNDED = "refunded", _("Refunded")
        """Everything taken was given back (final)."""
        CANCELLED = "cancelled", _("Cancelled")
        """Voided before anything was taken; nothing is held (final)."""
        FAILED = "failed", _("Failed")
        """Refused by the acquirer or the payer; nothing was ever held (final)."""

    TRANSITIONS = {
        Status.REQUIRES_ACTION: {Status.AUTHORISED, Status.FAILED, Status.CANCELLED},
        Status.AUTHORISED: {Status.CAPTURED, Status.CANCELLED},
        Status.CAPTURED: {Status.REFUNDED},
        Status.REFUNDED: set(),
        Status.CANCELLED: set(),
        Status.FAILED: set(),
    }

    class FailureReason(models.TextChoices):
        DECLINED = "declined", _("Declined")
        INSUFFICIENT_FUNDS = "insufficient_funds", _("Insufficient funds")
        AUTHENTICATION_FAILED = "authentication_failed", _("Authentication failed")
        EXPIRED_CARD = "expired_card", _("Expired card")

    public_id = models.CharField(
        max_length=40, unique=True, default=_authorisation_id, editable=False
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    card = models.ForeignKey(SandboxCard, on_delete=models.PROTECT, related_name="authorisations")
    fingerprint = models.CharField(max_length=64, db_index=True)
    currency = models.CharField(max_length=3, help_text="ISO 4217 code.")
    amount = models.BigIntegerField(help_text=MINOR_UNITS_HELP + " The amount asked for.")
    amount_captured = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)
    amount_released = models.BigIntegerField(
        default=0, help_text=MINOR_UNITS_HELP + " Held, then let go by a void."
    )
    amount_refunded = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)
    status = models.CharField(max_length=20, choices=Status.choices)
    failure_reason = models.CharField(max_length=30, choices=FailureReason.choices, blank=True)
    return_url = models.CharField(max_length=2000, blank=True)
    idempotency_key = models.CharField(max_length=255)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"], name="sandbox_auth_unique_key"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="sandbox_auth_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_captured__gte=0, amount_released__gte=0)
                & Q(amount__gte=F("amount_captured") + F("amount_released")),
                name="sandbox_auth_never_takes_more_than_held",
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0) & Q(amount_captured__gte=F("amount_refunded")),
                name="sandbox_auth_never_refunds_more_than_taken",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount} {self.currency} ({self.status})"

    @property
    def amount_held(self) -> int:
        if self.status != self.Status.AUTHORISED:
            return 0
        return self.amount - self.amount_captured - self.amount_released


class SandboxLedgerEntry(TimeStamped):
    """One movement on a card: the acquirer's statement line.

    The card's balance is the sum of these rows, never of the running totals above, so a
    bug in the totals would show up as a mismatch instead of hiding itself.
    """

    class Kind(models.TextChoices):
        HOLD = "hold", _("Hold")  # money set aside on the card
        CAPTURE = "capture", _("Capture")  # part of a hold turned into a debit
        VOID = "void", _("Void")  # what remained of a hold, released
        REFUND = "refund", _("Refund")  # part of a debit given back

    class Status(models.TextChoices):
        """Whether the movement happened. Refused captures, voids and refunds raise
        instead of writing a row, so only holds are ever ``failed``."""

        SUCCEEDED = "succeeded", _("Succeeded")
        """The movement happened and counts in the balance."""
        FAILED = "failed", _("Failed")
        """A hold the acquirer or the payer refused; kept for the record, counts for nothing."""

    public_id = models.CharField(max_length=40, unique=True, default=_entry_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    authorisation = models.ForeignKey(
        SandboxAuthorisation, on_delete=models.PROTECT, related_name="entries"
    )
    fingerprint = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.BigIntegerField(help_text=MINOR_UNITS_HELP)
    currency = models.CharField(max_length=3, help_text="ISO 4217 code.")
    status = models.CharField(max_length=10, choices=Status.choices)
    failure_reason = models.CharField(max_length=30, blank=True)
    idempotency_key = models.CharField(max_length=255)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "kind", "idempotency_key"],
                name="sandbox_entry_unique_key_per_kind",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="sandbox_entry_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.status})"
