"""Merchants own tenancy: merchants, their members and roles, API keys and idempotency records.

Every function here is one use case and the only way these rows change.
"""

import hashlib
import hmac
import logging
import secrets
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import validate_email
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image, UnidentifiedImageError

from pushpay.errors import DomainError, StateConflict
from pushpay.history import record_history
from pushpay.i18n import language_checked
from pushpay.ids import random_string
from pushpay.money import is_currency

from .models import (
    ApiKey,
    IdempotencyRecord,
    Invitation,
    Membership,
    Merchant,
    OperatorPreference,
)

API_SECRET_LENGTH = 40
# Active keys per merchant and mode: enough for one key per service and a rotation each, few
# enough that a script creating keys in a loop is stopped long before the table suffers.
MAX_ACTIVE_API_KEYS = 50
# last_used_at is informative; writing it on every request would turn reads into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyInvalid(Exception):
    """The presented secret matches no key."""


class ApiKeyRevoked(Exception):
    """The presented secret matches a revoked key."""


# What other apps set up for every new merchant (notifications: the default templates),
# registered from their AppConfig.ready(): merchants knows no app downstream of it.
_on_merchant_created: list[Callable[[Merchant], None]] = []


def merchant_created_register(setup: Callable[[Merchant], None]) -> None:
    if setup not in _on_merchant_created:
        _on_merchant_created.append(setup)


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "merchant"
    slug, n = base, 1
    while Merchant.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def merchant_create(
    *,
    name: str,
    default_currency: str = "EUR",
    default_language: str = "fr",
    time_zone: str = "Europe/Paris",
    contact_email: str = "",
    slug: str | None = None,
    brand_color: str = "#0d6efd",
) -> Merchant:
    """A tenant with the shipped templates; ``ValidationError`` names each refused field."""
    if not is_currency(default_currency):
        # The column only checks the length: "XYZ" would reach every request's currency.
        raise ValidationError({"default_currency": f"Unknown currency {default_currency!r}."})
    merchant = Merchant(
        name=name,
        slug=slug or _unique_slug(name),
        default_currency=default_currency,
        default_language=default_language,
        time_zone=time_zone,
        contact_email=contact_email,
        brand_color=brand_color,
    )
    merchant.full_clean()
    merchant.save()
    for setup in _on_merchant_created:
        setup(merchant)
    return merchant


# What the settings page may change; the slug and ids stay as they are (links use them).
MERCHANT_EDITABLE = frozenset(
    {
        "name",
        "brand_color",
        "contact_email",
        "sender_name",
        "reply_to_email",
        "default_language",
        "time_zone",
        "default_currency",
    }
)


@transaction.atomic
def merchant_update(*, merchant: Merchant, **changes: str) -> Merchant:
    """Change the merchant's settings; ``ValidationError`` names each refused field and
    nothing is saved then. The zone and the currency are checked here, not only in the
    form: a stored unknown zone would put every page in UTC without a word."""
    unknown = set(changes) - MERCHANT_EDITABLE
    if unknown:
        raise ValueError(f"Not a merchant setting: {sorted(unknown)}")
    errors: dict[str, str] = {}
    if "default_currency" in changes and not is_currency(changes["default_currency"]):
        errors["default_currency"] = f"Unknown currency {changes['default_currency']!r}."
    if "time_zone" in changes and changes["time_zone"] not in zoneinfo.available_timezones():
        errors["time_zone"] = f"Unknown time zone {changes['time_zone']!r}."
    if "sender_name" in changes and any(c in changes["sender_name"] for c in '\r\n<>"@'):
        # It goes into a From header: no line breaks, no address of its own.
        errors["sender_name"] = "Use a plain name, without line breaks, quotes or addresses."
    if errors:
        raise ValidationError(errors)
    merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
    for name, value in changes.items():
        setattr(merchant, name, value)
    merchant.full_clean()
    merchant.save()
    return merchant


LOGO_MAX_BYTES = 512 * 1024
LOGO_MAX_SIDE = 2000
# Raster formats every mail client and browser shows; SVG is refused (it can carry script).
LOGO_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}


