from django.db import models
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant, TimeStamped
from pushpay.history import AuditedHistory
from pushpay.ids import new_public_id

# The sandbox acquirer's tables live in their own module; importing them here is what makes
# them part of this app for Django (models are discovered through ``payments.models``).
from .credentials_models import ProviderCredential, ProviderEvent
from .installments.models import Installment, InstallmentPlan
from .sandbox.models import SandboxAuthorisation, SandboxCard, SandboxLedgerEntry
from .sandbox.paypal_models import SandboxPayPalLedgerEntry, SandboxPayPalOrder
from .sandbox.voucher_models import SandboxVoucherAccount, SandboxVoucherEntry, SandboxVoucherHold
from .wallet.models import (
    CashbackGrant,
    CashbackRule,
    Wallet,
    WalletHold,
    WalletLot,
    WalletLotUse,
    WalletPosting,
    WalletTransaction,
)

__all__ = [
    "CashbackGrant",
    "CashbackRule",
    "Checkout",
    "Installment",
    "InstallmentPlan",
    "Leg",
    "LegOperation",
    "MerchantPaymentMethod",
    "MerchantPaymentSettings",
    "ProviderCredential",
    "ProviderEvent",
    "SandboxAuthorisation",
    "SandboxCard",
    "SandboxLedgerEntry",
    "SandboxPayPalLedgerEntry",
    "SandboxPayPalOrder",
    "SandboxVoucherAccount",
    "SandboxVoucherEntry",
    "SandboxVoucherHold",
    "Wallet",
    "WalletHold",
    "WalletLot",
    "WalletLotUse",
    "WalletPosting",
    "WalletTransaction",
]


