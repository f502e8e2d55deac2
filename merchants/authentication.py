"""DRF authentication by merchant API key (``Authorization: Bearer sk_…``)."""

from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiKey, Merchant
from .services import ApiKeyInvalid, ApiKeyRevoked, api_key_authenticate


@dataclass(frozen=True)
class ApiPrincipal:
    """What ``request.user`` is for an API call: the key, acting for its merchant."""

    api_key: ApiKey

    @property
    def merchant(self) -> Merchant:
        return self.api_key.merchant

    @property
    def livemode(self) -> bool:
        return self.api_key.livemode

    is_authenticated = True
    is_anonymous = False


class AuthenticationFailed(exceptions.AuthenticationFailed):
    def __init__(self, message: str, code: str):
        super().__init__(message, code=code)


class ApiKeyAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request):
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != self.keyword or len(header) != 2:
            raise AuthenticationFailed(
                "Use the header 'Authorization: Bearer <secret key>'.", "malformed_authorization"
            )
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise AuthenticationFailed("The API key is not valid.", "invalid_api_key") from exc
        if not secret.startswith(("sk_test_", "sk_live_")):
            raise AuthenticationFailed("The API key is not valid.", "invalid_api_key")
        try:
            api_key = api_key_authenticate(secret=secret)
        except ApiKeyInvalid as exc:
            raise AuthenticationFailed("The API key is not valid.", "invalid_api_key") from exc
        except ApiKeyRevoked as exc:
            raise AuthenticationFailed("This API key has been revoked.", "api_key_revoked") from exc
        return ApiPrincipal(api_key=api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key, so one noisy integration cannot starve the others."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view) -> str | None:
        if isinstance(request.auth, ApiKey):
            return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "merchants.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A secret key sk_test_… or sk_live_…",
        }
