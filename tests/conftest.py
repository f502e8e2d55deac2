import os
from datetime import timedelta

import pytest
from django.core.servers.basehttp import WSGIServer
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from notifications import services as template_services
from tests.factories import MerchantFactory, api_secret_for

# The live server's listen queue is 10 by default; the reliability tests open 50 connections
# at the same instant, as a busy production server behind a proxy would see.
WSGIServer.request_queue_size = 128


@pytest.fixture
def merchant(db):
    return MerchantFactory(name="Alpha Shop")


@pytest.fixture
def other_merchant(db):
    return MerchantFactory(name="Beta Shop")


def _client_for(merchant) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant)}")
    return client


@pytest.fixture
def api(merchant) -> APIClient:
    """An API client authenticated with a key of ``merchant``."""
    return _client_for(merchant)


@pytest.fixture
def other_api(other_merchant) -> APIClient:
    return _client_for(other_merchant)


@pytest.fixture
def future():
    def at(days: float = 7) -> str:
        return (timezone.now() + timedelta(days=days)).isoformat()

    return at


@pytest.fixture
def postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://…)")


@pytest.fixture
def live_cards(settings):
    """Cards get a live acquirer (a stub) for this test, as a merchant with a real provider
    configured would have; the sandbox stays the test-mode adapter."""
    import dataclasses

    from payments import registry
    from tests.payments.live_stub import TEMPLATES_DIR, LiveAcquirerStub

    original = registry._methods["card"]
    registry._methods["card"] = dataclasses.replace(original, live_adapter_class=LiveAcquirerStub)
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [{**engine, "DIRS": [*engine.get("DIRS", []), TEMPLATES_DIR]}]
    LiveAcquirerStub.calls.clear()
    yield LiveAcquirerStub
    registry._methods["card"] = original


@pytest.fixture
def email_template(merchant):
    return template_services.template_create(
        merchant=merchant,
        name="Reminder email",
        channel="email",
        subject={"en": "Pay {{ request.reference }}", "fr": "Payez {{ request.reference }}"},
        body_text={"en": "Hello {{ payer.name }}, pay {{ amount_due }}: {{ pay_url }}"},
        body_html={"en": "<p>Hello {{ payer.name }}, pay {{ amount_due }}</p>"},
    )


@pytest.fixture
def sms_template(merchant):
    return template_services.template_create(
        merchant=merchant,
        name="Reminder SMS",
        channel="sms",
        body_text={"en": "{{ merchant.name }}: pay {{ amount_due }} {{ pay_url }}"},
    )


def pytest_report_header(config):
    return f"database: {os.environ.get('DATABASE_URL', 'sqlite (default)')}"


# The payer journey's tests tokenise cards the way the browser does, from any test folder.
from tests.payments.conftest import tokenise  # noqa: E402, F401

# --- Stripe: the real SDK against a local stub (tests/stubs/stripe_stub.py) ---------------
from tests.stubs.stripe_accounts import (  # noqa: E402
    STRIPE_LIVE_KEY,
    STRIPE_TEST_KEY,
    STRIPE_WEBHOOK_SECRET,
)


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


# --- PayPal: the REST adapter against a local stub (tests/stubs/paypal_stub.py) -----------
from tests.stubs.stripe_accounts import (  # noqa: E402
    PAYPAL_LIVE_CLIENT_ID,
    PAYPAL_LIVE_SECRET,
    PAYPAL_SANDBOX_CLIENT_ID,
    PAYPAL_SANDBOX_SECRET,
    PAYPAL_WEBHOOK_ID,
)


@pytest.fixture
def paypal_stub(settings):
    """PayPal's API on 127.0.0.1 for this test, its live and sandbox environments apart; the
    merchant's apps are known to their own environment only. A short timeout so a scripted
    "timeout" fault costs a second."""
    from payments.adapters.paypal_rest import forget_tokens
    from tests.stubs.paypal_stub import PayPalStub

    stub = PayPalStub(answer_delay=1.5).start()
    stub.add_app(PAYPAL_SANDBOX_CLIENT_ID, PAYPAL_SANDBOX_SECRET, environment="sandbox")
    stub.add_app(PAYPAL_LIVE_CLIENT_ID, PAYPAL_LIVE_SECRET, environment="live")
    settings.PAYPAL_API_BASE = stub.base_url("live")
    settings.PAYPAL_SANDBOX_API_BASE = stub.base_url("sandbox")
    settings.PAYPAL_TIMEOUT_SECONDS = 0.75
    forget_tokens()
    yield stub
    forget_tokens()
    stub.stop()


@pytest.fixture
def paypal_test_account(merchant, paypal_stub):
    """``merchant`` entered its own PayPal sandbox app in test mode, and offers PayPal."""
    from payments.services import payment_method_enable
    from payments.services.credentials import provider_credentials_save

    payment_method_enable(merchant=merchant, method="paypal")
    return provider_credentials_save(
        merchant=merchant,
        livemode=False,
        provider="paypal",
        client_id=PAYPAL_SANDBOX_CLIENT_ID,
        secret_key=PAYPAL_SANDBOX_SECRET,
        webhook_secret=PAYPAL_WEBHOOK_ID,
    )


@pytest.fixture
def paypal_live_account(merchant, paypal_stub):
    from payments.services import payment_method_enable
    from payments.services.credentials import provider_credentials_save

    payment_method_enable(merchant=merchant, method="paypal")
    return provider_credentials_save(
        merchant=merchant,
        livemode=True,
        provider="paypal",
        client_id=PAYPAL_LIVE_CLIENT_ID,
        secret_key=PAYPAL_LIVE_SECRET,
        webhook_secret=PAYPAL_WEBHOOK_ID,
    )
