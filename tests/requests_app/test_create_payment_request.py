"""Creating payment requests through the API: the happy path and every refusal."""

import pytest

from requests_app.models import Participant, PaymentRequest

URL = "/api/v1/payment-requests"


def body(future, **overrides):
    data = {
        "reference": "INV-1",
        "description": "Dinner",
        "currency": "EUR",
        "amount_mode": "fixed",
        "total_amount": 3000,
        "participants": [
            {"name": "Ann", "email": "ann@example.com", "amount": 1000, "language": "fr"},
            {"name": "Ben", "phone": "+33612345678", "amount": 2000},
        ],
        "deadline": future(7),
        "expires_at": future(14),
        "language": "en",
        "metadata": {"order": "A-17"},
    }
    data.update(overrides)
    return data


def error_of(response):
    return response.json()["error"]


@pytest.mark.django_db
def test_it_creates_a_fixed_request_with_participants_and_payment_links(api, future):
    response = api.post(URL, body(future), format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["id"].startswith("pr_") and len(data["id"]) > 20
    assert data["status"] == "open"
    assert data["total_amount"] == 3000
    assert data["amount_remaining"] == 3000
    assert [p["amount"] for p in data["participants"]] == [1000, 2000]
    assert all(p["id"].startswith("pa_") for p in data["participants"])
    assert all(p["status"] == "pending" and p["amount_paid"] == 0 for p in data["participants"])
    first_url = data["participants"][0]["payment_url"]
    assert first_url.startswith("http://testserver/pay/")
    token = first_url.rstrip("/").rsplit("/", 1)[1]
    assert len(token) >= 22  # >= 128 bits in base62
    assert data["participants"][1]["phone"] == "+33612345678"
    assert data["participants"][1]["language"] == "en"  # inherited from the request
    assert PaymentRequest.objects.get().metadata == {"order": "A-17"}


@pytest.mark.django_db
def test_the_payment_link_opens_the_payers_page(api, client, future):
    data = api.post(URL, body(future), format="json").json()
    page = client.get(data["participants"][0]["payment_url"].replace("http://testserver", ""))
    assert page.status_code == 200
    assert "Ann" in page.content.decode()
    assert client.get("/pay/not-a-real-token/").status_code == 404


@pytest.mark.django_db
def test_it_splits_a_total_equally_with_a_deterministic_remainder(api, future):
    people = [{"name": n, "email": f"{n}@example.com"} for n in ("a", "b", "c")]
    response = api.post(
        URL, body(future, total_amount=100, split="equal", participants=people), format="json"
    )
    assert response.status_code == 201, response.content
    assert [p["amount"] for p in response.json()["participants"]] == [34, 33, 33]


@pytest.mark.django_db
def test_it_creates_a_free_amount_pot_with_bounds(api, future):
    people = [{"name": "a", "email": "a@example.com"}, {"name": "b", "email": "b@example.com"}]
    response = api.post(
        URL,
        body(
            future,
            amount_mode="free",
            total_amount=None,
            min_amount=500,
            max_amount=5000,
            participants=people,
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["amount_mode"] == "free"
    assert data["total_amount"] is None and data["amount_remaining"] is None
    assert [p["amount"] for p in data["participants"]] == [None, None]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "status", "code", "field"),
    [
        ({"total_amount": 0}, 422, "amount_not_positive", "total_amount"),
        ({"total_amount": -5}, 422, "amount_not_positive", "total_amount"),
        ({"total_amount": 30.5}, 422, "invalid_amount", "total_amount"),
        ({"total_amount": "3000"}, 422, "invalid_amount", "total_amount"),
        ({"total_amount": True}, 422, "invalid_amount", "total_amount"),
        ({"currency": "XYZ"}, 422, "unknown_currency", "currency"),
        ({"currency": "FRF"}, 422, "unknown_currency", "currency"),
        ({"total_amount": 3001}, 422, "shares_do_not_sum_to_total", "participants"),
        ({"surprise": 1}, 400, "unknown_field", "surprise"),
        ({"language": "de"}, 422, "invalid_choice", "language"),
        ({"amount_mode": "whatever"}, 422, "invalid_choice", "amount_mode"),
        ({"metadata": ["not", "an", "object"]}, 422, "invalid_metadata", "metadata"),
        ({"metadata": {"k": "x" * 9000}}, 422, "metadata_too_large", "metadata"),
        ({"metadata": {f"k{i}": i for i in range(51)}}, 422, "metadata_too_large", "metadata"),
        ({"participants": []}, 422, "empty", "participants"),
        ({"reference": ""}, 422, "blank", "reference"),
        ({"reference": "INV\r\nX-Evil: 1"}, 422, "invalid_characters", "reference"),
        ({"reference": "INV\t1"}, 422, "invalid_characters", "reference"),
        ({"reference": "INV\u2028 1"}, 422, "invalid_characters", "reference"),
        ({"reference": "INV\u202egpj.exe"}, 422, "invalid_characters", "reference"),
        ({"total_amount": 10**15 + 1}, 422, "amount_too_large", "total_amount"),
        ({"total_amount": 10**400}, 422, "amount_too_large", "total_amount"),
    ],
)
def test_it_refuses_bad_values_with_a_code_and_the_field(
    api, future, overrides, status, code, field
):
    response = api.post(URL, body(future, **overrides), format="json")

    assert response.status_code == status, response.content
    error = error_of(response)
    assert (error["code"], error["field"]) == (code, field)
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert PaymentRequest.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("participant", "code", "field"),
    [
        (
            {"name": "X", "email": "not-an-email", "amount": 3000},
            "invalid_email",
            "participants[0].email",
        ),
        (
            {"name": "X", "phone": "0612345678", "amount": 3000},
            "invalid_phone",
            "participants[0].phone",
        ),
        (
            {"name": "X", "phone": "+3361234", "amount": 3000},
            "invalid_phone",
            "participants[0].phone",
        ),
        ({"name": "X", "amount": 3000}, "contact_required", "participants[0].email"),
        (
            {"name": "X", "email": "x@example.com", "amount": 0},
            "amount_not_positive",
            "participants[0].amount",
        ),
        (
            {"name": "X", "email": "x@example.com", "amount": 29.99},
            "invalid_amount",
            "participants[0].amount",
        ),
        ({"name": "X", "email": "x@example.com"}, "required", "participants[0].amount"),
        (
            {"name": "X", "email": "x@example.com", "amount": 3000, "iban": "FR76"},
            "unknown_field",
            "participants[0].iban",
        ),
    ],
)
def test_it_refuses_bad_participants(api, future, participant, code, field):
    response = api.post(URL, body(future, participants=[participant]), format="json")

    error = error_of(response)
    assert (error["code"], error["field"]) == (code, field), error
    assert response.status_code in (400, 422)
    assert Participant.objects.count() == 0


