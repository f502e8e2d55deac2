"""Reads about merchants, always from the point of view of a user or a key."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from .models import ApiKey, IdempotencyRecord, Membership, Merchant, OperatorPreference


def merchants_for_user(*, user: AbstractBaseUser) -> QuerySet[Merchant]:
    return Merchant.objects.filter(memberships__user=user).distinct()


def membership_get(*, user: AbstractBaseUser, merchant: Merchant) -> Membership | None:
    return Membership.objects.filter(user=user, merchant=merchant).first()


def api_key_list(*, merchant: Merchant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(merchant=merchant)


def idempotency_record_get(
    *, merchant: Merchant, livemode: bool, key: str
) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(merchant=merchant, livemode=livemode, key=key).first()


def operator_language(*, user: AbstractBaseUser) -> str | None:
    """The back-office language the user chose, or None if they never chose one."""
    return OperatorPreference.objects.filter(user=user).values_list("language", flat=True).first()
