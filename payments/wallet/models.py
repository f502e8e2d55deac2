"""The cashback wallet's books: stored value a merchant gives its customers.

A wallet belongs to one holder (an email or an E.164 phone number) of one merchant in one
mode; test and live wallets never meet. Every movement is a ``WalletTransaction`` with two
or more ``WalletPosting`` rows that sum to zero, so money is only ever moved between
accounts, never made or lost:

- the holder's side: ``available`` (what they can spend) and ``held`` (set aside by an
  authorisation, not taken yet);
- the merchant's side: ``cashback`` and ``goodwill`` (where credits come from), ``captured``
  (what was spent on payments), ``expired`` and ``adjustment``.

A posting's amount is what flows *into* its account (negative: out of it). The wallet row
caches ``balance`` (the sum of its available postings) and ``held`` (its held postings),
guarded by CheckConstraints; ``payments.wallet.services.wallet_consistency_errors`` says
whether the cache and the postings agree.

Credits are kept as lots (``WalletLot``) so that an expiry can remove exactly what is left
of an expired credit; the rule for which lot a spend comes from is in the services module.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant, TimeStamped
from pushpay.history import AuditedHistory
from pushpay.i18n import LANGUAGES
from pushpay.ids import new_public_id

MINOR_UNITS_HELP = "Integer amount in minor units of the currency (cents for EUR)."


def _wallet_id() -> str:
    return new_public_id("wal")


def _transaction_id() -> str:
    return new_public_id("wtx")


def _hold_id() -> str:
    return new_public_id("wh")


class Wallet(TimeStamped):
    """One holder's stored value at one merchant, in one mode and one currency."""

    public_id = models.CharField(max_length=40, unique=True, default=_wallet_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    livemode = models.BooleanField(
        default=False, help_text="True for real money (made with a live key), false for test mode."
    )
    holder_email = models.CharField(
        max_length=254, blank=True, help_text="Lower-cased, so a payer's case never matters."
    )
    holder_phone = models.CharField(max_length=20, blank=True, help_text="E.164.")
    language = models.CharField(max_length=2, choices=LANGUAGES, default="fr")
    currency = models.CharField(max_length=3)
    balance = models.BigIntegerField(
        default=0, help_text=MINOR_UNITS_HELP + " What the holder can spend now (not held)."
    )
    held = models.BigIntegerField(
        default=0, help_text=MINOR_UNITS_HELP + " Set aside by authorisations, not taken yet."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "livemode", "holder_email"],
                condition=~Q(holder_email=""),
                name="wallet_one_per_email",
            ),
            models.UniqueConstraint(
                fields=["merchant", "livemode", "holder_phone"],
                condition=~Q(holder_phone=""),
                name="wallet_one_per_phone",
            ),
            models.CheckConstraint(
                condition=(Q(holder_email="") & ~Q(holder_phone=""))
                | (~Q(holder_email="") & Q(holder_phone="")),
                name="wallet_one_holder",
            ),
            models.CheckConstraint(condition=Q(balance__gte=0), name="wallet_balance_gte_0"),
            models.CheckConstraint(condition=Q(held__gte=0), name="wallet_held_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.balance} {self.currency}"

    @property
    def holder(self) -> str:
        return self.holder_email or self.holder_phone


class WalletHold(TimeStamped):
    """One authorisation on a wallet and everything done to it since: the adapter's
    ``provider_reference``."""

    class Status(models.TextChoices):
        AUTHORISED = "authorised", _("Authorised")  # held; part may already be captured
        CAPTURED = "captured", _("Captured")  # nothing held any more, something taken
        REFUNDED = "refunded", _("Refunded")  # everything taken was re-credited (final)
        CANCELLED = "cancelled", _("Cancelled")  # released before anything was taken (final)
        FAILED = "failed", _("Failed")  # refused: nothing was ever held (final)

    TRANSITIONS = {
        Status.AUTHORISED: {Status.CAPTURED, Status.CANCELLED},
        Status.CAPTURED: {Status.REFUNDED},
        Status.REFUNDED: set(),
        Status.CANCELLED: set(),
        Status.FAILED: set(),
    }

    public_id = models.CharField(max_length=40, unique=True, default=_hold_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    livemode = models.BooleanField(default=False)
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="holds")
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField(help_text=MINOR_UNITS_HELP + " The amount asked for.")
    amount_captured = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)
    amount_released = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)
    amount_refunded = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)
    status = models.CharField(max_length=20, choices=Status.choices)
    failure_reason = models.CharField(max_length=30, blank=True)
    idempotency_key = models.CharField(max_length=255)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"], name="wallet_hold_unique_key"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="wallet_hold_amount_gt_0"),
            models.CheckConstraint(
                condition=Q(amount_captured__gte=0, amount_released__gte=0)
                & Q(amount__gte=F("amount_captured") + F("amount_released")),
                name="wallet_hold_never_takes_more_than_held",
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0) & Q(amount_captured__gte=F("amount_refunded")),
                name="wallet_hold_never_refunds_more_than_taken",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount} {self.currency} ({self.status})"

    @property
    def amount_held(self) -> int:
        if self.status != self.Status.AUTHORISED:
            return 0
        return self.amount - self.amount_captured - self.amount_released