def merchant_logo_set(*, merchant: Merchant, upload: File | None) -> Merchant:
    """Replace (or, with None, remove) the logo payer pages show. The file is checked by
    decoding it, not by its name or its declared type, and stored under a random name."""
    if upload is not None:
        if upload.size > LOGO_MAX_BYTES:
            raise ValidationError(
                {"logo": f"The logo must weigh {LOGO_MAX_BYTES // 1024} KB at most."}
            )
        try:
            upload.seek(0)
            with Image.open(upload) as image:
                image_format, (width, height) = image.format, image.size
                image.verify()
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            raise ValidationError({"logo": _("Upload a PNG, JPEG or WebP image.")}) from None
        if image_format not in LOGO_FORMATS:
            raise ValidationError({"logo": _("Upload a PNG, JPEG or WebP image.")})
        if max(width, height) > LOGO_MAX_SIDE:
            raise ValidationError(
                {
                    "logo": _("The logo must be %(side)s pixels wide and high at most.")
                    % {"side": LOGO_MAX_SIDE}
                }
            )
        upload.seek(0)
    previous = merchant.logo.name if merchant.logo else ""
    if upload is None:
        merchant.logo = ""
    else:
        name = f"{merchant.public_id}-{random_string(12)}.{LOGO_FORMATS[image_format]}"
        merchant.logo.save(name, upload, save=False)
    Merchant.objects.filter(pk=merchant.pk).update(logo=merchant.logo.name or "")
    record_history(merchant)
    if previous and previous != merchant.logo.name:
        merchant.logo.storage.delete(previous)
    return merchant


@transaction.atomic
def membership_grant(
    *, merchant: Merchant, user: AbstractBaseUser, role: str = Membership.Role.AGENT
) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        merchant=merchant, user=user, defaults={"role": role}
    )
    return membership


# --- The team ----------------------------------------------------------------------------------

INVITATION_TTL = timedelta(days=7)
_INVITATION_SALT = "merchants.invitation"

# How an invitation reaches the invitee (notifications: an outbox email), registered from
# the downstream app's AppConfig.ready(); called in the invitation's transaction.
_on_invitation_created: list[Callable[[Invitation], None]] = []


def invitation_created_register(send: Callable[[Invitation], None]) -> None:
    if send not in _on_invitation_created:
        _on_invitation_created.append(send)


class InvitationUnusable(Exception):
    """The link is not a valid invitation (``reason``: invalid, expired, used, revoked)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def invitation_token(invitation: Invitation) -> str:
    """The token of the invitation's link: its public id, signed and timestamped."""
    return signing.dumps(invitation.public_id, salt=_INVITATION_SALT)


def _lock_merchant(merchant: Merchant) -> None:
    # The merchant's row serialises team changes: two owners demoting each other at once
    # cannot leave the merchant without one.
    Merchant.objects.select_for_update().filter(pk=merchant.pk).exists()


@transaction.atomic
def invitation_create(
    *,
    merchant: Merchant,
    email: str,
    role: str = Membership.Role.AGENT,
    invited_by: AbstractBaseUser | None = None,
) -> Invitation:
    """Invite ``email`` with ``role``; the email goes out through the outbox. Refused for a
    current member and for an address with an open, unexpired invitation (an expired one is
    replaced)."""
    if role not in Membership.Role.values:
        raise DomainError(f"Unknown role {role!r}.", code="invalid_role", field="role")
    email = get_user_model().objects.normalize_email(email.strip()).lower()
    try:
        validate_email(email)
    except ValidationError:
        raise DomainError(
            "Enter a valid email address.", code="invalid_email", field="email"
        ) from None
    _lock_merchant(merchant)
    if Membership.objects.filter(merchant=merchant, user__email__iexact=email).exists():
        raise StateConflict(
            "%(email)s is already a member of this team.",
            params={"email": email},
            code="already_member",
            field="email",
        )
    now = timezone.now()
    open_ = Invitation.objects.filter(
        merchant=merchant, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).first()
    if open_ is not None:
        if open_.expires_at > now:
            raise StateConflict(
                "%(email)s is already invited; revoke that invitation to send another.",
                params={"email": email},
                code="already_invited",
                field="email",
            )
        Invitation.objects.filter(pk=open_.pk).update(revoked_at=now, updated_at=now)
        record_history(open_, reason="expired, replaced")
    invitation = Invitation.objects.create(
        merchant=merchant,
        email=email,
        role=role,
        invited_by=invited_by,
        expires_at=now + INVITATION_TTL,
    )
    for send in _on_invitation_created:
        send(invitation)
    return invitation


