from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant, TimeStamped
from pushpay.history import AuditedHistory
from pushpay.i18n import LANGUAGES
from pushpay.ids import new_link_token, new_public_id

MINOR_UNITS_HELP = "Integer amount in minor units of the request's currency (cents for EUR)."


def _request_id() -> str:
    return new_public_id("pr")


def _participant_id() -> str:
    return new_public_id("pa")


def _event_id() -> str:
    return new_public_id("ev")


class IllegalTransition(Exception):
    """A status change the lifecycle does not allow; carries both states for the message."""

    def __init__(self, obj: str, current: str, target: str):
        super().__init__(f"A {obj} that is {current} cannot become {target}.")
        self.current = current
        self.target = target


class PaymentRequest(TimeStamped):
    """A merchant's request for money from one or several participants."""

    class Status(models.TextChoices):
        """Where the collection stands. Only ``requests_app.services`` changes it."""

        OPEN = "open", _("Open")  # waiting for payments, nothing collected yet
        PARTIALLY_PAID = "partially_paid", _("Partially paid")  # some money in, some still due
        PAID = "paid", _("Paid")  # every participant's share collected
        CLOSED = "closed", _("Closed")  # expiry reached with some money collected: kept or refunded
        EXPIRED = "expired", _("Expired")  # expiry reached with nothing collected (final)
        CANCELLED = "cancelled", _("Cancelled")  # stopped by the merchant (final)
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")  # part given back
        REFUNDED = "refunded", _("Refunded")  # everything collected was given back (final)

    # Refund statuses follow a paid or closed request only: a collecting request keeps
    # collecting what is still due (a refund never reopens a share), and a cancelled one
    # stays cancelled, its refunds shown by ``amount_refunded``.
    TRANSITIONS = {
        Status.OPEN: {Status.PARTIALLY_PAID, Status.PAID, Status.EXPIRED, Status.CANCELLED},
        Status.PARTIALLY_PAID: {Status.PAID, Status.CANCELLED, Status.EXPIRED, Status.CLOSED},
        Status.PAID: {Status.PARTIALLY_REFUNDED, Status.REFUNDED},
        Status.CLOSED: {Status.PARTIALLY_REFUNDED, Status.REFUNDED},
        Status.PARTIALLY_REFUNDED: {Status.REFUNDED},
        Status.EXPIRED: set(),
        Status.CANCELLED: set(),
        Status.REFUNDED: set(),
    }
    # The one definition of "still collecting": payments accepted, participants and dates
    # editable, reminders sent. ``is_collecting`` and every query use it.
    COLLECTING = (Status.OPEN, Status.PARTIALLY_PAID)
    # Statuses a refund moves on from (``REFUNDED`` once everything went back).
    REFUND_FOLLOWS = (Status.PAID, Status.CLOSED, Status.PARTIALLY_REFUNDED)

    class AmountMode(models.TextChoices):
        FIXED = "fixed", _("Fixed shares")  # the initiator sets each share; shares sum to total
        FREE = "free", _("Free amounts")  # each participant chooses, within optional bounds

    class CaptureMode(models.TextChoices):
        IMMEDIATE = "immediate", _("Immediate")  # each share is taken as soon as it is paid
        ON_COMPLETION = "on_completion", _("On completion")  # held until all shares are held

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="requests")
    public_id = models.CharField(max_length=40, unique=True, default=_request_id, editable=False)
    livemode = models.BooleanField(
        default=False,
        help_text="True for real money (made with a live key), false for test mode.",
    )
    reference = models.CharField(max_length=100, help_text="The merchant's own reference.")
    description = models.TextField(max_length=2000, blank=True)
    currency = models.CharField(max_length=3, help_text="ISO 4217 code.")
    amount_mode = models.CharField(
        max_length=5, choices=AmountMode.choices, default=AmountMode.FIXED
    )
    total_amount = models.BigIntegerField(
        null=True,
        blank=True,
        help_text=MINOR_UNITS_HELP + " In free mode, the optional target.",
    )
    min_amount = models.BigIntegerField(null=True, blank=True, help_text=MINOR_UNITS_HELP)
    max_amount = models.BigIntegerField(null=True, blank=True, help_text=MINOR_UNITS_HELP)
    amount_paid = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)
    send_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    language = models.CharField(max_length=2, choices=LANGUAGES, default="fr")
    allowed_payment_methods = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    installments = models.JSONField(
        null=True,
        blank=True,
        help_text="The installment plan offered to every participant without one of their "
        "own (payments.installments.offers): count, interval, dates, deposit, fee and "
        "pay_at_once_allowed; null: none.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    capture_mode = models.CharField(
        max_length=16, choices=CaptureMode.choices, default=CaptureMode.IMMEDIATE
    )
    amount_refunded = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)
    closed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when the expiry closed a partially paid request (status closed): "
        "nothing more is collected; the merchant keeps or refunds what came in.",
    )
    notifications_paused = models.BooleanField(
        default=False,
        help_text="While paused, this request's notifications that fall due are skipped.",
    )
    public_progress = models.BooleanField(
        default=False, help_text="Show a public progress page (names only of those who agreed)."
    )
    progress_token = models.CharField(
        max_length=64, unique=True, default=new_link_token, editable=False
    )
    return_url = models.CharField(
        max_length=500, blank=True, help_text="Where the payer is sent back after paying."
    )
    cancel_url = models.CharField(
        max_length=500, blank=True, help_text="Where the payer goes on leaving without paying."
    )
    form_version = models.ForeignKey(
        "smartforms.FormVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The smart form payers fill before paying; locked once a request names it.",
    )

    # The progress link's token is a secret of its own: never copied.
    history = AuditedHistory(kind="request", excluded_fields=["progress_token"])

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Test and live are two books: a reference used in one may be reused in the other.
            models.UniqueConstraint(
                fields=["merchant", "livemode", "reference"], name="request_unique_reference"
            ),
            models.CheckConstraint(
                condition=Q(total_amount__isnull=True) | Q(total_amount__gt=0),
                name="request_total_positive",
            ),
            models.CheckConstraint(
                condition=Q(amount_mode="free") | Q(total_amount__isnull=False),
                name="request_fixed_has_total",
            ),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="request_paid_gte_0"),
            models.CheckConstraint(
                condition=Q(min_amount__isnull=True)
                | Q(max_amount__isnull=True)
                | Q(min_amount__lte=F("max_amount")),
                name="request_min_lte_max",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "livemode", "status", "-created_at"]),
            models.Index(fields=["merchant", "livemode", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.reference})"

    @property
    def is_collecting(self) -> bool:
        """Whether payments are still taken: the status alone says so (see ``COLLECTING``)."""
        return self.status in self.COLLECTING

    @property
    def amount_collected(self) -> int:
        return self.amount_paid - self.amount_refunded

    @property
    def collected_percent(self) -> int:
        if not self.total_amount:
            return 0
        return min(100, max(0, self.amount_collected) * 100 // self.total_amount)

    @property
    def amount_remaining(self) -> int | None:
        if self.total_amount is None:
            return None
        return max(self.total_amount - self.amount_paid, 0)


class Participant(TimeStamped):
    """One payer of a request, with their own share, status and unguessable payment link."""

    class Status(models.TextChoices):
        """Where this payer stands. Only ``requests_app.services`` changes it."""

        PENDING = "pending", _("Pending")  # asked to pay, has not (fully) paid yet
        PAID = "paid", _("Paid")  # paid their share (fixed) or a payment (free)
        FAILED = "failed", _("Failed")  # last attempt failed; may retry while collecting
        EXPIRED = "expired", _("Expired")  # the request expired before they paid
        CANCELLED = "cancelled", _("Cancelled")  # removed, or the request was cancelled
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")  # part given back
        REFUNDED = "refunded", _("Refunded")  # everything they paid was given back

    # Expired and cancelled participants may still have paid part of their share before
    # the request closed; giving that back makes them (partially) refunded. A participant
    # still asked to pay (pending, failed) keeps that status when part of what they paid so
    # far is given back: the refund does not reopen their share, the rest is still due.
    TRANSITIONS = {
        Status.PENDING: {Status.PAID, Status.FAILED, Status.EXPIRED, Status.CANCELLED},
        Status.FAILED: {Status.PENDING, Status.PAID, Status.EXPIRED, Status.CANCELLED},
        Status.PAID: {Status.PARTIALLY_REFUNDED, Status.REFUNDED},
        Status.EXPIRED: {Status.PARTIALLY_REFUNDED, Status.REFUNDED},
        Status.CANCELLED: {Status.PARTIALLY_REFUNDED, Status.REFUNDED},
        Status.PARTIALLY_REFUNDED: {Status.REFUNDED},
        Status.REFUNDED: set(),
    }
    UNPAID = (Status.PENDING, Status.FAILED)
    # Settled for completion: they paid their share, whatever was given back since.
    SETTLED = (Status.PAID, Status.PARTIALLY_REFUNDED, Status.REFUNDED)

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    request = models.ForeignKey(
        PaymentRequest, on_delete=models.CASCADE, related_name="participants"
    )
    public_id = models.CharField(
        max_length=40, unique=True, default=_participant_id, editable=False
    )
    livemode = models.BooleanField(
        default=False,
        help_text="True for real money (made with a live key), false for test mode.",
    )
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +33612345678.")
    language = models.CharField(max_length=2, choices=LANGUAGES, default="fr")
    amount = models.BigIntegerField(
        null=True, blank=True, help_text=MINOR_UNITS_HELP + " The share, in fixed mode."
    )
    amount_paid = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)
    amount_refunded = models.BigIntegerField(default=0, help_text=MINOR_UNITS_HELP)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    show_name = models.BooleanField(
        default=False, help_text="The participant agreed to appear on the public progress page."
    )
    installments = models.JSONField(
        null=True,
        blank=True,
        help_text="This share's own installment offer (the request's applies when null).",
    )
    link_token = models.CharField(
        max_length=64, unique=True, default=new_link_token, editable=False
    )

    # The payer link's token is a secret: never copied.
    history = AuditedHistory(
        kind="participant",
        page=("request", "request.public_id"),
        # Also left out: what never changes after creation, so that the snapshots bulk-written
        # with a request's participants are no wider than the participants themselves.
        excluded_fields=["link_token", "created_at", "position"],
    )

    class Meta:
        ordering = ["request_id", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0),
                name="participant_share_positive",
            ),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="participant_paid_gte_0"),
            models.CheckConstraint(
                condition=~Q(email="", phone=""), name="participant_has_contact"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.name})"

    @property
    def amount_due(self) -> int | None:
        if self.amount is None:
            return None
        return max(self.amount - self.amount_paid, 0)

    @property
    def installment_offer(self) -> dict | None:
        """The plan this payer is offered, as stored: their own, else the request's (a
        free-amount share has none)."""
        if self.amount is None:
            return None
        return self.installments if self.installments is not None else self.request.installments


