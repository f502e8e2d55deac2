import pytest

from tests.scenarios.helpers import OUTBOX_BACKEND


@pytest.fixture
def outbox(settings):
    """Email and SMS both land in the local outbox; no broker nudges during tests."""
    settings.EMAIL_BACKEND = OUTBOX_BACKEND
    settings.SMS_BACKEND = "outbox"
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    return settings