def invitation_from_token(token: str) -> Invitation:
    """The open invitation a link names; ``InvitationUnusable`` says why it cannot be used."""
    try:
        public_id = signing.loads(
            token, salt=_INVITATION_SALT, max_age=INVITATION_TTL.total_seconds()
        )
    except signing.SignatureExpired:
        raise InvitationUnusable("expired") from None
    except signing.BadSignature:
        raise InvitationUnusable("invalid") from None
    invitation = (
        Invitation.objects.select_related("merchant").filter(public_id=str(public_id)).first()
    )
    if invitation is None:
        raise InvitationUnusable("invalid")
    _check_usable(invitation)
    return invitation


def _check_usable(invitation: Invitation) -> None:
    if invitation.accepted_at is not None:
        raise InvitationUnusable("used")
    if invitation.revoked_at is not None:
        raise InvitationUnusable("revoked")
    if invitation.expires_at <= timezone.now():
        raise InvitationUnusable("expired")


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: AbstractBaseUser) -> Membership:
    """``user`` joins with the invited role (a current member keeps theirs); once only:
    the row is locked, so two clicks on the link make one membership."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    _check_usable(invitation)
    if (user.email or "").lower() != invitation.email:
        raise InvitationUnusable("other_user")
    membership = Membership.objects.filter(merchant_id=invitation.merchant_id, user=user).first()
    if membership is None:
        membership = Membership.objects.create(
            merchant_id=invitation.merchant_id, user=user, role=invitation.role
        )
    now = timezone.now()
    Invitation.objects.filter(pk=invitation.pk).update(
        accepted_at=now, accepted_by=user, updated_at=now
    )
    record_history(invitation)
    return membership


@transaction.atomic
def invitation_accept_new_user(*, invitation: Invitation, password: str) -> Membership:
    """A login for the invited address, with this password, joining at once. The password
    is checked by the project's validators (``ValidationError``)."""
    User = get_user_model()
    if User.objects.filter(username=invitation.email).exists():
        raise InvitationUnusable("existing_user")
    validate_password(password, user=User(username=invitation.email, email=invitation.email))
    user = user_create(email=invitation.email, password=password)
    return invitation_accept(invitation=invitation, user=user)


def invitation_revoke(*, invitation: Invitation) -> Invitation:
    now = timezone.now()
    revoked = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now, updated_at=now)
    invitation.refresh_from_db(fields=["revoked_at", "updated_at"])
    if revoked:
        record_history(invitation)
    return invitation


def _refuse_losing_the_last_owner(membership: Membership) -> None:
    if membership.role != Membership.Role.OWNER:
        return
    others = Membership.objects.filter(
        merchant_id=membership.merchant_id, role=Membership.Role.OWNER
    ).exclude(pk=membership.pk)
    if not others.exists():
        raise StateConflict(
            "This is the merchant's last owner: make another member owner first.",
            code="last_owner",
        )


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str) -> Membership:
    if role not in Membership.Role.values:
        raise DomainError(f"Unknown role {role!r}.", code="invalid_role", field="role")
    _lock_merchant(membership.merchant)
    membership = Membership.objects.get(pk=membership.pk)
    if role != Membership.Role.OWNER:
        _refuse_losing_the_last_owner(membership)
    changed = role != membership.role
    Membership.objects.filter(pk=membership.pk).update(role=role, updated_at=timezone.now())
    membership.refresh_from_db()
    if changed:
        record_history(membership)
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    _lock_merchant(membership.merchant)
    membership = Membership.objects.get(pk=membership.pk)
    _refuse_losing_the_last_owner(membership)
    membership.delete()


def user_create(*, email: str, password: str, is_staff: bool = False) -> AbstractBaseUser:
    """Back-office logins use the email as username, so operators remember one thing."""
    User = get_user_model()
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(username=email).exists():
        raise ValueError(f"A user with the email {email} already exists.")
    return User.objects.create_user(
        username=email, email=email, password=password, is_staff=is_staff
    )


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    secret: str  # shown once; never stored


