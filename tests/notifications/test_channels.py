"""The email, SMS and webhook channels through their real client libraries, against local
stub servers on 127.0.0.1 (no other network)."""

import socket
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import time_machine
from anymail.signals import AnymailTrackingEvent, tracking
from django.utils import timezone
from standardwebhooks.webhooks import Webhook
from twilio.request_validator import RequestValidator

from notifications import services as template_services
from notifications.channels import OutgoingMessage, TransportError
from notifications.channels.webhook import WebhookTransport, resolve_target
from notifications.dispatcher import dispatch_due
from requests_app.services import ParticipantData
from scenarios import services
from scenarios.models import Dispatch, OutboxMessage
from tests.factories import make_request
from tests.scenarios.helpers import OUTBOX_BACKEND, make_scenario, step
from tests.scenarios.stub import stub_server

TWILIO_OK = {"sid": "SM0123456789abcdef", "status": "queued", "body": "x"}
TWILIO_BAD_NUMBER = {
    "code": 21211,
    "message": "The 'To' number is not a valid phone number.",
    "more_info": "https://www.twilio.com/docs/errors/21211",
    "status": 400,
}


@pytest.fixture(autouse=True)
def quiet_broker(settings):
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    settings.EMAIL_BACKEND = OUTBOX_BACKEND
    settings.SMS_BACKEND = "outbox"


def plan_one(merchant, steps, **participant):
    data = {"name": "Camille", "email": "camille@example.com", "phone": "+33612345678"}
    data.update(participant)
    scenario = make_scenario(merchant, steps)
    payment_request = make_request(
        merchant, total_amount=1000, participants=[ParticipantData(amount=1000, **data)]
    )
    services.dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)
    return payment_request


# --- SMS through Twilio's SDK ------------------------------------------------------------------


@pytest.fixture
def twilio(settings):
    def configure(stub):
        settings.TEST_MODE_REAL_CHANNELS = True  # these requests are test mode
        settings.SMS_BACKEND = "twilio"
        settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
        settings.TWILIO_AUTH_TOKEN = "secret-token"
        settings.TWILIO_FROM_NUMBER = "+15005550006"
        settings.TWILIO_API_BASE_URL = stub.url
        settings.PUBLIC_BASE_URL = "https://pay.example"

    return configure


def test_sms_goes_through_twilio_and_is_retried_after_a_provider_error(
    merchant, sms_template, twilio
):
    with stub_server(
        [(500, {"code": 20500, "message": "oops", "status": 500}), (201, TWILIO_OK)]
    ) as stub:
        twilio(stub)
        with time_machine.travel(timezone.now(), tick=False) as clock:
            plan_one(merchant, [step("request_created", sms_template)])
            dispatch_due(worker_id="w")
            row = Dispatch.objects.get()
            assert (row.status, row.attempts) == ("planned", 1)
            assert "HTTP 500" in row.last_error
            clock.shift(timedelta(minutes=1))
            dispatch_due(worker_id="w")
    row = Dispatch.objects.get()
    assert (row.status, row.attempts, row.provider_message_id) == ("sent", 2, TWILIO_OK["sid"])
    assert len(stub.received) == 2
    request = stub.received[-1]
    assert request.path == f"/2010-04-01/Accounts/{'AC' + '0' * 32}/Messages.json"
    form = parse_qs(request.body.decode())
    assert form["To"] == ["+33612345678"] and form["From"] == ["+15005550006"]
    assert form["Body"][0].startswith("Alpha Shop: pay €10.00 https://pay.example/pay/")
    assert form["StatusCallback"] == ["https://pay.example/api/v1/providers/twilio/status"]
    assert OutboxMessage.objects.count() == 0


def test_an_invalid_number_fails_at_once(merchant, sms_template, twilio):
    with stub_server([(400, TWILIO_BAD_NUMBER)]) as stub:
        twilio(stub)
        plan_one(merchant, [step("request_created", sms_template)])
        dispatch_due(worker_id="w")
    row = Dispatch.objects.get()
    assert (row.status, row.attempts) == ("failed", 1)
    assert "21211" in row.last_error