class StatusChange(models.Model):
    """Audit trail: every status change of a request or participant, with its reason."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    request = models.ForeignKey(
        PaymentRequest, on_delete=models.CASCADE, related_name="status_changes"
    )
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status} -> {self.to_status}"


class RequestEvent(models.Model):
    """Something that happened to a request, kept in the database in the same transaction as
    the change itself, so that scenarios (and later webhooks) react to facts, never to hopes.
    """

    class Type(models.TextChoices):
        REQUEST_CREATED = "request_created"
        REQUEST_UPDATED = "request_updated"  # dates or participants changed
        PAYMENT_SUCCEEDED = "payment_succeeded"  # a payer's payment was captured
        PAYMENT_FAILED = "payment_failed"  # a payer's attempt failed; they may retry
        PAYMENT_REFUNDED = "payment_refunded"  # money captured from a payer was given back
        PARTICIPANT_PAID = "participant_paid"  # a participant has paid their whole share
        REQUEST_COMPLETED = "request_completed"  # the request became paid
        REQUEST_EXPIRED = "request_expired"
        REQUEST_CANCELLED = "request_cancelled"
        INSTALLMENT_PLAN_CONFIRMED = "installment_plan_confirmed"
        INSTALLMENT_DUE = "installment_due"
        INSTALLMENT_SUCCEEDED = "installment_succeeded"
        INSTALLMENT_FAILED = "installment_failed"
        INSTALLMENT_PLAN_COMPLETED = "installment_plan_completed"
        INSTALLMENT_PLAN_DEFAULTED = "installment_plan_defaulted"
        INSTALLMENT_PLAN_CANCELLED = "installment_plan_cancelled"
        RECONCILIATION_READY = "reconciliation_ready"  # a final request's statement is ready
        DISPUTE_CREATED = "dispute_created"  # a payer's bank disputes a payment
        DISPUTE_UPDATED = "dispute_updated"  # a dispute moved on (status, due date)
        DISPUTE_CLOSED = "dispute_closed"  # a dispute ended: won, lost or inquiry closed

    public_id = models.CharField(max_length=40, unique=True, default=_event_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    request = models.ForeignKey(PaymentRequest, on_delete=models.CASCADE, related_name="events")
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    type = models.CharField(max_length=32, choices=Type.choices)
    livemode = models.BooleanField(
        default=False,
        help_text="True for real money (made with a live key), false for test mode.",
    )
    payload = models.JSONField(default=dict, blank=True)
    pending_reactions = models.JSONField(
        default=list,
        blank=True,
        help_text="After-commit reactions (by name) that have not succeeded yet.",
    )
    reactions_pending = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["request", "type"]),
            models.Index(
                fields=["created_at", "id"],
                condition=Q(reactions_pending=True),
                name="event_reactions_pending",
            ),
            # The events API: one merchant's events of one mode, newest first.
            models.Index(
                fields=["merchant", "livemode", "-created_at", "-id"], name="event_api_list"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} on {self.request_id}"


def _csv_job_id() -> str:
    return new_public_id("csv")


class CsvJob(TimeStamped):
    """One CSV import or export run by an operator, with its progress for the status page.

    An import is parsed and every row checked (by a dry run of the very creations, rolled
    back) before an operator confirms it; only a confirmed job creates, group by group, and
    ``processed`` records how far it got so that a task delivered twice creates nothing twice.
    """

    class Kind(models.TextChoices):
        IMPORT = "import", _("Import")
        EXPORT = "export", _("Export")

    class Status(models.TextChoices):
        """QUEUED: waiting for a worker. RUNNING: checking the rows (import) or writing the
        file (export). INVALID: an import with errors, nothing created; upload a fixed file.
        READY: an import checked without error, waiting for the operator's confirmation.
        CREATING: confirmed, the requests being created. DONE: finished (for an export, the
        file is ready). FAILED: stopped by an unexpected error, kept in ``errors``."""

        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Checking")
        INVALID = "invalid", _("Errors found")
        READY = "ready", _("Ready to create")
        CREATING = "creating", _("Creating")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    public_id = models.CharField(max_length=40, unique=True, default=_csv_job_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="csv_jobs")
    livemode = models.BooleanField(default=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    filename = models.CharField(max_length=200, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True, help_text="Of the uploaded bytes.")
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="An earlier import of the very same file, shown as a warning.",
    )
    # Import: the parsed requests (one dict per reference, with its rows' line numbers).
    # Export: the list's query string (the filters), read again by the task.
    payload = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{line, column, message}]")
    result = models.TextField(blank=True, help_text="Export: the CSV file's text.")
    created_ids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["merchant", "livemode", "kind", "file_sha256"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(processed__lte=F("total")), name="csvjob_processed_within_total"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.public_id}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(self.processed * 100 / self.total) if self.total else 0

    @property
    def finished(self) -> bool:
        return self.status in (
            self.Status.INVALID,
            self.Status.READY,
            self.Status.DONE,
            self.Status.FAILED,
        )