@transaction.atomic
def api_key_create(
    *,
    merchant: Merchant,
    name: str = "Default",
    mode: str = ApiKey.Mode.TEST,
    created_by: AbstractBaseUser | None = None,
) -> CreatedApiKey:
    """A new key; its secret is in the result only, the database keeps its hash."""
    if mode not in ApiKey.Mode.values:
        raise ValueError(f"Unknown API key mode {mode!r}.")
    # The merchant's row is the lock that keeps two concurrent creations under the cap.
    Merchant.objects.select_for_update().filter(pk=merchant.pk).exists()
    active = ApiKey.objects.filter(merchant=merchant, mode=mode, revoked_at__isnull=True)
    if active.count() >= MAX_ACTIVE_API_KEYS:
        raise StateConflict(
            "This merchant already has %(count)s active %(mode)s keys; "
            "revoke one before creating another.",
            params={"count": MAX_ACTIVE_API_KEYS, "mode": mode},
            code="too_many_api_keys",
        )
    secret = f"sk_{mode}_{random_string(API_SECRET_LENGTH)}"
    api_key = ApiKey.objects.create(
        merchant=merchant,
        name=name,
        mode=mode,
        prefix=secret[:12],
        secret_hash=hash_secret(secret),
        created_by=created_by,
    )
    return CreatedApiKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: ApiKey, revoked_by: ApiKey | None = None) -> ApiKey:
    """Revoke at once: authentication reads the row on every call, so the next call with
    the secret is a 401. Revoking twice keeps the first date (a conditional UPDATE, so two
    concurrent revocations cannot overwrite each other's).

    ``revoked_by`` is the key making the call, when an API call does it: a key may not
    revoke itself, because the answer to that call would be the last thing the integration
    ever hears; rotating is create, switch, then revoke the old key with the new one.
    """
    if revoked_by is not None and revoked_by.pk == api_key.pk:
        raise StateConflict(
            "A key cannot revoke itself; revoke it with another key of this merchant.",
            code="cannot_revoke_own_key",
        )
    now = timezone.now()
    revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=now, updated_at=now
    )
    api_key.refresh_from_db(fields=["revoked_at", "updated_at"])
    if revoked:
        record_history(api_key)
    return api_key


def api_key_authenticate(*, secret: str) -> ApiKey:
    """Find the key for a presented secret; the lookup is by hash, never by the secret."""
    digest = hash_secret(secret)
    api_key = ApiKey.objects.select_related("merchant").filter(secret_hash=digest).first()
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, digest):
        raise ApiKeyInvalid
    if api_key.revoked_at is not None:
        raise ApiKeyRevoked
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


# --- Idempotency ----------------------------------------------------------------------------


def idempotency_cutoff():
    return timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def idempotency_claim(
    *, merchant: Merchant, livemode: bool, key: str, fingerprint: str
) -> IdempotencyRecord | None:
    """Insert the record for ``key`` inside the caller's transaction.

    Returns None when the key is already taken (the caller then replays the stored response).
    On PostgreSQL a concurrent claim blocks on the unique index until the first transaction
    ends, so the loser sees the winner's committed response, never a half-done one.
    """

    def insert() -> IdempotencyRecord | None:
        return _idempotency_insert(
            merchant=merchant, livemode=livemode, key=key, fingerprint=fingerprint
        )

    record = insert()
    if record is not None:
        return record
    # The key is taken. Only when that record has expired is the key free again: delete it
    # and claim anew (a concurrent claimer blocks on the row, then finds the key taken).
    # Here, not before every insert, so the usual first use of a key costs one query.
    expired, _ = IdempotencyRecord.objects.filter(
        merchant=merchant, livemode=livemode, key=key, created_at__lt=idempotency_cutoff()
    ).delete()
    return insert() if expired else None


