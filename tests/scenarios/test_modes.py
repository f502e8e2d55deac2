"""Messages keep to their mode: test-mode email and SMS stay in the local outbox, and a
webhook step never sends one mode's events to the other mode's endpoint."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from notifications import dispatcher
from notifications.channels import SendResult, Transport
from notifications.dispatcher import dispatch_due
from requests_app.services import ParticipantData
from scenarios import services
from scenarios.models import Dispatch, OutboxMessage
from tests.factories import api_secret_for, make_request, participants
from tests.scenarios.helpers import make_scenario, step
from tests.scenarios.stub import stub_server

pytestmark = pytest.mark.django_db


class RecordingTransport(Transport):
    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message)
        return SendResult(provider_message_id=f"id-{len(self.sent)}")


def webhook_scenario(merchant, endpoint):
    return make_scenario(
        merchant,
        [
            {
                "trigger": "request_created",
                "audience": "merchant",
                "channel": "webhook",
                "webhook_endpoint": endpoint.public_id,
            }
        ],
    )


@pytest.fixture
def no_nudge(settings):
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False


@pytest.mark.parametrize(("request_live", "endpoint_live"), [(False, True), (True, False)])
def test_a_webhook_step_never_sends_to_an_endpoint_of_the_other_mode(
    monkeypatch, merchant, live_cards, no_nudge, request_live, endpoint_live
):
    endpoint = services.webhook_endpoint_create(
        merchant=merchant, url="https://hooks.example.com/pay", livemode=endpoint_live
    )
    transport = RecordingTransport()
    monkeypatch.setattr(dispatcher, "transport_for", lambda channel, **_: transport)
    make_request(merchant, scenario=webhook_scenario(merchant, endpoint), livemode=request_live)

    dispatch_due(worker_id="w")

    row = Dispatch.objects.get()
    assert (row.livemode, row.status, row.skip_reason) == (
        request_live,
        "skipped",
        "endpoint_other_mode",
    )
    assert transport.sent == []


def test_a_webhook_step_sends_to_an_endpoint_of_the_same_mode(monkeypatch, merchant, no_nudge):
    endpoint = services.webhook_endpoint_create(
        merchant=merchant, url="https://hooks.example.com/pay", livemode=False
    )
    transport = RecordingTransport()
    monkeypatch.setattr(dispatcher, "transport_for", lambda channel, **_: transport)
    make_request(merchant, scenario=webhook_scenario(merchant, endpoint))

    dispatch_due(worker_id="w")

    assert Dispatch.objects.get().status == "sent"
    assert [m.payload["livemode"] for m in transport.sent] == [False]
    assert transport.sent[0].payload["data"]["payment_request"]["livemode"] is False


@pytest.fixture
def real_providers(settings, no_nudge):
    """An installation configured with a real ESP (a local stub) and Twilio."""
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = "secret-token"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    return settings


def test_test_mode_email_and_sms_stay_in_the_outbox_even_with_real_providers(
    real_providers, merchant, email_template, sms_template
):
    with stub_server([(200, {"id": "<x@mg>", "message": "Queued"})] * 4) as stub:
        real_providers.TWILIO_API_BASE_URL = stub.url
        real_providers.ANYMAIL = {
            "MAILGUN_API_KEY": "key-test",
            "MAILGUN_SENDER_DOMAIN": "mg.example.com",
            "MAILGUN_API_URL": f"{stub.url}/v3",
        }
        scenario = make_scenario(
            merchant,
            [
                step("request_created", email_template),
                step("request_created", sms_template),
            ],
        )
        make_request(
            merchant,
            scenario=scenario,
            total_amount=1000,
            participants=[
                ParticipantData(name="Ann", email="ann@example.com", amount=500),
                ParticipantData(name="Sam", phone="+33612345678", amount=500),
            ],
        )

        dispatch_due(worker_id="w")

        assert stub.received == []  # neither the ESP nor Twilio was called
    kept = OutboxMessage.objects.order_by("channel")
    assert [(m.channel, m.livemode) for m in kept] == [("email", False), ("sms", False)]
    assert Dispatch.objects.filter(status="sent").count() == 2  # the others: no_recipient


def test_an_operator_can_ask_for_real_channels_in_test_mode(settings, merchant, email_template):
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    settings.TEST_MODE_REAL_CHANNELS = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    make_request(
        merchant,
        scenario=make_scenario(merchant, [step("request_created", email_template)]),
        total_amount=1000,
        participants=participants(1, amount=1000),
    )

    dispatch_due(worker_id="w")

    assert len(mail.outbox) == 1 and not OutboxMessage.objects.exists()


def test_live_mode_email_goes_to_the_configured_backend(
    settings, merchant, email_template, live_cards
):
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    make_request(
        merchant,
        scenario=make_scenario(merchant, [step("request_created", email_template)]),
        total_amount=1000,
        participants=participants(1, amount=1000),
        livemode=True,
    )

    dispatch_due(worker_id="w")

    assert [m.to for m in mail.outbox] == [["payer0@example.com"]]
    assert not OutboxMessage.objects.exists()


def test_the_outbox_api_shows_each_key_its_own_mode(
    merchant, settings, email_template, live_cards, no_nudge
):
    settings.EMAIL_BACKEND = "notifications.outbox_backend.OutboxEmailBackend"
    scenario = make_scenario(merchant, [step("request_created", email_template)])
    make_request(
        merchant,
        scenario=scenario,
        reference="T",
        participants=participants(1, amount=1000),
        total_amount=1000,
    )
    make_request(
        merchant,
        scenario=scenario,
        reference="L",
        participants=participants(1, amount=1000),
        total_amount=1000,
        livemode=True,
    )
    dispatch_due(worker_id="w")

    def outbox_for(mode):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant, mode=mode)}")
        return [m["livemode"] for m in client.get("/api/v1/outbox").json()["results"]]

    assert outbox_for("test") == [False]
    assert outbox_for("live") == [True]
