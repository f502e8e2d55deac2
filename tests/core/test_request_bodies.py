"""Bodies no view should have to read: NUL characters in back-office forms, JSON nested past
any real use, and bodies larger than the server accepts (tested once, not per route)."""

import pytest

from notifications.models import MessageTemplate
from requests_app.models import PaymentRequest
from tests.factories import MembershipFactory

THIRTY_MB = 30 * 1024 * 1024


@pytest.fixture
def operator_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant).user)
    return client


def error_of(response) -> dict:
    return response.json()["error"]


@pytest.mark.django_db
def test_a_nul_in_a_back_office_form_field_is_refused_and_nothing_is_saved(operator_client):
    before = MessageTemplate.objects.count()
    response = operator_client.post(
        "/app/templates/new/",
        {"name": "Reminder\x00", "channel": "email", "subject_en": "Hi", "body_text_en": "Hi"},
    )
    assert response.status_code == 400
    assert "NUL" in response.content.decode()
    assert MessageTemplate.objects.count() == before


@pytest.mark.django_db
def test_a_nul_in_a_form_encoded_api_call_is_refused_in_the_error_shape(api):
    response = api.generic(
        "POST",
        "/api/v1/providers/twilio/status",
        "MessageSid=SM1&MessageStatus=delivered%00",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_characters"


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [10_000, 33, 200])
def test_json_nested_past_the_limit_is_a_400_in_the_error_shape(api, depth):
    body = '{"reference": "A", "metadata": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
    response = api.generic("POST", "/api/v1/payment-requests", body, "application/json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "parse_error" and "levels deep" in error["message"]
    assert PaymentRequest.objects.count() == 0


@pytest.mark.django_db
def test_json_nested_within_the_limit_is_read(api):
    body = "[" * 31 + "]" * 31
    response = api.generic("POST", "/api/v1/payment-requests", body, "application/json")
    assert (response.status_code, error_of(response)["code"]) == (400, "not_an_object")


@pytest.mark.django_db
def test_a_json_body_larger_than_the_limit_is_a_413_in_the_error_shape(api):
    body = b'{"reference": "' + b"a" * THIRTY_MB + b'"}'
    response = api.generic("POST", "/api/v1/payment-requests", body, "application/json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"
    assert error_of(response)["type"] == "invalid_request_error"
    assert PaymentRequest.objects.count() == 0


@pytest.mark.django_db
def test_a_form_larger_than_the_limit_is_a_413(client, merchant):
    from tests.factories import make_request

    payer = make_request(merchant).participants.first()
    encoded = b"card_token=" + b"a" * THIRTY_MB
    response = client.generic(
        "POST", f"/pay/{payer.link_token}/", encoded, "application/x-www-form-urlencoded"
    )
    assert response.status_code == 413

    # Multipart: the form fields count, whatever the Content-Length says about files.
    multipart = client.post(f"/pay/{payer.link_token}/", {"card_token": "a" * THIRTY_MB})
    assert multipart.status_code == 413


@pytest.mark.django_db
@pytest.mark.parametrize("metadata", ['{"note": "a\\ud800b"}', '{"\\udfff": 1}'])
def test_an_unpaired_surrogate_in_json_is_a_400_not_a_database_error(api, metadata):
    body = (
        '{"reference": "A", "currency": "EUR", "total_amount": 100, "participants": '
        '[{"name": "a", "email": "a@example.com", "amount": 100}], "metadata": ' + metadata + "}"
    )
    response = api.generic("POST", "/api/v1/payment-requests", body, "application/json")
    assert (response.status_code, error_of(response)["code"]) == (400, "parse_error")
    assert "surrogate" in error_of(response)["message"]
    assert PaymentRequest.objects.count() == 0


def test_a_body_found_too_large_inside_an_api_view_is_a_413_in_the_error_shape():
    from django.core.exceptions import RequestDataTooBig

    from pushpay.api.errors import exception_handler

    response = exception_handler(RequestDataTooBig("too big"), {})

    assert response.status_code == 413
    assert response.data["error"]["code"] == "request_too_large"
