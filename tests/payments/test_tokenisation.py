"""POST /sandbox/tokens: card details in, a token out; bad details refused field by field."""

import logging
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models
from django.template.loader import render_to_string
from django.utils import timezone

from payments.models import SandboxCard
from payments.sandbox.services import card_fingerprint

from .conftest import CHALLENGE, SUCCEEDS, TOKENS_URL, card_details

pytestmark = pytest.mark.django_db


def post(client, data):
    return client.post(TOKENS_URL, data, content_type="application/json")


def error_of(response):
    return response.json()["error"]


def test_it_returns_a_token_with_brand_last4_and_expiry(client):
    year = timezone.now().year + 3

    response = post(client, card_details(SUCCEEDS, exp_month=7, exp_year=year))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["token"].startswith("tok_") and len(body["token"]) > 20
    assert body == {
        "token": body["token"],
        "brand": "visa",
        "last4": "4242",
        "exp_month": 7,
        "exp_year": year,
    }


def test_a_two_digit_year_is_read_as_this_century(client):
    year = timezone.now().year + 3

    response = post(client, card_details(exp_year=year % 100))

    assert response.json()["exp_year"] == year


def test_it_needs_no_csrf_token_because_it_acts_for_nobody(client):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        TOKENS_URL, card_details(), content_type="application/json"
    )

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"number": "4242 4242 4242 4241"}, "incorrect_number", "number"),
        ({"number": "4242"}, "invalid_number", "number"),
        ({"number": "4242-abcd-4242-4242"}, "invalid_number", "number"),
        ({"exp_month": 13}, "invalid_expiry_month", "exp_month"),
        ({"exp_month": 0}, "invalid_expiry_month", "exp_month"),
        ({"exp_year": 1999}, "invalid_expiry_year", "exp_year"),
        ({"cvc": "12"}, "invalid_cvc", "cvc"),
        ({"cvc": "12a"}, "invalid_cvc", "cvc"),
        ({"cvc": "1234"}, "invalid_cvc", "cvc"),
    ],
)
def test_it_refuses_bad_card_details_with_the_field_at_fault(client, overrides, code, field):
    response = post(client, card_details(**overrides))

    assert response.status_code == 422, response.content
    assert (error_of(response)["code"], error_of(response)["field"]) == (code, field)
    assert error_of(response)["message"]
    assert not SandboxCard.objects.exists()


def test_it_refuses_a_card_that_expired_last_month(client):
    now = timezone.now()
    month, year = (12, now.year - 1) if now.month == 1 else (now.month - 1, now.year)

    response = post(client, card_details(exp_month=month, exp_year=year))

    assert response.status_code == 422
    assert error_of(response)["code"] == "expired_card"
    assert error_of(response)["field"] == "exp_year"


def test_a_card_expiring_this_month_is_still_good(client):
    now = timezone.now()

    response = post(client, card_details(exp_month=now.month, exp_year=now.year))

    assert response.status_code == 201


def test_an_amex_card_takes_a_four_digit_cvc(client):
    response = post(client, card_details("3782 822463 10005", cvc="1234"))

    assert response.status_code == 201
    assert response.json()["brand"] == "amex"


def test_it_refuses_unknown_fields_by_name(client):
    response = post(client, {**card_details(), "name": "Ann"})

    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["field"]) == ("unknown_field", "name")


@pytest.mark.parametrize("missing", ["number", "exp_month", "exp_year", "cvc"])
def test_it_refuses_a_missing_field_by_name(client, missing):
    data = card_details()
    del data[missing]

    response = post(client, data)

    assert response.status_code == 422
    assert (error_of(response)["code"], error_of(response)["field"]) == ("required", missing)


@pytest.mark.parametrize("value", ["12", 12.0, True])
def test_it_refuses_an_expiry_month_that_is_not_a_json_integer(client, value):
    response = post(client, card_details(exp_month=value))

    assert response.status_code == 422
    assert (error_of(response)["code"], error_of(response)["field"]) == (
        "invalid_integer",
        "exp_month",
    )


def test_it_refuses_malformed_json_with_one_clear_error(client):
    response = client.post(TOKENS_URL, '{"number": "4242', content_type="application/json")

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "parse_error"
    # The whole body is at fault, not one field: the house error shape says so with null.
    assert "field" in error and error["field"] is None


def test_it_refuses_a_body_that_is_not_an_object(client):
    response = post(client, ["4242424242424242"])

    assert response.status_code == 400
    assert error_of(response)["code"] == "not_an_object"


def test_it_refuses_form_encoded_bodies(client):
    response = client.post(TOKENS_URL, card_details())

    assert response.status_code == 415


def test_the_card_number_is_stored_in_no_column_of_any_payments_table(client, card, caplog):
    """Scan every text column of every payments table after tokenising and paying."""
    caplog.set_level(logging.DEBUG)
    numbers = ["4242424242424242", "4000000000003220"]
    tokens = [post(client, card_details(n, cvc="987")).json()["token"] for n in numbers]
    card.authorise(amount=100, currency="EUR", source=tokens[0], idempotency_key="k1")
    card.authorise(amount=100, currency="EUR", source=tokens[1], idempotency_key="k2")

    scanned = 0
    for model in apps.get_app_config("payments").get_models():
        text_columns = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        for row in model.objects.values_list(*text_columns):
            for value in row:
                scanned += 1
                for number in numbers:
                    assert number not in str(value), f"{model.__name__} stores a card number"
                    assert number[6:] not in str(value), f"{model.__name__} stores most of a PAN"
    assert scanned > 0
    cards = SandboxCard.objects.all()
    assert {c.last4 for c in cards} == {"4242", "3220"}
    for number in numbers:
        assert number not in caplog.text


def test_the_fingerprint_is_keyed_and_not_a_plain_hash(client, settings):
    import hashlib

    token = post(client, card_details()).json()["token"]
    stored = SandboxCard.objects.get(token=token).fingerprint

    assert stored == card_fingerprint("4242424242424242")
    assert stored != hashlib.sha256(b"4242424242424242").hexdigest()
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    assert card_fingerprint("4242424242424242") != stored


def test_the_card_fields_partial_names_no_card_input(client):
    html = render_to_string("payments/sandbox_card_fields.html")

    for label in ("Card number", "Expiry date", "CVC"):
        assert f">{label}</label>" in html
    inputs = [chunk for chunk in html.split("<input")[1:]]
    named = [i for i in inputs if " name=" in i.split(">")[0]]
    assert len(inputs) == 4 and len(named) == 1
    assert 'name="card_token"' in named[0] and 'type="hidden"' in named[0]
    assert "payments/sandbox-tokenize.js" in html


def test_the_tokenising_script_is_served_locally(client):
    from django.contrib.staticfiles import finders

    path = finders.find("payments/sandbox-tokenize.js")

    assert path is not None
    source = Path(path).read_text()
    assert "/sandbox/tokens" in source and 'removeAttribute("name")' in source
    assert "://" not in source  # talks to this site only, loads nothing from elsewhere


def test_tokenising_the_challenge_card_remembers_its_behaviour_not_its_number(client):
    token = post(client, card_details(CHALLENGE)).json()["token"]

    assert SandboxCard.objects.get(token=token).behaviour == "challenge"