def test_without_twilio_sms_land_in_the_outbox(merchant, sms_template):
    plan_one(merchant, [step("request_created", sms_template)])
    dispatch_due(worker_id="w")
    message = OutboxMessage.objects.get()
    assert (message.channel, message.to) == ("sms", "+33612345678")
    assert "\u00a0" not in message.text


# --- Twilio status callbacks -------------------------------------------------------------------


STATUS_URL = "/api/v1/providers/twilio/status"


@pytest.fixture
def sent_sms(merchant, sms_template, settings):
    settings.TWILIO_AUTH_TOKEN = "secret-token"
    plan_one(merchant, [step("request_created", sms_template)])
    Dispatch.objects.update(status="sent", provider_message_id="SM42")
    return Dispatch.objects.get()


def signed(params: dict, token: str = "secret-token") -> str:
    return RequestValidator(token).compute_signature(f"http://testserver{STATUS_URL}", params)


def test_a_signed_status_callback_records_the_delivery(client, sent_sms):
    params = {"MessageSid": "SM42", "MessageStatus": "delivered"}
    response = client.post(STATUS_URL, params, HTTP_X_TWILIO_SIGNATURE=signed(params))
    assert response.status_code == 204
    assert Dispatch.objects.get().delivery_status == "delivered"


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 400), ("bm90IGEgc2lnbmF0dXJl", 403), ("%%%not base64\u00e9", 403), ("", 400)],
)
def test_unsigned_or_badly_signed_callbacks_change_nothing(client, sent_sms, header, status):
    params = {"MessageSid": "SM42", "MessageStatus": "failed"}
    extra = {} if header is None else {"HTTP_X_TWILIO_SIGNATURE": header}
    assert client.post(STATUS_URL, params, **extra).status_code == status
    assert Dispatch.objects.get().delivery_status == ""


def test_a_callback_signed_with_another_token_is_refused(client, sent_sms):
    params = {"MessageSid": "SM42", "MessageStatus": "failed"}
    response = client.post(STATUS_URL, params, HTTP_X_TWILIO_SIGNATURE=signed(params, "other"))
    assert response.status_code == 403


# --- Email through a real anymail backend ------------------------------------------------------


@pytest.fixture
def mailgun(settings):
    def configure(stub):
        settings.TEST_MODE_REAL_CHANNELS = True  # these requests are test mode
        settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
        settings.ANYMAIL = {
            "MAILGUN_API_KEY": "key-test",
            "MAILGUN_SENDER_DOMAIN": "mg.example.com",
            "MAILGUN_API_URL": f"{stub.url}/v3",
        }

    return configure


def test_email_goes_through_anymail_and_tracking_updates_it(merchant, email_template, mailgun):
    queued = {"id": "<20260302.1@mg.example.com>", "message": "Queued. Thank you."}
    with stub_server([(200, queued)]) as stub:
        mailgun(stub)
        plan_one(merchant, [step("request_created", email_template)])
        dispatch_due(worker_id="w")
    row = Dispatch.objects.get()
    assert (row.status, row.provider_message_id) == ("sent", queued["id"])
    request = stub.received[0]
    assert request.path == "/v3/mg.example.com/messages"
    form = parse_qs(request.body.decode())
    assert form["to"] == ["camille@example.com"]
    assert form["v:notification_id"] == [row.public_id]  # comes back on tracking events
    assert form["html"][0].startswith("<p>Hello Camille")

    tracking.send(
        sender=object,
        event=AnymailTrackingEvent(event_type="delivered", message_id=queued["id"]),
        esp_name="Mailgun",
    )
    assert Dispatch.objects.get().delivery_status == "delivered"


def test_a_rejected_email_fails_and_a_server_error_retries(merchant, email_template, mailgun):
    with stub_server([(503, {"message": "busy"})]) as stub:
        mailgun(stub)
        plan_one(merchant, [step("request_created", email_template)])
        dispatch_due(worker_id="w")
        assert Dispatch.objects.get().status == "planned"
        stub.responses[:] = [(400, {"message": "'to' parameter is not a valid address"})]
        Dispatch.objects.update(next_attempt_at=timezone.now())
        dispatch_due(worker_id="w")
    assert Dispatch.objects.get().status == "failed"


