from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pushpay.history import AuditedHistory
from pushpay.i18n import LANGUAGES
from pushpay.ids import new_public_id


def _merchant_id() -> str:
    return new_public_id("mc")


def _api_key_id() -> str:
    return new_public_id("ak")


def _membership_id() -> str:
    return new_public_id("mb")


def _invitation_id() -> str:
    return new_public_id("inv")


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Merchant(TimeStamped):
    """A tenant: every other row in the product belongs to exactly one merchant."""

    public_id = models.CharField(max_length=40, unique=True, default=_merchant_id, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    default_currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217 code.")
    default_language = models.CharField(max_length=2, choices=LANGUAGES, default="fr")
    time_zone = models.CharField(max_length=64, default="Europe/Paris")
    brand_color = models.CharField(
        max_length=7,
        default="#0d6efd",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour such as #0d6efd.")],
    )
    logo = models.ImageField(upload_to="logos/", blank=True)
    contact_email = models.EmailField(blank=True)
    # Payer emails: the display name before the platform's address, and where replies go
    # (the contact email when empty). The address itself stays the platform's, which is
    # what SPF and DKIM vouch for.
    # db_default: rows written by code that predates these columns (an older release, a
    # historical model in a data migration) still insert.
    sender_name = models.CharField(max_length=100, blank=True, db_default="")
    reply_to_email = models.EmailField(blank=True, db_default="")

    class TwoFactorPolicy(models.TextChoices):
        """Who must log in with a second factor (an authenticator code) to act for this
        merchant: nobody (each operator chooses), its owners, or every member."""

        OPTIONAL = "optional", _("Optional")
        OWNERS = "owners", _("Required for owners")
        EVERYONE = "everyone", _("Required for every member")

    two_factor_policy = models.CharField(
        max_length=10,
        choices=TwoFactorPolicy.choices,
        default=TwoFactorPolicy.OPTIONAL,
        db_default=TwoFactorPolicy.OPTIONAL,
    )
    history = AuditedHistory(kind="merchant", merchant="pk")

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def payer_reply_to(self) -> str:
        return self.reply_to_email or self.contact_email

    def requires_two_factor(self, role: str | None) -> bool:
        """Whether a member with ``role`` must be verified by a second factor to act here."""
        if self.two_factor_policy == self.TwoFactorPolicy.EVERYONE:
            return role is not None
        if self.two_factor_policy == self.TwoFactorPolicy.OWNERS:
            return role == Membership.Role.OWNER
        return False


class Membership(TimeStamped):
    """A back-office user's access to one merchant, with a role."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")  # everything, including members and API keys
        ADMIN = "admin", _("Admin")  # configuration and requests
        AGENT = "agent", _("Agent")  # creates and follows requests
        VIEWER = "viewer", _("Viewer")  # reads only

    # How the team page names a member in its URLs: never the user's integer id.
    public_id = models.CharField(max_length=40, unique=True, default=_membership_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AGENT)

    history = AuditedHistory(kind="membership", page=("team", None))

    class Meta:
        ordering = ["merchant_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "user"], name="membership_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant} ({self.role})"


class Invitation(TimeStamped):
    """An email asked to join a merchant's team with a role. The link carries a signed token
    (the public id, signed with a timestamp), so nothing secret is stored; ``expires_at``
    and ``accepted_at`` make a link usable once and for a week only."""

    public_id = models.CharField(max_length=40, unique=True, default=_invitation_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.AGENT
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    history = AuditedHistory(kind="invitation", page=("team", None))

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open invitation per address and merchant: inviting twice is refused, and
            # two concurrent invitations cannot both be written.
            models.UniqueConstraint(
                fields=["merchant", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} -> {self.merchant} ({self.role})"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None


class ApiKey(TimeStamped):
    """A secret key for the REST API. Only a SHA-256 of the secret is stored.

    The secret is shown once, at creation. ``prefix`` (``sk_test_Ab12`` …) stays visible so
    operators can tell keys apart; the mode is part of the prefix so a test key can never be
    mistaken for a live one in logs.
    """

    class Mode(models.TextChoices):
        TEST = "test", _("Test")
        LIVE = "live", _("Live")

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    # How the API and the back office name a key: never the secret, never a guessable integer.
    public_id = models.CharField(max_length=40, unique=True, default=_api_key_id, editable=False)
    name = models.CharField(max_length=100, default="Default")
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.TEST)
    prefix = models.CharField(max_length=20)
    secret_hash = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    # Never the secret's hash; the last use is traffic, not a change.
    history = AuditedHistory(kind="api_key", excluded_fields=["secret_hash", "last_used_at"])

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def livemode(self) -> bool:
        """The mode of everything this key creates and the only mode it can see."""
        return self.mode == self.Mode.LIVE


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an ``Idempotency-Key``, replayed on retries.

    The unique constraint is what makes two concurrent POSTs with one key create one object:
    the second INSERT waits for the first transaction and then fails, and the caller replays.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    # A test key and a live key are two clients: the same Idempotency-Key may mean two things.
    livemode = models.BooleanField(default=False)
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "livemode", "key"], name="idempotency_unique_key"
            ),
            models.CheckConstraint(
                condition=Q(response_status__isnull=True) | Q(response_status__lt=500),
                name="idempotency_no_server_errors",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} -> {self.response_status}"


class OperatorPreference(TimeStamped):
    """What one back-office user chose for themselves, whatever merchant they work for: the
    language of the back office (a user of two merchants reads both in the same language)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_preference"
    )
    language = models.CharField(max_length=2, choices=LANGUAGES)

    class Meta:
        ordering = ["user_id"]

    def __str__(self) -> str:
        return f"{self.user}: {self.language}"