def _idempotency_insert(
    *, merchant: Merchant, livemode: bool, key: str, fingerprint: str
) -> IdempotencyRecord | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING: a taken key answers no row rather than an
    integrity error, so the claim needs no savepoint around it (two statements fewer on
    every keyed POST). On PostgreSQL a concurrent claim of the same key still waits on the
    unique index until the first transaction ends, then finds the key taken."""
    record = IdempotencyRecord(
        merchant=merchant,
        livemode=livemode,
        key=key,
        request_fingerprint=fingerprint,
        created_at=timezone.now(),
    )
    connection = connections[router.db_for_write(IdempotencyRecord)]
    quote = connection.ops.quote_name
    fields = [
        IdempotencyRecord._meta.get_field(name)
        for name in ("merchant", "livemode", "key", "request_fingerprint", "created_at")
    ]
    with connection.cursor() as cursor:
        # Names from the model's metadata, quoted; every value is a parameter.
        cursor.execute(
            f"INSERT INTO {quote(IdempotencyRecord._meta.db_table)}"  # noqa: S608
            f" ({', '.join(quote(f.column) for f in fields)})"
            f" VALUES ({', '.join(['%s'] * len(fields))})"
            f" ON CONFLICT DO NOTHING RETURNING {quote(IdempotencyRecord._meta.pk.column)}",
            [f.get_db_prep_save(getattr(record, f.attname), connection) for f in fields],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    record.pk = row[0]
    record._state.adding = False
    record._state.db = connection.alias
    return record


def idempotency_record_response(*, record: IdempotencyRecord, status: int, body) -> None:
    record.response_status = status
    record.response_body = body
    record.save(update_fields=["response_status", "response_body"])


def idempotency_purge_expired() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=idempotency_cutoff()).delete()
    return deleted


# --- Operators' own preferences -----------------------------------------------------------------


def operator_language_set(*, user: AbstractBaseUser, language: str) -> OperatorPreference:
    """Remember the back-office language a user chose, for every browser they log in from
    (a cookie alone would be forgotten on the next machine)."""
    language = language_checked(language, field="language")
    preference, _ = OperatorPreference.objects.update_or_create(
        user=user, defaults={"language": language}
    )
    return preference


# --- Two-factor login ---------------------------------------------------------------------------
# django-otp keeps the devices: one TOTP device (an authenticator app) and one static device
# holding the recovery codes. A device is unconfirmed until the operator has typed a code from
# it, so a half-finished setup never asks anyone for a code at login. Recovery codes are
# stored as django-otp's static tokens, but hashed: the database never holds a usable code.

logger = logging.getLogger("merchants.two_factor")

RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: read off paper
TOTP_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"


class TwoFactorLocked(Exception):
    """Too many wrong codes for this login: every code is refused until ``retry_after``."""

    def __init__(self, retry_after: int):
        super().__init__(f"Too many wrong codes; try again in {retry_after} seconds.")
        self.retry_after = retry_after


def _totp_devices(user: AbstractBaseUser):
    return TOTPDevice.objects.filter(user=user)


def _static_devices(user: AbstractBaseUser):
    return StaticDevice.objects.filter(user=user)


def recovery_code_normalise(code: str) -> str:
    """What the operator typed, as it was generated: case, spaces and dashes do not count."""
    return "".join(ch for ch in code.lower() if ch not in " -\t")


def recovery_code_hash(code: str) -> str:
    """The stored form of a recovery code (64 bits of its SHA-256, django-otp's token column
    holds 16 characters). Codes carry 60 random bits, so a stolen table is no shortcut."""
    return hashlib.sha256(recovery_code_normalise(code).encode()).hexdigest()[:16]


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def _failures_key(user: AbstractBaseUser) -> str:
    return f"two-factor-failures:{user.pk}"


def _lock_key(user: AbstractBaseUser) -> str:
    return f"two-factor-locked:{user.pk}"


def two_factor_locked_for(*, user: AbstractBaseUser) -> int | None:
    """Seconds left of this login's code lock-out, or None when codes are accepted."""
    until = cache.get(_lock_key(user))
    if until is None:
        return None
    left = int(until - timezone.now().timestamp())
    return left if left > 0 else None


def _count_failure(user: AbstractBaseUser) -> None:
    """Counted in the cache (Redis when scaled out, shared by every web process), per login:
    the attacker at this step already knows the password, so the address does not matter."""
    cooloff = settings.TWO_FACTOR_COOLOFF_MINUTES * 60
    key = _failures_key(user)
    cache.add(key, 0, timeout=cooloff)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=cooloff)
        count = 1
    # Logged like django-axes' failures, for a log watcher; never the code typed.
    logger.warning("Wrong two-factor code for %s (%d in a row).", user.get_username(), count)
    if count >= settings.TWO_FACTOR_FAILURE_LIMIT:
        cache.set(_lock_key(user), timezone.now().timestamp() + cooloff, timeout=cooloff)
        cache.delete(key)
        logger.warning(
            "Two-factor codes locked for %s for %d minutes.",
            user.get_username(),
            settings.TWO_FACTOR_COOLOFF_MINUTES,
        )


def _reset_failures(user: AbstractBaseUser) -> None:
    cache.delete(_failures_key(user))


def _refuse_if_locked(user: AbstractBaseUser) -> None:
    left = two_factor_locked_for(user=user)
    if left is not None:
        raise TwoFactorLocked(left)


