import pytest
from django.utils import timezone

from payments.registry import adapter_for

TOKENS_URL = "/sandbox/tokens"

SUCCEEDS = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"
INSUFFICIENT_FUNDS = "4000 0000 0000 9995"
CHALLENGE = "4000 0000 0000 3220"
TIMEOUT = "4000 0000 0000 0119"


def card_details(number: str = SUCCEEDS, **overrides) -> dict:
    details = {
        "number": number,
        "exp_month": 12,
        "exp_year": timezone.now().year + 3,
        "cvc": "123",
    }
    details.update(overrides)
    return details


@pytest.fixture
def tokenise(client):
    """Tokenise a card the way the payer's browser does, through the sandbox endpoint."""

    def tokenise(number: str = SUCCEEDS, **overrides) -> str:
        response = client.post(
            TOKENS_URL, card_details(number, **overrides), content_type="application/json"
        )
        assert response.status_code == 201, response.content
        return response.json()["token"]

    return tokenise


@pytest.fixture
def card(merchant):
    """The card adapter as the checkout gets it, bound to ``merchant``."""
    return adapter_for(merchant=merchant, method="card", livemode=False)


@pytest.fixture
def other_card(other_merchant):
    return adapter_for(merchant=other_merchant, method="card", livemode=False)


# The Stripe fixtures live in tests/conftest.py (browser tests use them too).
from tests.stubs.stripe_accounts import (  # noqa: E402, F401
    STRIPE_LIVE_KEY,
    STRIPE_TEST_KEY,
    STRIPE_WEBHOOK_SECRET,
)
