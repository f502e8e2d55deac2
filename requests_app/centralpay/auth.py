"""HTTP Basic with our API keys, the way CentralPay clients authenticate.

A CentralPay client sends a login and a secret. Either field may carry one of our keys: the
key as the login with any secret (curl's ``-u sk_test_…:``), or the merchant's login (its
slug or ``mc_`` id) with the key as the secret. The key decides the merchant and the mode,
exactly as a Bearer key does on ``/api/v1``; a Bearer header works here too.
"""

import base64
import binascii

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from merchants.authentication import ApiKeyAuthentication, ApiPrincipal, AuthenticationFailed
from merchants.services import ApiKeyInvalid, ApiKeyRevoked, api_key_authenticate

KEY_PREFIXES = ("sk_test_", "sk_live_")
REALM = 'Basic realm="centralpay"'


def _invalid() -> AuthenticationFailed:
    return AuthenticationFailed("The login or the API key is not valid.", "invalid_api_key")


class BasicApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request):
        header = get_authorization_header(request).split()
        if not header:
            return None
        scheme = header[0].lower()
        if scheme == b"bearer":
            return ApiKeyAuthentication().authenticate(request)
        if scheme != b"basic" or len(header) != 2:
            raise AuthenticationFailed(
                "Use HTTP Basic: your API key as the login (any password), or your merchant "
                "login with the API key as the password.",
                "malformed_authorization",
            )
        try:
            login, _, secret = base64.b64decode(header[1], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise _invalid() from None
        if login.startswith(KEY_PREFIXES):
            key_secret, merchant_login = login, None
        elif secret.startswith(KEY_PREFIXES):
            key_secret, merchant_login = secret, login
        else:
            raise _invalid()
        try:
            api_key = api_key_authenticate(secret=key_secret)
        except ApiKeyInvalid:
            raise _invalid() from None
        except ApiKeyRevoked:
            raise AuthenticationFailed(
                "This API key has been revoked.", "api_key_revoked"
            ) from None
        if merchant_login is not None and merchant_login not in (
            api_key.merchant.slug,
            api_key.merchant.public_id,
        ):
            raise _invalid()  # someone else's login with this key: the same answer as a bad key
        return ApiPrincipal(api_key=api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return REALM
