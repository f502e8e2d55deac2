"""POST /v2/rest/paymentRequest driven as CentralPay integrations drive it."""

import json
from datetime import UTC, datetime

import pytest

from merchants.models import IdempotencyRecord
from requests_app.models import PaymentRequest
from smartforms.services import form_create

from .conftest import deadline, multipart, simple_fields

pytestmark = pytest.mark.django_db


# The fields before the breakdown: paymentMethod, currency, totalAmount of 1000.
HEAD = simple_fields()[:3]


def error_of(response) -> dict:
    body = response.json()
    assert {"type", "code", "message", "field"} <= set(body["error"])
    assert body["errors"][0]["field"] == body["error"]["field"]
    return body["error"]


def test_a_form_with_a_strict_breakdown_string_creates_the_request(cp):
    created = cp.create(
        simple_fields(
            merchantPaymentRequestId="ORDER-1",
            description="Dossier 42",
            deadline="2030-06-01T12:00:00.123456+02:00",
        )
    )

    pr = PaymentRequest.objects.get()
    assert created["paymentRequestId"] == pr.public_id
    assert (pr.reference, pr.total_amount, pr.currency, pr.livemode) == (
        "ORDER-1",
        1000,
        "EUR",
        False,
    )
    assert pr.deadline == datetime(2030, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert created["deadline"] == "2030-06-01T10:00:00.123456+00:00"
    assert created["paymentRequestStatus"] == "ACTIVE"
    assert created["paymentStatus"] == "UNPAID"
    assert created["merchantPaymentRequestId"] == "ORDER-1"
    [breakdown] = created["breakdowns"]
    participant = pr.participants.get()
    assert breakdown["paymentRequestBreakdownId"] == participant.public_id
    assert breakdown["endpoint"].endswith(f"/pay/{participant.link_token}/")
    assert (breakdown["amount"], breakdown["email"]) == (1000, "ann@example.com")
    assert (breakdown["paid"], breakdown["entered"], breakdown["payments"]) == (False, False, [])


def test_loose_breakdown_strings_as_a_java_client_writes_them(cp):
    created = cp.create(
        [
            ("paymentMethod[]", "TRANSACTION"),
            ("currency", "EUR"),
            ("endUserLanguage", "fr"),
            ("browserAcceptLanguage", "fr-FR"),
            ("totalAmount", "3000"),
            ("breakdown[]", "{amount:1000, email:ann@example.com, firstName:Ann, lastName:Lee}"),
            ("breakdown[]", '{"amount":2000,"email":bob@example.com,"initiator":true}'),
            ("merchantPaymentRequestId", "ORDER-2"),
            ("deadline", deadline(offset="+01:00")),
        ]
    )

    pr = PaymentRequest.objects.get()
    assert pr.language == "fr"
    assert [(p.name, p.email, p.amount) for p in pr.participants.order_by("position")] == [
        ("Ann Lee", "ann@example.com", 1000),
        ("bob@example.com", "bob@example.com", 2000),
    ]
    first, second = created["breakdowns"]
    assert (first["firstName"], first["lastName"], first["initiator"]) == ("Ann", "Lee", False)
    assert (second["firstName"], second["lastName"], second["initiator"]) == (None, None, True)


def test_flat_breakdown_fields_next_to_an_empty_breakdown_string(cp):
    """The PHP sample: breakdown[]={} plus breakdown[firstname], breakdown[email], …"""
    created = cp.create(
        [
            ("paymentMethod[]", "TRANSACTION"),
            ("currency", "EUR"),
            ("breakdown[]", "{}"),
            ("totalAmount", "1250"),
            ("breakdown[firstname]", "Jean Pierre"),
            ("breakdown[lastname]", "Martin"),
            ("breakdown[email]", "jp@example.com"),
            ("breakdown[amount]", "1250"),
            ("description", "Adhésion"),
        ]
    )
    [participant] = PaymentRequest.objects.get().participants.all()
    assert (participant.name, participant.amount) == ("Jean Pierre Martin", 1250)
    [breakdown] = created["breakdowns"]
    assert (breakdown["firstName"], breakdown["lastName"]) == ("Jean Pierre", "Martin")


def test_indexed_breakdown_fields_and_no_amounts_split_the_total_equally(cp):
    cp.create(
        [
            ("currency", "EUR"),
            ("totalAmount", "1001"),
            ("breakdown[0][email]", "a@example.com"),
            ("breakdown[1][email]", "b@example.com"),
        ]
    )
    assert list(PaymentRequest.objects.get().participants.values_list("amount", flat=True)) == [
        501,
        500,
    ]


def test_a_multipart_body_with_its_boundary(cp):
    response = cp.multipart("/paymentRequest", simple_fields(email="mp@example.com"))
    assert response.status_code == 200, response.content
    assert PaymentRequest.objects.get().participants.get().email == "mp@example.com"


def test_a_multipart_body_labelled_application_json_without_a_boundary(cp):
    """curl with a PHP array and a forced 'Content-Type: application/json' header."""
    response = cp.multipart(
        "/paymentRequest",
        simple_fields(email="php@example.com", deadline=deadline(offset="Z")),
        label="application/json",
    )
    assert response.status_code == 200, response.content
    assert PaymentRequest.objects.get().participants.get().email == "php@example.com"


def test_a_url_encoded_body_labelled_application_json(cp):
    fields = (
        "totalAmount=500&currency=EUR&breakdown%5B%5D=%7Bamount%3A500%2C+email%3Ax%40example.com%7D"
    )
    response = cp.form("/paymentRequest", fields, content_type="application/json")
    assert response.status_code == 200, response.content
    assert PaymentRequest.objects.get().participants.get().email == "x@example.com"


def test_a_real_json_body_is_read_as_the_same_fields(cp):
    body = {
        "totalAmount": 700,
        "currency": "EUR",
        "paymentMethod": ["TRANSACTION"],
        "breakdown": [{"amount": 700, "email": "json@example.com"}],
    }
    response = cp.form("/paymentRequest", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    assert PaymentRequest.objects.get().participants.get().email == "json@example.com"


def test_query_parameters_are_honoured_or_ignored_never_refused(cp):
    response = cp.form(
        "/paymentRequest?urlRedirect=https://shop.example/paid&urlOnCanceled=https://shop.example/"
        "cart&delay=30&unknown=1",
        simple_fields(),
    )
    assert response.status_code == 200, response.content
    pr = PaymentRequest.objects.get()
    assert (pr.return_url, pr.cancel_url) == (
        "https://shop.example/paid",
        "https://shop.example/cart",
    )
    assert response.json()["redirectUrl"] == "https://shop.example/paid"

    ignored = cp.form(
        "/paymentRequest?urlRedirect=javascript:alert(1)&urlOnCanceled=ftp://x&delay=soon",
        simple_fields(merchantPaymentRequestId="ORDER-Q2"),
    )
    assert ignored.status_code == 200, ignored.content
    second = PaymentRequest.objects.get(reference="ORDER-Q2")
    assert (second.return_url, second.cancel_url) == ("", "")


def test_an_unsupported_language_falls_back_to_the_merchants(cp, merchant):
    cp.create(simple_fields(endUserLanguage="de", browserAcceptLanguage="de-DE,en;q=0.8"))
    assert PaymentRequest.objects.get().language == "en"


def test_one_of_our_smart_forms_is_the_payment_form_template(cp, merchant):
    form = form_create(
        merchant=merchant,
        name="Dossier",
        fields=[{"key": "file", "type": "text", "label": {"en": "File number"}}],
    )
    created = cp.create(simple_fields(paymentFormTemplateId=form.public_id))
    assert created["paymentFormTemplateId"] == form.public_id

    unknown = cp.form("/paymentRequest", simple_fields(paymentFormTemplateId="3f2a-uuid"))
    assert unknown.status_code == 422
    assert error_of(unknown)["field"] == "paymentFormTemplateId"


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ([("currency", "EUR"), ("breakdown[]", "{amount:1}")], 422, "totalAmount"),
        ([*HEAD, ("breakdown[]", "{amount:10.5}")], 422, "breakdown[0].amount"),
        ([("totalAmount", "10.50"), ("breakdown[]", "{}")], 422, "totalAmount"),
        ([("totalAmount", "1000"), ("currency", "EUR")], 422, "breakdown"),
        (
            [*HEAD, ("breakdown[]", "{amount:1000, email:{x:1}}")],
            422,
            "breakdown[0]",
        ),
        (
            [*HEAD, ("breakdown[]", '{"amount":1000,"email":"a@b.c"')],
            422,
            "breakdown[0]",
        ),
        ([*HEAD, ("breakdown[]", "[1,2]")], 422, "breakdown[0]"),
        (
            [*HEAD, ("breakdown[]", "{amount:900, email:a@example.com}")],
            422,
            "breakdown",
        ),
        (
            [*HEAD, ("breakdown[]", "{amount:1000, email:not-an-email}")],
            422,
            "breakdown[0].email",
        ),
        ([*HEAD, ("breakdown[]", "{amount:1000}")], 422, "breakdown[0].email"),
        (simple_fields(deadline="31/12/2030"), 422, "deadline"),
        (simple_fields(deadline="2030-02-30T10:00:00.000000+01:00"), 422, "deadline"),
        (
            simple_fields(linkExpirationDate="2020-01-01T10:00:00.000000+01:00"),
            422,
            "linkExpirationDate",
        ),
        (simple_fields(currency="ZZZ"), 422, "currency"),
        (
            [("totalAmount", "9" * 20), ("breakdown[]", "{amount:1, email:a@example.com}")],
            422,
            "totalAmount",
        ),
        (simple_fields(paymentMethod="SEPA"), 422, "paymentMethod"),
        (simple_fields(merchantPaymentRequestId="x" * 101), 422, "merchantPaymentRequestId"),
        (simple_fields(scenarioId="sc_nope"), 422, "scenarioId"),
        (
            [
                *simple_fields(),
                ("breakdown[]", "{amount:1, email:b@example.com}"),
                ("breakdown[email]", "c@x.io"),
            ],
            422,
            "breakdown",
        ),
    ],
)
def test_wrong_fields_are_named_in_centralpay_words(cp, fields, status, field):
    response = cp.form("/paymentRequest", fields)
    assert response.status_code == status, response.content
    assert error_of(response)["field"] == field
    assert PaymentRequest.objects.count() == 0


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"%ff%fe=%ff"),
        ("application/x-www-form-urlencoded", b"totalAmount=1000&name=a%00b"),
        ("application/json", b'{"totalAmount": '),
        ("application/json", b"[" * 5000 + b"]" * 5000),
        ("application/json", b'{"totalAmount": "1\\u0000"}'),
        ("multipart/form-data; boundary=zz", b"--zz\r\nContent-Disposition: form-data\r\n\r\n"),
        ("application/json", b"--zz\r\nContent-Disposition: form-data; name=\r\n"),
        ("text/plain", bytes(range(256)) * 3),
        ("application/octet-stream", b"\x00\x01\x02"),
    ],
)
def test_junk_bodies_are_a_4xx_never_a_5xx(cp, content_type, body):
    response = cp.form("/paymentRequest", body, content_type=content_type)
    assert 400 <= response.status_code < 500, response.content
    error_of(response)
    assert PaymentRequest.objects.count() == 0


