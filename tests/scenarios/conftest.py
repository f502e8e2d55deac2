import pytest

from notifications import services as template_services
from tests.scenarios.helpers import OUTBOX_BACKEND


@pytest.fixture
def outbox(settings):
    """Email and SMS both land in the local outbox; no broker nudges during tests."""
    settings.EMAIL_BACKEND = OUTBOX_BACKEND
    settings.SMS_BACKEND = "outbox"
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    return settings


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
