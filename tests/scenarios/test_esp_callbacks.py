"""Email providers' tracking callbacks, in production mode: only the configured ESP's route
exists, nothing is recorded without its secret, and no body is a server error."""

import base64
import hashlib
import hmac
import json

import pytest
from django.test import Client

from notifications.dispatcher import dispatch_due
from scenarios import services
from scenarios.models import Dispatch
from tests.factories import make_request, participants
from tests.scenarios.helpers import OUTBOX_BACKEND, make_scenario, step

MESSAGE_ID = "<20260302.1@mg.example.com>"
SECRET = "hooks:correct-horse-battery"
POSTMARK_URL = "/anymail/postmark/tracking/"
MAILGUN_URL = "/anymail/mailgun/tracking/"
MAILGUN_KEY = "mailgun-signing-key"


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False


@pytest.fixture
def client():
    """Server errors come back as responses, as a provider would see them."""
    return Client(raise_request_exception=False)


@pytest.fixture
def sent_email(settings, merchant, email_template, production):
    settings.EMAIL_BACKEND = OUTBOX_BACKEND
    scenario = make_scenario(merchant, [step("request_created", email_template)])
    payment_request = make_request(
        merchant, total_amount=1000, participants=participants(1, amount=1000)
    )
    services.dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)
    dispatch_due(worker_id="w")
    Dispatch.objects.update(provider_message_id=MESSAGE_ID, delivery_status="")
    return Dispatch.objects.get()


@pytest.fixture
def postmark(settings, sent_email):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "server-token", "WEBHOOK_SECRET": SECRET}


@pytest.fixture
def mailgun(settings, sent_email):
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    settings.ANYMAIL = {"MAILGUN_API_KEY": "key-x", "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}


def basic(credentials: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


def bounce() -> str:
    return json.dumps(
        {
            "RecordType": "Bounce",
            "Type": "HardBounce",
            "MessageID": MESSAGE_ID,
            "Email": "camille@example.com",
            "BouncedAt": "2026-03-02T10:00:00Z",
        }
    )


def post_json(client, url, body, **headers):
    return client.post(url, body, content_type="application/json", **headers)


def delivery_status() -> str:
    return Dispatch.objects.get().delivery_status


@pytest.mark.django_db
def test_an_anonymous_callback_is_refused_and_changes_nothing(client, postmark):
    response = post_json(client, POSTMARK_URL, bounce())
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert delivery_status() == ""


@pytest.mark.django_db
def test_a_callback_with_the_wrong_secret_is_refused(client, postmark):
    response = post_json(client, POSTMARK_URL, bounce(), **basic("hooks:guess"))
    assert response.status_code == 403
    assert delivery_status() == ""


@pytest.mark.django_db
def test_a_callback_with_the_right_secret_records_the_status(client, postmark):
    response = post_json(client, POSTMARK_URL, bounce(), **basic(SECRET))
    assert response.status_code == 200
    assert delivery_status() == "bounced"


@pytest.mark.django_db
def test_callbacks_are_refused_while_no_secret_is_configured(client, postmark, settings):
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "server-token"}
    response = post_json(client, POSTMARK_URL, bounce())
    assert response.status_code == 403
    assert b"WEBHOOK_SECRET" in response.content
    assert delivery_status() == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        "{}",
        "[]",
        "null",
        "42",
        '"text"',
        "not json at all",
        "{",
        '{"RecordType": []}',
        '{"RecordType": "Bounce", "Type": {}, "MessageID": []}',
        '{"RecordType": "Delivery", "DeliveredAt": "yesterday", "MessageID": 7}',
        '[{"RecordType": "Bounce"}]',
        "\xff\xfe",
    ],
)
def test_an_authenticated_body_that_cannot_be_read_is_a_400(client, postmark, body):
    response = post_json(client, POSTMARK_URL, body, **basic(SECRET))
    assert response.status_code == 400
    assert delivery_status() == ""


@pytest.mark.django_db
def test_a_nul_in_the_message_id_names_no_message(client, postmark):
    body = json.loads(bounce())
    body["MessageID"] = "abc\x00def"
    response = post_json(client, POSTMARK_URL, json.dumps(body), **basic(SECRET))
    assert response.status_code < 500
    assert delivery_status() == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/anymail/mailgun/tracking/",
        "/anymail/sendgrid/tracking/",
        "/anymail/amazon_ses/tracking/",
        "/anymail/postmark/inbound/",
        "/anymail/mandrill/",
        "/anymail/nothing/tracking/",
    ],
)
def test_routes_of_other_providers_do_not_exist(client, postmark, url):
    assert post_json(client, url, bounce(), **basic(SECRET)).status_code == 404


@pytest.mark.django_db
def test_no_provider_route_exists_when_email_stays_local(client, sent_email, settings):
    settings.EMAIL_BACKEND = OUTBOX_BACKEND
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    assert post_json(client, POSTMARK_URL, bounce(), **basic(SECRET)).status_code == 404


# --- An ESP that signs its callbacks ------------------------------------------------------------


def mailgun_body(key: str = MAILGUN_KEY, event_data=None) -> str:
    token, timestamp = "t" * 50, "1772445600"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    if event_data is None:
        event_data = {
            "event": "failed",
            "severity": "permanent",
            "timestamp": 1772445600.0,
            "recipient": "camille@example.com",
            "message": {"headers": {"message-id": MESSAGE_ID}},
        }
    return json.dumps(
        {
            "signature": {
                "token": token,
                "timestamp": timestamp,
                "signature": signature.hexdigest(),
            },
            "event-data": event_data,
        }
    )


@pytest.mark.django_db
def test_a_signed_mailgun_callback_records_the_status(client, mailgun):
    response = post_json(client, MAILGUN_URL, mailgun_body())
    assert response.status_code == 200
    assert delivery_status() == "bounced"


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["{}", "[]", "junk", '{"signature": []}', None])
def test_a_mailgun_callback_without_a_good_signature_is_refused(client, mailgun, body):
    body = mailgun_body(key="another-key") if body is None else body
    response = post_json(client, MAILGUN_URL, body)
    assert response.status_code in (400, 403)
    assert delivery_status() == ""


@pytest.mark.django_db
@pytest.mark.parametrize("event_data", [[], {}, {"event": "failed", "message": []}, "x"])
def test_a_signed_mailgun_callback_that_cannot_be_read_is_a_400(client, mailgun, event_data):
    response = post_json(client, MAILGUN_URL, mailgun_body(event_data=event_data))
    assert response.status_code == 400
    assert delivery_status() == ""


@pytest.mark.django_db
def test_mailgun_without_its_signing_key_refuses_callbacks(client, mailgun, settings):
    settings.ANYMAIL = {}
    response = post_json(client, MAILGUN_URL, mailgun_body())
    assert response.status_code == 403
    assert delivery_status() == ""