class WalletTransaction(models.Model):
    """One balanced movement on a wallet (its postings sum to zero): a ledger entry.

    Rows are never changed. ``amount`` is the size of the movement (positive); which way it
    went is in the postings. ``idempotency_key`` is unique per merchant, so a retried call
    finds the movement it made the first time instead of making a second one.
    """

    class Kind(models.TextChoices):
        CREDIT = "credit", _("Credit")  # cashback or goodwill given to the holder
        HOLD = "hold", _("Hold")  # available -> held
        CAPTURE = "capture", _("Capture")  # held -> captured (spent)
        RELEASE = "release", _("Release")  # held -> available
        REFUND = "refund", _("Refund")  # captured -> available (a payment given back)
        EXPIRY = "expiry", _("Expiry")  # available -> expired (what was left of a credit)
        ADJUSTMENT = "adjustment", _("Adjustment")  # an operator's correction, with a reason
        REVERSAL = "reversal", _("Cashback reversal")  # the payment that earned it was refunded

    class Source(models.TextChoices):
        CASHBACK = "cashback", _("Cashback")
        GOODWILL = "goodwill", _("Goodwill")

    public_id = models.CharField(
        max_length=40, unique=True, default=_transaction_id, editable=False
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    livemode = models.BooleanField(default=False)
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="transactions")
    hold = models.ForeignKey(
        WalletHold, null=True, blank=True, on_delete=models.PROTECT, related_name="transactions"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    source = models.CharField(max_length=10, choices=Source.choices, blank=True)
    amount = models.BigIntegerField(help_text=MINOR_UNITS_HELP)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=300, blank=True)
    reference = models.CharField(
        max_length=80, blank=True, help_text="What caused it: a checkout's id for cashback."
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"], name="wallet_transaction_unique_key"
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="wallet_transaction_amount_gt_0"
            ),
        ]
        indexes = [models.Index(fields=["wallet", "created_at"])]

    def __str__(self) -> str:
        return f"{self.public_id} {self.kind} {self.amount} {self.currency}"


class WalletPosting(models.Model):
    """One leg of a ledger entry on one account; an entry's postings sum to zero."""

    class Account(models.TextChoices):
        AVAILABLE = "available", _("Holder: available")
        HELD = "held", _("Holder: held")
        CASHBACK = "cashback", _("Merchant: cashback given")
        GOODWILL = "goodwill", _("Merchant: goodwill given")
        CAPTURED = "captured", _("Merchant: spent on payments")
        EXPIRED = "expired", _("Merchant: expired")
        ADJUSTMENT = "adjustment", _("Merchant: adjustments")

    HOLDER_ACCOUNTS = (Account.AVAILABLE, Account.HELD)

    transaction = models.ForeignKey(
        WalletTransaction, on_delete=models.PROTECT, related_name="postings"
    )
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="postings")
    account = models.CharField(max_length=12, choices=Account.choices)
    amount = models.BigIntegerField(
        help_text=MINOR_UNITS_HELP + " Into the account when positive, out of it when negative."
    )

    class Meta:
        ordering = ["transaction_id", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="wallet_posting_amount_not_0"),
        ]
        indexes = [models.Index(fields=["wallet", "account"])]

    def __str__(self) -> str:
        return f"{self.account} {self.amount:+d}"


