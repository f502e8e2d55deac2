from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant, TimeStamped
from pushpay.history import AuditedHistory
from pushpay.i18n import LANGUAGE_CODES, LANGUAGES
from pushpay.ids import new_public_id


def _form_id() -> str:
    return new_public_id("fm")


def _submission_id() -> str:
    return new_public_id("fs")


class Form(TimeStamped):
    """A questionnaire an operator defines and payers fill in before paying.

    The questions themselves live in ``FormVersion`` rows: once a version has been shown to a
    payer or named by a payment request it never changes again, so every submission can be
    read against exactly the questions that were asked.
    """

    class Status(models.TextChoices):
        """Whether the form can still collect answers. Only ``smartforms.services`` changes it."""

        ACTIVE = "active", _("Active")  # editable, and payers can submit answers
        ARCHIVED = "archived", _("Archived")  # read-only; versions and submissions are kept (final)

    TRANSITIONS = {
        Status.ACTIVE: {Status.ARCHIVED},
        Status.ARCHIVED: set(),
    }

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="forms")
    public_id = models.CharField(max_length=40, unique=True, default=_form_id, editable=False)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    archived_at = models.DateTimeField(null=True, blank=True)
    # Denormalised pointer to the highest-numbered version, so lists need no sub-query.
    current_version = models.ForeignKey(
        "FormVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    history = AuditedHistory(kind="form")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="active", archived_at__isnull=True)
                | Q(status="archived", archived_at__isnull=False),
                name="form_archived_at_matches_status",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "-created_at"]),
            models.Index(fields=["merchant", "status", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


def _previous_version(version: "FormVersion") -> "FormVersion | None":
    """A new version is shown against the one it replaces."""
    return (
        FormVersion.objects.filter(form_id=version.form_id, number__lt=version.number)
        .order_by("-number")
        .first()
    )


class FormVersion(TimeStamped):
    """One numbered set of field definitions of a form (see ``smartforms.definition``).

    An unlocked version may still be rewritten in place; a locked one is frozen because a
    submission or a payment request refers to it.
    """

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    fields = models.JSONField(
        default=list, help_text="Field definitions, validated by smartforms.definition."
    )
    is_locked = models.BooleanField(default=False)
    locked_at = models.DateTimeField(null=True, blank=True)

    history = AuditedHistory(
        kind="form_version",
        merchant="form.merchant_id",
        ident="number",
        page=("form", "form.public_id"),
        previous=_previous_version,
    )

    class Meta:
        ordering = ["form_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["form", "number"], name="form_version_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="form_version_number_gte_1"),
            models.CheckConstraint(
                condition=Q(is_locked=False, locked_at__isnull=True)
                | Q(is_locked=True, locked_at__isnull=False),
                name="form_version_locked_at_matches_flag",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.form_id} v{self.number}"


class Submission(TimeStamped):
    """A payer's cleaned answers to one exact version of a form."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="submissions")
    form_version = models.ForeignKey(
        FormVersion, on_delete=models.PROTECT, related_name="submissions"
    )
    public_id = models.CharField(max_length=40, unique=True, default=_submission_id, editable=False)
    answers = models.JSONField(default=dict, help_text="Cleaned answers keyed by field key.")
    language = models.CharField(max_length=2, choices=LANGUAGES, default="fr")
    # A plain public id for now: the payer journey will turn it into a link to
    # requests_app.Participant once both sides are settled.
    participant = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(language__in=list(LANGUAGE_CODES)),
                name="submission_language_known",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "-created_at"]),
            models.Index(fields=["form_version", "-created_at"]),
            models.Index(fields=["merchant", "participant"]),
        ]

    def __str__(self) -> str:
        return self.public_id
