"""A CentralPay client as existing integrations are written: Basic auth with the key as the
login, form fields posted URL-encoded or as multipart (sometimes under a JSON label)."""

import base64
import uuid
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import api_secret_for

BASE = "/v2/rest"
FORM = "application/x-www-form-urlencoded"


def basic(login: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def multipart(fields: list[tuple[str, str]], boundary: str | None = None) -> tuple[bytes, str]:
    """A multipart/form-data body as curl builds it from a PHP array, and its boundary."""
    boundary = boundary or f"------------------------{uuid.uuid4().hex[:16]}"
    parts = []
    for name, value in fields:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    parts.append(f"--{boundary}--\r\n")
    return "".join(parts).encode(), boundary


def deadline(days: float = 3, offset: str = "+01:00") -> str:
    """A deadline as Java's ``yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX`` writes it."""
    moment = timezone.now() + timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + offset


class CentralPayClient:
    def __init__(self, authorization: str):
        self.client = Client()
        self.authorization = authorization

    def _headers(self, headers: dict) -> dict:
        return {"HTTP_AUTHORIZATION": self.authorization, **headers}

    def form(self, path: str, fields, **headers):
        """URL-encoded fields; ``fields`` is a list of pairs (repeated names allowed)."""
        body = fields if isinstance(fields, str | bytes) else urlencode(fields)
        content_type = headers.pop("content_type", FORM)
        return self.client.post(
            BASE + path, body, content_type=content_type, **self._headers(headers)
        )

    def multipart(self, path: str, fields, *, label: str | None = None, **headers):
        """Multipart fields, labelled as multipart with the boundary, or ``label`` instead
        (a PHP client overriding the header with application/json loses the boundary)."""
        body, boundary = multipart(fields)
        content_type = label or f"multipart/form-data; boundary={boundary}"
        return self.client.post(
            BASE + path, body, content_type=content_type, **self._headers(headers)
        )

    def get(self, path: str, **headers):
        return self.client.get(BASE + path, content_type=FORM, **self._headers(headers))

    def create(self, fields, **headers):
        response = self.form("/paymentRequest", fields, **headers)
        assert response.status_code == 200, response.content
        return response.json()


@pytest.fixture
def secret(merchant) -> str:
    return api_secret_for(merchant)


@pytest.fixture
def cp(secret) -> CentralPayClient:
    return CentralPayClient(basic(secret, "anything"))


@pytest.fixture
def other_cp(other_merchant) -> CentralPayClient:
    return CentralPayClient(basic(api_secret_for(other_merchant)))


@pytest.fixture
def live_cp(merchant) -> CentralPayClient:
    return CentralPayClient(basic(api_secret_for(merchant, mode="live")))


def simple_fields(amount: int = 1000, email: str = "ann@example.com", **extra) -> list:
    fields = [
        ("paymentMethod[]", "TRANSACTION"),
        ("currency", "EUR"),
        ("totalAmount", str(amount)),
        ("breakdown[]", f'{{"amount":{amount},"email":"{email}"}}'),
    ]
    fields += list(extra.items())
    return fields