def two_factor_enabled(*, user: AbstractBaseUser) -> bool:
    return _totp_devices(user).filter(confirmed=True).exists()


@transaction.atomic
def totp_device_start(*, user: AbstractBaseUser):
    """A new, unconfirmed authenticator for ``user`` (any earlier unfinished one is dropped,
    so only the QR code on screen can be confirmed). Refused while one is confirmed."""
    if two_factor_enabled(user=user):
        raise StateConflict("Two-factor login is already on.", code="two_factor_enabled")
    _totp_devices(user).filter(confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def totp_device_pending(*, user: AbstractBaseUser):
    return _totp_devices(user).filter(confirmed=False).order_by("-id").first()


def _recovery_codes_replace(user: AbstractBaseUser) -> list[str]:
    _static_devices(user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=recovery_code_hash(code)) for code in codes
    )
    return codes


def totp_device_confirm(*, user: AbstractBaseUser, token: str):
    """Turn two-factor on: the code must come from the authenticator being set up. Returns
    the confirmed device and the recovery codes, in clear for the one page that shows them."""
    _refuse_if_locked(user)
    with transaction.atomic():
        device = (
            _totp_devices(user).filter(confirmed=False).select_for_update().order_by("-id").first()
        )
        if device is None:
            raise StateConflict(
                "Start the setup again: no authenticator is waiting.", code="no_pending_device"
            )
        if not _looks_like_totp(token) or not device.verify_token(token.strip()):
            wrong = True
        else:
            wrong = False
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = _recovery_codes_replace(user)
    if wrong:
        _count_failure(user)
        raise InvalidCode()
    _reset_failures(user)
    return device, codes


class InvalidCode(DomainError):
    def __init__(self):
        super().__init__("This code is not valid.", code="invalid_code", field="token")


def _looks_like_totp(token: str) -> bool:
    token = token.strip()
    return len(token) in (6, 8) and token.isascii() and token.isdigit()


def two_factor_verify(*, user: AbstractBaseUser, token: str):
    """The device that accepts ``token`` (an authenticator code, or a recovery code, which is
    used up), or ``InvalidCode``. A code already accepted once is refused (django-otp keeps
    the last time step used), and wrong codes count towards the lock-out."""
    _refuse_if_locked(user)
    token = (token or "")[:64]
    with transaction.atomic():
        if _looks_like_totp(token):
            candidates = _totp_devices(user).filter(confirmed=True).select_for_update()
            typed = token.strip()
        else:
            candidates = _static_devices(user).filter(confirmed=True).select_for_update()
            typed = recovery_code_hash(token)
        device = next((d for d in candidates if d.verify_token(typed)), None)
    if device is None:
        _count_failure(user)
        raise InvalidCode()
    _reset_failures(user)
    return device


@transaction.atomic
def recovery_codes_regenerate(*, user: AbstractBaseUser) -> list[str]:
    """New recovery codes; the previous ones stop working at once."""
    if not two_factor_enabled(user=user):
        raise StateConflict("Turn two-factor login on first.", code="two_factor_disabled")
    return _recovery_codes_replace(user)


def recovery_codes_left(*, user: AbstractBaseUser) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def two_factor_disable(*, user: AbstractBaseUser, password: str, token: str) -> None:
    """Turn two-factor off: the password and a current code (or a recovery code) both, so a
    session left open is not enough to strip the login of its second factor."""
    _refuse_if_locked(user)
    if not user.check_password(password or ""):
        _count_failure(user)
        raise DomainError("The password is not correct.", code="wrong_password", field="password")
    two_factor_verify(user=user, token=token)
    with transaction.atomic():
        _totp_devices(user).delete()
        _static_devices(user).delete()


def merchant_two_factor_policy_set(
    *, merchant: Merchant, policy: str, actor_has_two_factor: bool
) -> Merchant:
    """Owners only (the view checks the role). Requiring a second factor is refused to an
    owner who has none: they would be sent away from every page at once."""
    if policy not in Merchant.TwoFactorPolicy.values:
        raise ValidationError({"two_factor_policy": f"Unknown policy {policy!r}."})
    if policy != Merchant.TwoFactorPolicy.OPTIONAL and not actor_has_two_factor:
        raise ValidationError(
            {"two_factor_policy": _("Turn on two-factor login for yourself first.")}
        )
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        locked.two_factor_policy = policy
        locked.save(update_fields=["two_factor_policy", "updated_at"])
    return locked