def test_a_huge_body_is_a_413_in_the_same_shape(cp, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 50_000
    body = b"totalAmount=1000&description=" + b"x" * 60_000
    response = cp.form("/paymentRequest", body)
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"

    fields, boundary = multipart([("description", "x" * 60_000)])
    for label in ("application/json", f"multipart/form-data; boundary={boundary}"):
        response = cp.form("/paymentRequest", fields, content_type=label)
        assert response.status_code == 413, label
        assert error_of(response)["code"] == "request_too_large"


def test_too_many_fields_is_a_400(cp, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 50
    fields = [("breakdown[]", "{}")] * 60
    for send in (cp.form, cp.multipart):
        response = send("/paymentRequest", fields)
        assert response.status_code == 400, response.content
        assert error_of(response)["code"] == "too_many_fields"


def test_a_duplicate_merchant_reference_is_a_409_naming_it(cp):
    cp.create(simple_fields(merchantPaymentRequestId="ORDER-DUP"))
    response = cp.form("/paymentRequest", simple_fields(merchantPaymentRequestId="ORDER-DUP"))
    assert response.status_code == 409
    assert error_of(response)["field"] == "merchantPaymentRequestId"


@pytest.mark.parametrize("header", ["HTTP_IDEMPOTENCE_KEY", "HTTP_IDEMPOTENCY_KEY"])
def test_either_idempotency_header_replays_the_first_answer(cp, header):
    first = cp.form("/paymentRequest", simple_fields(), **{header: "order-7"})
    again = cp.multipart("/paymentRequest", simple_fields(), **{header: "order-7"})
    assert first.status_code == again.status_code == 200
    # Without a merchantPaymentRequestId a reference is made up: the replay shows the same.
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert PaymentRequest.objects.count() == 1
    assert IdempotencyRecord.objects.get().key == "order-7"


def test_the_two_idempotency_headers_count_as_one_key(cp):
    first = cp.form("/paymentRequest", simple_fields(), HTTP_IDEMPOTENCE_KEY="k-9")
    again = cp.form("/paymentRequest", simple_fields(), HTTP_IDEMPOTENCY_KEY="k-9")
    assert again.json() == first.json()
    both = cp.form(
        "/paymentRequest", simple_fields(), HTTP_IDEMPOTENCE_KEY="k-9", HTTP_IDEMPOTENCY_KEY="k-9"
    )
    assert both.json() == first.json()
    differ = cp.form(
        "/paymentRequest", simple_fields(), HTTP_IDEMPOTENCE_KEY="a", HTTP_IDEMPOTENCY_KEY="b"
    )
    assert differ.status_code == 400
    assert error_of(differ)["code"] == "conflicting_idempotency_keys"
    assert PaymentRequest.objects.count() == 1


def test_the_same_key_with_another_body_or_query_is_refused(cp):
    cp.form("/paymentRequest", simple_fields(), HTTP_IDEMPOTENCE_KEY="k-10")
    other_body = cp.form("/paymentRequest", simple_fields(amount=2000), HTTP_IDEMPOTENCE_KEY="k-10")
    other_query = cp.form(
        "/paymentRequest?urlRedirect=https://shop.example/x",
        simple_fields(),
        HTTP_IDEMPOTENCE_KEY="k-10",
    )
    for response in (other_body, other_query):
        assert response.status_code == 422
        assert error_of(response)["code"] == "idempotency_key_reused"
    assert PaymentRequest.objects.count() == 1


def test_a_refused_creation_is_replayed_as_refused(cp):
    bad = simple_fields(currency="ZZZ")
    first = cp.form("/paymentRequest", bad, HTTP_IDEMPOTENCE_KEY="k-11")
    again = cp.form("/paymentRequest", bad, HTTP_IDEMPOTENCE_KEY="k-11")
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()


def subscription(**settings) -> list:
    fields = simple_fields(amount=30000)
    fields[0] = ("paymentMethod[]", "SUBSCRIPTION")
    return fields + [(f"subscription[{name}]", value) for name, value in settings.items()]


def test_a_subscription_offers_its_plan_to_the_payer(cp):
    """SUBSCRIPTION alone: the request carries our installment settings, and the payer is
    offered that plan and only that plan (paying at once is not allowed)."""
    response = cp.form(
        "/paymentRequest",
        subscription(
            intervalUnit="MONTH", intervalCount="1", iterationCount="3", depositAmount="6000"
        ),
    )
    assert response.status_code == 200, response.content
    payment_request = PaymentRequest.objects.get()
    offer = payment_request.participants.get().installment_offer
    assert offer["count"] == 3 and offer["interval_unit"] == "month"
    assert offer["deposit_amount"] == 6000 and offer["pay_at_once_allowed"] is False


def test_a_subscription_beside_a_transaction_lets_the_payer_choose(cp):
    fields = subscription(intervalUnit="WEEK", iterationCount="2")
    fields.insert(1, ("paymentMethod[]", "TRANSACTION"))
    response = cp.form("/paymentRequest", fields)
    assert response.status_code == 200, response.content
    offer = PaymentRequest.objects.get().participants.get().installment_offer
    assert offer["interval_unit"] == "week" and offer["pay_at_once_allowed"] is True


def test_a_subscription_with_a_smart_form_is_refused_without_creating(cp):
    fields = subscription(intervalUnit="MONTH", iterationCount="3")
    fields.append(("paymentFormTemplateId", "sf_unknown"))
    response = cp.form("/paymentRequest", fields)
    assert response.status_code in (404, 422)
    assert PaymentRequest.objects.count() == 0


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"intervalUnit": "YEAR", "iterationCount": "3"}, "subscription[intervalUnit]"),
        ({"intervalUnit": "MONTH", "iterationCount": "40"}, "subscription[iterationCount]"),
        (
            {"intervalUnit": "DAY", "intervalCount": "400", "iterationCount": "3"},
            "subscription[intervalCount]",
        ),
        (
            {"intervalUnit": "MONTH", "iterationCount": "3", "depositAmount": "30000"},
            "subscription[depositAmount]",
        ),
        (
            {"intervalUnit": "MONTH", "iterationCount": "3", "feeAmount": "x"},
            "subscription[feeAmount]",
        ),
        ({"intervalUnit": "MONTH"}, "subscription[iterationCount]"),
        ({"subscriptionModelId": "a1b2"}, "subscription[subscriptionModelId]"),
    ],
)
def test_subscription_settings_are_checked_by_the_schedules_rules(cp, settings, field):
    response = cp.form("/paymentRequest", subscription(**settings))
    assert response.status_code == 422
    assert error_of(response)["field"] == field