@pytest.mark.django_db
def test_it_refuses_a_deadline_in_the_past(api, future):
    response = api.post(URL, body(future, deadline=future(-1)), format="json")
    assert response.status_code == 422
    assert error_of(response)["code"] == "deadline_in_past"
    assert error_of(response)["field"] == "deadline"


@pytest.mark.django_db
def test_it_refuses_an_expiry_before_the_deadline(api, future):
    response = api.post(URL, body(future, deadline=future(10), expires_at=future(5)), format="json")
    assert response.status_code == 422
    assert (error_of(response)["code"], error_of(response)["field"]) == (
        "expiry_before_deadline",
        "expires_at",
    )


@pytest.mark.django_db
def test_it_refuses_amounts_on_free_mode_participants(api, future):
    response = api.post(URL, body(future, amount_mode="free"), format="json")
    assert response.status_code == 422
    assert error_of(response)["code"] == "amount_not_allowed"


@pytest.mark.django_db
def test_it_refuses_a_minimum_above_the_maximum(api, future):
    people = [{"name": "a", "email": "a@example.com"}]
    response = api.post(
        URL,
        body(future, amount_mode="free", participants=people, min_amount=900, max_amount=100),
        format="json",
    )
    assert (response.status_code, error_of(response)["code"]) == (422, "min_above_max")


@pytest.mark.django_db
def test_a_duplicate_reference_is_a_conflict_and_keeps_the_first(api, future):
    assert api.post(URL, body(future), format="json").status_code == 201
    response = api.post(URL, body(future, description="second"), format="json")

    assert response.status_code == 409
    assert error_of(response)["code"] == "duplicate_reference"
    assert list(PaymentRequest.objects.values_list("description", flat=True)) == ["Dinner"]


@pytest.mark.django_db
def test_two_merchants_may_use_the_same_reference(api, other_api, future):
    assert api.post(URL, body(future), format="json").status_code == 201
    assert other_api.post(URL, body(future), format="json").status_code == 201


@pytest.mark.django_db
def test_malformed_json_is_a_400_in_the_error_shape(api):
    response = api.post(URL, data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


@pytest.mark.django_db
def test_a_body_that_is_not_an_object_is_refused(api):
    response = api.post(URL, data="[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "not_an_object"


@pytest.mark.django_db
def test_it_keeps_the_allowed_payment_methods_without_duplicates(api, future):
    response = api.post(URL, body(future, allowed_payment_methods=["card", "card"]), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["allowed_payment_methods"] == ["card"]


@pytest.mark.django_db
def test_it_refuses_a_payment_method_the_merchant_does_not_offer(api, merchant, future):
    from payments.services import payment_method_disable

    unknown = api.post(URL, body(future, allowed_payment_methods=["bitcoin"]), format="json")
    assert (unknown.status_code, error_of(unknown)["code"], error_of(unknown)["field"]) == (
        422,
        "unknown_payment_method",
        "allowed_payment_methods[0]",
    )

    payment_method_disable(merchant=merchant, method="card")
    disabled = api.post(URL, body(future, allowed_payment_methods=["card"]), format="json")
    assert error_of(disabled)["code"] == "unknown_payment_method"
    assert PaymentRequest.objects.count() == 0
