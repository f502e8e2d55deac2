"""Merchants' own payment-provider credentials: save, test, delete, rotate the encryption.

Owners enter, per mode, a Stripe secret key (and the webhook signing secret), or a PayPal
app's client id and secret (and the id of the webhook registered at PayPal). The credentials
decide which provider serves the method (``payments.registry``), so a Stripe key of the
wrong mode is refused outright: a live key never serves test mode, a test key never live
mode. PayPal's credentials do not tell their environment; they are sent only to the host of
the mode they were saved in (live or PayPal's sandbox), which refuses another environment's
app, so "test the connection" is where a wrong-mode PayPal app shows. Secrets are encrypted
before they reach the database and are never returned again: callers get the row, which
shows only the last four characters.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from merchants.models import Merchant
from pushpay.errors import InvalidInput, StateConflict
from pushpay.history import record_history

from ..adapters.accounts import forget_configured_modes
from ..adapters.base import ProviderError
from ..credentials import encrypt, reencrypt
from ..credentials_models import ProviderCredential
from ..models import Leg

STRIPE = ProviderCredential.Provider.STRIPE
PAYPAL = ProviderCredential.Provider.PAYPAL

# Stripe's secret keys (sk_) and restricted keys (rk_), and its webhook signing secrets.
_STRIPE_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,240}$")
_STRIPE_WEBHOOK_SECRET = re.compile(r"^whsec_[A-Za-z0-9+/=]{8,200}$")
_MAX_SECRET = 255
# PayPal's client ids and secrets (about 80 url-safe characters), and its webhook ids.
_PAYPAL_APP_VALUE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_PAYPAL_WEBHOOK_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def _provider_check(provider: str) -> None:
    if provider not in ProviderCredential.Provider.values:
        raise InvalidInput(
            f"Unknown payment provider '{str(provider)[:40]}'.",
            code="unknown_provider",
            field="provider",
        )


def _stripe_key_check(secret_key: object, *, livemode: bool) -> str:
    if not isinstance(secret_key, str) or not secret_key.strip():
        raise InvalidInput("Enter the secret key.", code="required", field="secret_key")
    key = secret_key.strip()
    match = _STRIPE_KEY.match(key) if len(key) <= _MAX_SECRET else None
    if match is None:
        raise InvalidInput(
            "This is not a Stripe secret key (sk_live_…, sk_test_… or a restricted rk_ key).",
            code="invalid_secret_key",
            field="secret_key",
        )
    if (match.group(2) == "live") != livemode:
        wanted, given = ("live", "test") if livemode else ("test", "live")
        raise InvalidInput(
            f"This is a {given}-mode key; {wanted} mode needs a {wanted}-mode key (sk_{wanted}_…).",
            code="key_mode_mismatch",
            field="secret_key",
        )
    return key


def _stripe_webhook_secret_check(secret: object) -> str:
    if not isinstance(secret, str):
        raise InvalidInput(
            "The webhook signing secret must be text.",
            code="invalid_webhook_secret",
            field="webhook_secret",
        )
    secret = secret.strip()
    if secret and (len(secret) > _MAX_SECRET or not _STRIPE_WEBHOOK_SECRET.match(secret)):
        raise InvalidInput(
            "This is not a Stripe webhook signing secret (whsec_…).",
            code="invalid_webhook_secret",
            field="webhook_secret",
        )
    return secret


def _paypal_value_check(value: object, *, field: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"Enter the {what}.", code="required", field=field)
    value = value.strip()
    if not _PAYPAL_APP_VALUE.match(value):
        raise InvalidInput(
            f"This is not a PayPal {what} (16 to 128 letters, digits, '-' or '_').",
            code=f"invalid_{field}",
            field=field,
        )
    return value


def _paypal_webhook_id_check(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(
            "The webhook id must be text.", code="invalid_webhook_id", field="webhook_secret"
        )
    value = value.strip()
    if value and not _PAYPAL_WEBHOOK_ID.match(value):
        raise InvalidInput(
            "This is not a PayPal webhook id (as PayPal shows it for the webhook).",
            code="invalid_webhook_id",
            field="webhook_secret",
        )
    return value


def provider_credentials_save(
    *,
    merchant: Merchant,
    livemode: bool,
    provider: str = STRIPE,
    secret_key: str,
    webhook_secret: str | None = None,
    client_id: str | None = None,
) -> ProviderCredential:
    """Store (or replace) the merchant's credentials for this provider and mode, encrypted.

    Stripe: ``secret_key`` and ``webhook_secret`` (its signing secret). PayPal: ``client_id``
    and ``secret_key`` (the app's client secret), and ``webhook_secret`` (the id of the
    webhook registered at PayPal, which PayPal's verification call needs).
    ``webhook_secret`` None keeps the one already stored; "" removes it (webhooks are then
    refused until one is entered again).
    """
    _provider_check(provider)
    app_id = ""
    if provider == PAYPAL:
        app_id = _paypal_value_check(client_id, field="client_id", what="client id")
        key = _paypal_value_check(secret_key, field="secret_key", what="client secret")
        secret = None if webhook_secret is None else _paypal_webhook_id_check(webhook_secret)
    else:
        key = _stripe_key_check(secret_key, livemode=livemode)
        secret = None if webhook_secret is None else _stripe_webhook_secret_check(webhook_secret)
    with transaction.atomic():
        row = (
            ProviderCredential.objects.select_for_update()
            .filter(merchant=merchant, livemode=livemode, provider=provider)
            .first()
        ) or ProviderCredential(merchant=merchant, livemode=livemode, provider=provider)
        if row.pk is not None and (
            row.secret_key_last4 != key[-4:] or row.client_id_last4 != app_id[-4:]
        ):
            # Another key may be another account: what was tested no longer holds.
            row.tested_at, row.account_reference = None, ""
        row.secret_key_encrypted = encrypt(key)
        row.secret_key_last4 = key[-4:]
        if app_id:
            row.client_id_encrypted = encrypt(app_id)
            row.client_id_last4 = app_id[-4:]
        if secret is not None:
            row.webhook_secret_encrypted = encrypt(secret) if secret else ""
            row.webhook_secret_last4 = secret[-4:] if secret else ""
        row.save()
    forget_configured_modes(merchant)
    return row


def _account_of(row: ProviderCredential) -> str:
    """Who the stored credentials belong to, as the provider says it."""
    if row.provider == PAYPAL:
        from ..adapters.paypal_rest import PayPalCredentialsRejected, paypal_app_of

        try:
            return paypal_app_of(row)
        except PayPalCredentialsRejected as exc:
            raise _Rejected(str(exc)) from None
    from ..adapters.stripe_card import StripeKeyRejected, stripe_account_of

    try:
        return stripe_account_of(row)
    except StripeKeyRejected as exc:
        raise _Rejected(str(exc)) from None


class _Rejected(Exception):
    pass


def provider_credentials_test(
    *, merchant: Merchant, livemode: bool, provider: str = STRIPE
) -> ProviderCredential:
    """Ask the provider who the stored key belongs to ("test the connection": Stripe's
    account, or a PayPal token fetched with the client id and secret).

    Refuses with ``provider_credentials_rejected`` (the provider refused the key) or
    ``provider_unreachable`` (no answer); records the account and time when it worked.
    """
    from ..selectors import provider_credential_get

    _provider_check(provider)
    row = provider_credential_get(merchant=merchant, livemode=livemode, provider=provider)
    if row is None:
        raise StateConflict(
            "No credentials are stored for this provider in this mode.",
            code="no_credentials",
            field="provider",
        )
    try:
        account = _account_of(row)
    except ProviderError as exc:
        raise StateConflict(str(exc), code="provider_unreachable", field="provider") from None
    except _Rejected as exc:
        raise InvalidInput(
            str(exc), code="provider_credentials_rejected", field="secret_key"
        ) from None
    ProviderCredential.objects.filter(pk=row.pk).update(
        account_reference=account[:80], tested_at=timezone.now()
    )
    record_history(row, reason="tested")
    return row


def provider_credentials_delete(
    *, merchant: Merchant, livemode: bool, provider: str = STRIPE
) -> None:
    """Forget the key. Refused while a payment through this provider and mode still holds
    money or awaits an answer: without the key it could be neither captured nor released."""
    _provider_check(provider)
    with transaction.atomic():
        row = (
            ProviderCredential.objects.select_for_update()
            .filter(merchant=merchant, livemode=livemode, provider=provider)
            .first()
        )
        if row is None:
            raise StateConflict(
                "No credentials are stored for this provider in this mode.",
                code="no_credentials",
                field="provider",
            )
        busy = (
            Leg.objects.filter(
                merchant=merchant, livemode=livemode, provider=provider, status__in=Leg.HOLDING
            ).exists()
            or Leg.objects.filter(
                merchant=merchant, livemode=livemode, provider=provider, amount_refund_pending__gt=0
            ).exists()
        )
        if busy:
            raise StateConflict(
                "Payments through this account are still held or in progress; capture or "
                "release them before removing its key.",
                code="credentials_in_use",
                field="provider",
            )
        row.delete()
    forget_configured_modes(merchant)


def provider_credentials_rotate() -> int:
    """Re-encrypt every stored secret with the newest key of PROVIDER_CREDENTIALS_KEYS, so
    the older keys can then be dropped. Returns how many rows were rewritten."""
    rotated = 0
    for pk in ProviderCredential.objects.values_list("pk", flat=True).iterator():
        with transaction.atomic():
            row = ProviderCredential.objects.select_for_update().get(pk=pk)
            row.secret_key_encrypted = reencrypt(row.secret_key_encrypted)
            if row.webhook_secret_encrypted:
                row.webhook_secret_encrypted = reencrypt(row.webhook_secret_encrypted)
            if row.client_id_encrypted:
                row.client_id_encrypted = reencrypt(row.client_id_encrypted)
            row.save(
                update_fields=[
                    "secret_key_encrypted",
                    "webhook_secret_encrypted",
                    "client_id_encrypted",
                ]
            )
        rotated += 1
    return rotated