def test_a_payers_name_cannot_inject_html_into_an_email(merchant, email_template):
    name = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    plan_one(merchant, [step("request_created", email_template)], name=name)
    dispatch_due(worker_id="w")
    message = OutboxMessage.objects.get()
    assert "<script>" not in message.html and "<img" not in message.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img" in message.html
    assert name in message.text  # plain text stays as written


# --- Webhooks ----------------------------------------------------------------------------------


@pytest.fixture
def allow_loopback(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True


def test_webhooks_are_signed_per_standard_webhooks(merchant, allow_loopback):
    with stub_server([(200, {})]) as stub:
        endpoint = services.webhook_endpoint_create(merchant=merchant, url=f"{stub.url}/hooks")
        steps = [
            step("request_created", None, audience="merchant", webhook_endpoint=endpoint.public_id)
        ]
        payment_request = plan_one(merchant, steps)
        dispatch_due(worker_id="w")
    row = Dispatch.objects.get()
    assert row.status == "sent"
    request = stub.received[0]
    headers = {k.lower(): v for k, v in request.headers.items()}
    payload = Webhook(endpoint.secret).verify(request.body, headers)
    assert headers["webhook-id"] == row.public_id
    assert payload["type"] == "notification.request_created"
    assert payload["data"]["payment_request"]["id"] == payment_request.public_id
    with pytest.raises(Exception):  # noqa: B017 - any verification failure will do
        Webhook(endpoint.secret).verify(request.body.replace(b"request", b"Request"), headers)


def test_a_webhook_answering_500_is_retried_and_410_stops(merchant, allow_loopback):
    with stub_server([(500, {}), (410, {})]) as stub:
        endpoint = services.webhook_endpoint_create(merchant=merchant, url=f"{stub.url}/hooks")
        steps = [
            step("request_created", None, audience="merchant", webhook_endpoint=endpoint.public_id)
        ]
        plan_one(merchant, steps)
        dispatch_due(worker_id="w")
        assert Dispatch.objects.get().status == "planned"
        Dispatch.objects.update(next_attempt_at=timezone.now())
        dispatch_due(worker_id="w")
    assert Dispatch.objects.get().status == "failed"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "http://hooks.example.com/plain-http",
    ],
)
def test_private_and_metadata_targets_are_refused(settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(TransportError) as refused:
        resolve_target(url)
    assert refused.value.permanent


def test_metadata_stays_refused_even_when_private_targets_are_allowed(allow_loopback):
    with pytest.raises(TransportError):
        resolve_target("http://169.254.169.254/latest/meta-data/")


def test_a_name_resolving_inward_is_refused_at_send_time(merchant, settings, monkeypatch):
    # Registered while it pointed outward; by send time the DNS answers a private address.
    endpoint = services.webhook_endpoint_create(
        merchant=merchant, url="https://hooks.example.com/in"
    )
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.1.20", 443))],
    )
    steps = [
        step("request_created", None, audience="merchant", webhook_endpoint=endpoint.public_id)
    ]
    plan_one(merchant, steps)
    dispatch_due(worker_id="w")
    row = Dispatch.objects.get()
    assert (row.status, row.attempts) == ("failed", 1)
    assert "non-public address (192.168.1.20)" in row.last_error


def test_the_transport_refuses_before_connecting(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    message = OutgoingMessage(
        message_id="nt_x",
        merchant_id=None,
        to="https://10.0.0.1/x",
        payload={},
        secret="whsec_" + "A" * 43 + "=",
    )
    with pytest.raises(TransportError) as refused:
        WebhookTransport().send(message)  # pytest-socket would fail on any connection
    assert refused.value.permanent


@pytest.fixture
def sms_template(merchant):
    return template_services.template_create(
        merchant=merchant,
        name="Reminder SMS",
        channel="sms",
        body_text={"en": "{{ merchant.name }}: pay {{ amount_due }} {{ pay_url }}"},
    )


@pytest.fixture
def email_template(merchant):
    return template_services.template_create(
        merchant=merchant,
        name="Reminder email",
        channel="email",
        subject={"en": "Pay {{ request.reference }}"},
        body_text={"en": "Hello {{ payer.name }}, pay {{ amount_due }}: {{ pay_url }}"},
        body_html={"en": "<p>Hello {{ payer.name }}, pay {{ amount_due }}</p>"},
    )
