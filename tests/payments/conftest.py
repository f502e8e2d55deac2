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


# --- Stripe: the real SDK against a local stub (tests/stubs/stripe_stub.py) ---------------

STRIPE_TEST_KEY = "sk_test_51AlphaShopTestKey000000000000"
STRIPE_LIVE_KEY = "sk_live_51AlphaShopLiveKey000000000000"
STRIPE_WEBHOOK_SECRET = "whsec_alphaShopSigningSecret0000"


@pytest.fixture
def stripe_stub(settings):
    """A Stripe API on 127.0.0.1 for this test; the adapter's base URL points at it, with a
    short timeout so a scripted "timeout" fault costs a second, not twenty."""
    from tests.stubs.stripe_stub import StripeStub

    stub = StripeStub(answer_delay=1.5).start()
    settings.STRIPE_API_BASE = stub.base_url
    settings.STRIPE_TIMEOUT_SECONDS = 0.75
    yield stub
    stub.stop()


@pytest.fixture
def stripe_test_account(merchant, stripe_stub):
    """``merchant`` entered its Stripe test keys: its test-mode cards go to Stripe."""
    from payments.services.credentials import provider_credentials_save

    return provider_credentials_save(
        merchant=merchant,
        livemode=False,
        secret_key=STRIPE_TEST_KEY,
        webhook_secret=STRIPE_WEBHOOK_SECRET,
    )


@pytest.fixture
def stripe_live_account(merchant, stripe_stub):
    from payments.services.credentials import provider_credentials_save

    return provider_credentials_save(
        merchant=merchant,
        livemode=True,
        secret_key=STRIPE_LIVE_KEY,
        webhook_secret=STRIPE_WEBHOOK_SECRET,
    )
