"""Encryption at rest of merchants' payment-provider credentials.

A Stripe secret key moves real money: a database dump must not hand it out. Every secret is
a Fernet token (AES-128-CBC with an HMAC-SHA256, timestamped) made with the first key of
``PROVIDER_CREDENTIALS_KEYS``; any key of the list decrypts, so a new key is deployed first
in the list, the stored secrets are re-encrypted with it (``credentials_rotate``), and only
then the old key is dropped. The keys live in the environment, never in the database.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["InvalidToken", "credentials_keys", "decrypt", "encrypt", "fernet", "reencrypt"]


def _development_key() -> str:
    # Derived, not random: a development database must stay readable across restarts. Only
    # ever used with DEBUG on (the system check refuses to start production without keys).
    digest = hashlib.sha256(f"provider-credentials:{settings.SECRET_KEY}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def credentials_keys() -> list[str]:
    """The configured keys, newest first; the development key when DEBUG and none is set."""
    keys = [key.strip() for key in settings.PROVIDER_CREDENTIALS_KEYS if key.strip()]
    if not keys and settings.DEBUG:
        keys = [_development_key()]
    return keys


@lru_cache(maxsize=8)
def _fernet_of(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "PROVIDER_CREDENTIALS_KEYS is empty: payment-provider credentials cannot be "
            "encrypted or read. Set at least one Fernet key."
        )
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "PROVIDER_CREDENTIALS_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes)."
        ) from exc


def fernet() -> MultiFernet:
    """The MultiFernet of the configured keys (read each time: tests and rotations change
    the setting; the cache keeps the cost to a dictionary look-up)."""
    return _fernet_of(tuple(credentials_keys()))


def encrypt(secret: str) -> str:
    return fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    """Raises ``InvalidToken`` when no configured key opens it (a key dropped too early)."""
    return fernet().decrypt(token.encode()).decode()


def reencrypt(token: str) -> str:
    """The same secret under the newest key (MultiFernet.rotate)."""
    return fernet().rotate(token.encode()).decode()