class MerchantPaymentMethod(TimeStamped):
    """A merchant's explicit choice to offer a payment method or not.

    No row means "the method's default" (see ``payments.registry``), so adding a method to
    the product never needs a data migration for existing merchants. ``method`` is a registry
    code rather than a choices field: methods are plug-ins, and a row for a method whose
    adapter was removed is simply ignored.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=40)
    enabled = models.BooleanField()
    min_leg_amount = models.BigIntegerField(
        default=0,
        help_text="Integer amount in minor units: the least this method may pay in a combined "
        "payment (0: no minimum).",
    )
    combinable_with = models.JSONField(
        null=True,
        blank=True,
        help_text="Codes of the methods this one may be combined with; null: any, []: never "
        "(this method pays alone).",
    )

    history = AuditedHistory(kind="payment_method", ident="method")

    class Meta:
        ordering = ["merchant_id", "method"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "method"], name="merchant_payment_method_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {'on' if self.enabled else 'off'} for merchant {self.merchant_id}"


class MerchantPaymentSettings(TimeStamped):
    """How a merchant lets payers combine methods in one payment. No row: the defaults."""

    DEFAULT_MAX_METHODS = 3
    MAX_METHODS_LIMIT = 5

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="+")
    max_methods_per_payment = models.PositiveSmallIntegerField(default=DEFAULT_MAX_METHODS)

    history = AuditedHistory(kind="payment_settings", ident=None)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_methods_per_payment__gte=1)
                & models.Q(max_methods_per_payment__lte=5),
                name="payment_settings_max_methods_range",
            ),
        ]

    def __str__(self) -> str:
        return f"at most {self.max_methods_per_payment} methods for merchant {self.merchant_id}"


def _checkout_id() -> str:
    return new_public_id("co")


def _leg_id() -> str:
    return new_public_id("lg")


class Checkout(TimeStamped):
    """One payer's attempt to pay an amount of one request: the saga over its legs.

    Today a checkout has one leg (one payment method); combined payments add legs whose
    holds are only captured once they sum to the amount (ARCHITECTURE.md guarantee 2). The
    amount is reserved against what is due from the moment the checkout exists, so two tabs
    or two payers can never take more than is due (guarantee 3).
    """

    class Status(models.TextChoices):
        """Where the attempt stands. Only ``payments.services`` changes it."""

        PENDING = "pending", _("Pending")  # amount reserved, provider being asked
        REQUIRES_ACTION = "requires_action", _("Requires action")  # payer must authenticate
        AUTHORISED = "authorised", _("Authorised")  # held until every share is held (on_completion)
        SUCCEEDED = "succeeded", _("Succeeded")  # captured and booked on the participant
        FAILED = "failed", _("Failed")  # refused or unwound: nothing taken
        CANCELLED = "cancelled", _("Cancelled")  # the hold was released (expiry): nothing taken
        REFUNDED = "refunded", _("Refunded")  # captured, then given back
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")  # part given back

    # The status is derived from the legs (``payments.services.legs.checkout_status_of``);
    # this table guards the derived value, so a bug in a leg move cannot go backwards.
    TRANSITIONS = {
        Status.PENDING: {
            Status.REQUIRES_ACTION,
            Status.AUTHORISED,
            Status.SUCCEEDED,
            Status.FAILED,
            Status.CANCELLED,  # recovery found the payer gone: every hold released
            Status.REFUNDED,
        },
        Status.REQUIRES_ACTION: {
            Status.AUTHORISED,
            Status.SUCCEEDED,
            Status.FAILED,
            Status.CANCELLED,
            Status.REFUNDED,
            Status.PENDING,  # back from the provider's page, a capture's answer was lost
        },
        Status.AUTHORISED: {
            Status.SUCCEEDED,
            Status.CANCELLED,
            Status.FAILED,
            Status.REFUNDED,
            Status.PENDING,  # a capture whose answer was lost: recovery decides
        },
        Status.SUCCEEDED: {Status.REFUNDED, Status.PARTIALLY_REFUNDED},
        Status.PARTIALLY_REFUNDED: {Status.REFUNDED},
        Status.FAILED: set(),
        Status.CANCELLED: set(),
        Status.REFUNDED: set(),
    }
    # Checkouts whose amount counts against what is still due.
    IN_FLIGHT = (Status.PENDING, Status.REQUIRES_ACTION, Status.AUTHORISED)

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    public_id = models.CharField(max_length=40, unique=True, default=_checkout_id, editable=False)
    livemode = models.BooleanField(
        default=False,
        help_text="True for real money (made with a live key), false for test mode.",
    )
    request = models.ForeignKey(
        "requests_app.PaymentRequest", on_delete=models.PROTECT, related_name="checkouts"
    )
    participant = models.ForeignKey(
        "requests_app.Participant", on_delete=models.PROTECT, related_name="checkouts"
    )
    amount = models.BigIntegerField(help_text="Integer amount in minor units.")
    fee_amount = models.BigIntegerField(
        default=0,
        help_text="Integer amount in minor units: the part of amount that is an installment "
        "plan's fee. It is charged with the rest but never booked on the share, and kept "
        "when the share is refunded.",
    )
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    failure_reason = models.CharField(max_length=32, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    language = models.CharField(max_length=2, default="en")
    form_submission = models.CharField(max_length=40, blank=True, help_text="fs_… public id")
    installment = models.CharField(
        max_length=40, blank=True, help_text="in_… when this checkout charges an installment"
    )
    return_url = models.CharField(
        max_length=500,
        blank=True,
        help_text="Where a provider's page (3-D Secure, PayPal) sends the payer back; kept "
        "because a combined checkout authorises its redirect legs one visit after another.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="checkout_amount_gt_0"),
            models.CheckConstraint(
                condition=models.Q(fee_amount__gte=0, fee_amount__lt=models.F("amount")),
                name="checkout_fee_within_amount",
            ),
        ]
        indexes = [models.Index(fields=["participant", "status"])]

    def __str__(self) -> str:
        return f"{self.public_id} {self.status}"


class Leg(TimeStamped):
    """The part of a checkout paid with one method; the provider's hold and capture.

    Its state is saved before every provider call, and each call uses an idempotency key
    derived from the leg's id, so a retry after a crash replays instead of charging again.
    Only ``payments.services.legs.leg_transition`` changes ``status``, along ``TRANSITIONS``.
    """

    class Status(models.TextChoices):
        CREATED = "created", _("Created")  # saved, provider not yet asked
        REQUIRES_ACTION = "requires_action", _("Requires action")  # waiting for 3-D Secure
        AUTHORISED = "authorised", _("Authorised")  # held on the payer's account
        CAPTURED = "captured", _("Captured")  # taken
        FAILED = "failed", _("Failed")  # refused, or unwound: nothing taken
        VOIDED = "voided", _("Voided")  # hold released
        REFUNDED = "refunded", _("Refunded")  # taken, then all given back
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")  # part given back
        UNKNOWN = "unknown", _("Unknown")  # the provider did not answer; recovery decides

    # An unknown leg may turn out to be in any state the provider can report; a failed,
    # voided or refunded leg is final: nothing of it can be held or taken again.
    TRANSITIONS = {
        Status.CREATED: {
            Status.REQUIRES_ACTION,
            Status.AUTHORISED,
            Status.CAPTURED,
            Status.FAILED,
            Status.UNKNOWN,
            Status.VOIDED,  # never asked: another leg failed or the payer left first
        },
        Status.REQUIRES_ACTION: {
            Status.AUTHORISED,
            Status.CAPTURED,
            Status.FAILED,
            Status.VOIDED,
            Status.UNKNOWN,
        },
        Status.AUTHORISED: {Status.CAPTURED, Status.VOIDED, Status.FAILED, Status.UNKNOWN},
        Status.UNKNOWN: {
            Status.REQUIRES_ACTION,
            Status.AUTHORISED,
            Status.CAPTURED,
            Status.FAILED,
            Status.VOIDED,
        },
        Status.CAPTURED: {Status.REFUNDED, Status.PARTIALLY_REFUNDED},
        Status.PARTIALLY_REFUNDED: {Status.PARTIALLY_REFUNDED, Status.REFUNDED},
        Status.FAILED: set(),
        Status.VOIDED: set(),
        Status.REFUNDED: set(),
    }
    # Legs whose money is, or may be, held at the provider.
    HOLDING = (Status.REQUIRES_ACTION, Status.AUTHORISED, Status.UNKNOWN)
    # Legs whose money was taken (some of it may have been given back since).
    TAKEN = (Status.CAPTURED, Status.PARTIALLY_REFUNDED, Status.REFUNDED)

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    public_id = models.CharField(max_length=40, unique=True, default=_leg_id, editable=False)
    livemode = models.BooleanField(
        default=False,
        help_text="True for real money (made with a live key), false for test mode.",
    )
    checkout = models.ForeignKey(Checkout, on_delete=models.CASCADE, related_name="legs")
    method = models.CharField(max_length=40)
    provider = models.CharField(
        max_length=20,
        blank=True,
        help_text="The adapter that serves this leg (sandbox, stripe …), fixed when the leg is "
        "created: its capture, void and refund go to the same provider even if the merchant's "
        "credentials change meanwhile. Blank on legs older than the field.",
    )
    amount = models.BigIntegerField(help_text="Integer amount in minor units.")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CREATED)
    amount_refunded = models.BigIntegerField(
        default=0, help_text="Integer amount in minor units given back so far."
    )
    amount_refund_pending = models.BigIntegerField(
        default=0,
        help_text="Integer amount in minor units of the one refund asked of the provider and "
        "not yet booked: reserved under the request's lock, so two refunds never give the "
        "same money back twice.",
    )
    provider_reference = models.CharField(max_length=80, blank=True)
    source = models.CharField(
        max_length=80,
        blank=True,
        help_text="The provider's token for the payment details (never card data); kept so "
        "recovery can replay the authorisation with its idempotency key.",
    )
    action_url = models.URLField(max_length=500, blank=True)
    failure_reason = models.CharField(max_length=32, blank=True)
    source_brand = models.CharField(max_length=20, blank=True)
    source_last4 = models.CharField(max_length=4, blank=True)
    source_exp_month = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The card's expiry month as the provider gave it."
    )
    source_exp_year = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The card's expiry year as the provider gave it."
    )
    saved_source = models.CharField(
        max_length=80,
        blank=True,
        help_text="The provider's reusable token for the card this leg saved for later "
        "charges without the payer (an installment plan's first charge); never card data.",
    )

    class Meta:
        ordering = ["checkout_id", "id"]
        # The dashboard: money taken per day and method, one merchant's mode at a time.
        indexes = [
            models.Index(fields=["merchant", "livemode", "created_at"], name="leg_dashboard")
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="leg_amount_gt_0"),
            models.CheckConstraint(
                condition=models.Q(amount_refunded__gte=0)
                & models.Q(amount_refunded__lte=models.F("amount")),
                name="leg_refund_within_amount",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_refund_pending__gte=0)
                & models.Q(
                    amount_refund_pending__lte=models.F("amount") - models.F("amount_refunded")
                ),
                name="leg_refund_pending_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.method} {self.status}"

    def idempotency_key(self, operation: str) -> str:
        return f"{self.public_id}:{operation}"

    @property
    def amount_refundable(self) -> int:
        """What a new refund may still give back: taken, not refunded, not being refunded."""
        if self.status not in self.TAKEN:
            return 0
        return self.amount - self.amount_refunded - self.amount_refund_pending

    def refund_key(self) -> str:
        """The provider idempotency key of the refund in flight: named by what was already
        given back and what is being given back, so a replay after a crash or a lost answer
        repeats this refund, and the next refund of the leg is a new one."""
        return self.idempotency_key(f"refund:{self.amount_refunded}:{self.amount_refund_pending}")


class LegOperation(models.Model):
    """One call to the provider for a leg, whatever came of it: the leg's ledger.

    Written after every call (and after every call that got no answer), so an operator can
    see exactly what was asked of the provider, with which idempotency key, and what it
    said; reconciliation ties ``operation_reference`` to the provider's books. Rows are
    never changed.
    """

    class Operation(models.TextChoices):
        AUTHORISE = "authorise", _("Authorise")
        CAPTURE = "capture", _("Capture")
        VOID = "void", _("Void")
        REFUND = "refund", _("Refund")
        RETRIEVE = "retrieve", _("Retrieve")  # asking where a payment stands (recovery, 3DS)

    class Result(models.TextChoices):
        SUCCEEDED = "succeeded", _("Succeeded")  # the provider did it (see ``status``)
        FAILED = "failed", _("Failed")  # the provider refused (see ``failure_reason``)
        NO_ANSWER = "no_answer", _("No answer")  # timeout or error: state unknown
        REJECTED = "rejected", _("Rejected")  # the provider refused the call itself

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    livemode = models.BooleanField(default=False)
    leg = models.ForeignKey(Leg, on_delete=models.CASCADE, related_name="operations")
    operation = models.CharField(max_length=12, choices=Operation.choices)
    idempotency_key = models.CharField(max_length=120, blank=True)
    amount = models.BigIntegerField(help_text="Integer amount in minor units asked for.")
    result = models.CharField(max_length=12, choices=Result.choices)
    status = models.CharField(
        max_length=20, blank=True, help_text="The provider's answer, in the saga's vocabulary."
    )
    amount_moved = models.BigIntegerField(default=0, help_text="What the call moved.")
    provider_reference = models.CharField(max_length=80, blank=True)
    operation_reference = models.CharField(max_length=80, blank=True)
    failure_reason = models.CharField(max_length=32, blank=True)
    message = models.CharField(max_length=300, blank=True)
    fee = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Integer amount in minor units: the provider's own fee for this movement "
        "(Stripe's balance transaction); null when it reported none.",
    )
    fee_note = models.CharField(
        max_length=200, blank=True, help_text="Why no provider fee was recorded, when none was."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["leg_id", "id"]

    def __str__(self) -> str:
        return f"{self.leg_id} {self.operation} {self.result}"


# Reconciliation's tables, in their own module (see its docstring).
from .reconciliation_models import (  # noqa: E402
    DailyReconciliation,
    FeeRule,
    Reconciliation,
)

__all__ += ["DailyReconciliation", "FeeRule", "Reconciliation"]

# Disputes (chargebacks) on legs, in their own module too.
from .dispute_models import Dispute  # noqa: E402

__all__ += ["Dispute"]