class WalletLot(models.Model):
    """What is left of one credit (or re-credit): the unit an expiry removes and a spend
    consumes. The lots' ``remaining`` always sum to the wallet's balance."""

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="lots")
    transaction = models.OneToOneField(
        WalletTransaction, on_delete=models.PROTECT, related_name="lot"
    )
    amount = models.BigIntegerField(help_text=MINOR_UNITS_HELP)
    remaining = models.BigIntegerField(help_text=MINOR_UNITS_HELP)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["wallet_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("amount")),
                name="wallet_lot_remaining_within_amount",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"], condition=Q(remaining__gt=0), name="wallet_lot_expiring"
            )
        ]

    def __str__(self) -> str:
        return f"lot {self.pk}: {self.remaining}/{self.amount}"


class WalletLotUse(models.Model):
    """How much of a lot a hold set aside, so a release puts it back in the very lot (and a
    credit that expired meanwhile still expires)."""

    hold = models.ForeignKey(WalletHold, on_delete=models.PROTECT, related_name="lot_uses")
    lot = models.ForeignKey(WalletLot, on_delete=models.PROTECT, related_name="uses")
    amount = models.BigIntegerField(help_text=MINOR_UNITS_HELP)
    returned = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)

    class Meta:
        ordering = ["hold_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0) & Q(returned__gte=0) & Q(returned__lte=F("amount")),
                name="wallet_lot_use_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"hold {self.hold_id} lot {self.lot_id}: {self.amount} ({self.returned} back)"


class CashbackRule(TimeStamped):
    """A merchant's cashback offer: ``rate_bps`` of each captured card or PayPal leg, at most
    ``cap`` per payment, credited to the payer's wallet. No row: no cashback."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=True)
    rate_bps = models.PositiveIntegerField(help_text="Basis points: 150 is 1.5 %.")
    cap = models.BigIntegerField(
        null=True, blank=True, help_text=MINOR_UNITS_HELP + " The most one payment earns."
    )
    valid_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days a cashback credit can be spent (none: forever)."
    )

    history = AuditedHistory(kind="cashback_rule", ident=None)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(rate_bps__gt=0) & Q(rate_bps__lte=10000), name="cashback_rate_range"
            ),
            models.CheckConstraint(
                condition=Q(cap__isnull=True) | Q(cap__gt=0), name="cashback_cap_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rate_bps} bps for merchant {self.merchant_id}"


class CashbackGrant(TimeStamped):
    """The cashback one checkout earned, once: what it was credited and what was taken back
    since its payment was refunded."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    livemode = models.BooleanField(default=False)
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="grants")
    checkout = models.CharField(max_length=40, help_text="The checkout's public id.")
    eligible_amount = models.BigIntegerField(
        help_text=MINOR_UNITS_HELP + " Card and PayPal money captured by the checkout."
    )
    amount = models.BigIntegerField(help_text=MINOR_UNITS_HELP + " Cashback credited.")
    amount_reversed = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)
    amount_unrecovered = models.BigIntegerField(
        default=0,
        help_text=MINOR_UNITS_HELP + " Reversal the holder had already spent (never negative).",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "checkout"], name="cashback_grant_unique"),
            models.CheckConstraint(
                condition=Q(amount__gt=0)
                & Q(amount_reversed__gte=0)
                & Q(amount_unrecovered__gte=0)
                & Q(amount__gte=F("amount_reversed") + F("amount_unrecovered")),
                name="cashback_grant_reversal_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"cashback {self.amount} for {self.checkout}"