def test_subscription_settings_reach_the_service_once_it_takes_installments(cp, monkeypatch):
    """The wiring left for the installments branch: our names, from the one mapping."""
    from requests_app.centralpay import views

    seen = {}

    def create_from_body(request, body):
        seen.update(body)
        raise views.ApiError("stop here", code="stop", status_code=422)

    monkeypatch.setattr(views, "create_from_body", create_from_body)
    cp.form(
        "/paymentRequest",
        subscription(intervalUnit="MONTH", intervalCount="2", iterationCount="3", feeAmount="90"),
    )
    assert seen["installments"] == {
        "count": 3,
        "interval_unit": "month",
        "interval_count": 2,
        "deposit_amount": 0,
        "fee_amount": 90,
        "pay_at_once_allowed": False,
    }


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_under_the_two_spellings_create_one_request(postgres_only, merchant):
    """The same key sent once as Idempotence-Key and once as Idempotency-Key, at the same
    instant: one request, and both answers show it."""
    import threading

    from django.db import connection

    from tests.factories import api_secret_for

    from .conftest import CentralPayClient, basic

    authorization = basic(api_secret_for(merchant))
    barrier = threading.Barrier(2)
    responses = []

    def post(header: str):
        client = CentralPayClient(authorization)
        barrier.wait()
        try:
            responses.append(client.form("/paymentRequest", simple_fields(), **{header: "race"}))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=post, args=(header,))
        for header in ("HTTP_IDEMPOTENCE_KEY", "HTTP_IDEMPOTENCY_KEY")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert PaymentRequest.objects.count() == 1
    assert sorted(r.status_code for r in responses) == [200, 200]
    assert responses[0].json() == responses[1].json()
