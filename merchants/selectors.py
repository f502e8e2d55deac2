"""Reads about merchants, always from the point of view of a user or a key."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from .models import ApiKey, IdempotencyRecord, Invitation, Membership, Merchant, OperatorPreference


def merchants_for_user(*, user: AbstractBaseUser) -> QuerySet[Merchant]:
    return Merchant.objects.filter(memberships__user=user).distinct()


def membership_get(*, user: AbstractBaseUser, merchant: Merchant) -> Membership | None:
    return Membership.objects.filter(user=user, merchant=merchant).first()


def _mode(livemode: bool) -> str:
    return ApiKey.Mode.LIVE if livemode else ApiKey.Mode.TEST


def api_key_list(*, merchant: Merchant, livemode: bool | None = None) -> QuerySet[ApiKey]:
    """The merchant's keys, newest first; with ``livemode``, only that mode's (a test key
    never learns what live keys exist)."""
    keys = ApiKey.objects.filter(merchant=merchant)
    if livemode is not None:
        keys = keys.filter(mode=_mode(livemode))
    return keys


def api_key_get(*, merchant: Merchant, livemode: bool, public_id: str) -> ApiKey | None:
    return ApiKey.objects.filter(
        merchant=merchant, mode=_mode(livemode), public_id=public_id
    ).first()


def idempotency_record_get(
    *, merchant: Merchant, livemode: bool, key: str
) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(merchant=merchant, livemode=livemode, key=key).first()


def operator_language(*, user: AbstractBaseUser) -> str | None:
    """The back-office language the user chose, or None if they never chose one."""
    return OperatorPreference.objects.filter(user=user).values_list("language", flat=True).first()


def membership_list(*, merchant: Merchant) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(merchant=merchant)
        .select_related("user")
        .order_by("user__email", "id")
    )


def membership_get_by_public_id(*, merchant: Merchant, public_id: str) -> Membership | None:
    return (
        Membership.objects.filter(merchant=merchant, public_id=public_id)
        .select_related("user", "merchant")
        .first()
    )


def invitation_open_list(*, merchant: Merchant) -> QuerySet[Invitation]:
    """Invitations not accepted nor revoked, expired ones included (shown as such)."""
    return Invitation.objects.filter(
        merchant=merchant, accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("invited_by")


def invitation_get(*, merchant: Merchant, public_id: str) -> Invitation | None:
    return Invitation.objects.filter(merchant=merchant, public_id=public_id).first()
