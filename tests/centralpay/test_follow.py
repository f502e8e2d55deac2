"""After the creation: polling the request, its payments' transactions, cancel, QR code,
and the walls between merchants and modes."""

from urllib.parse import urlparse

import pytest
from django.test import Client

from payments.models import Leg
from requests_app.models import PaymentRequest
from tests.payments.conftest import DECLINED, SUCCEEDS

from .conftest import simple_fields

pytestmark = pytest.mark.django_db

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def pay(endpoint: str, token: str):
    """The payer's POST on their page, as the card form sends it."""
    response = Client().post(urlparse(endpoint).path, {"card_token": token})
    assert response.status_code in (200, 302, 402), response.content
    return response


def test_poll_until_closed_and_paid_then_read_the_transaction(cp, tokenise):
    created = cp.create(simple_fields(amount=1500, description="Cotisation 2027"))
    path = f"/paymentRequest/{created['paymentRequestId']}"
    before = cp.get(path).json()
    assert (before["paymentRequestStatus"], before["paymentStatus"]) == ("ACTIVE", "UNPAID")

    pay(created["breakdowns"][0]["endpoint"], tokenise(SUCCEEDS))

    after = cp.get(path).json()
    assert (after["paymentRequestStatus"], after["paymentStatus"]) == ("CLOSED", "PAID")
    [breakdown] = after["breakdowns"]
    assert (breakdown["paid"], breakdown["entered"], breakdown["paymentAttempted"]) == (True,) * 3
    assert breakdown["lastPaymentAttempt"].endswith("+00:00")
    [payment] = breakdown["payments"]
    assert payment["paymentMethod"] == "TRANSACTION"
    leg = Leg.objects.get(public_id=payment["uuid"])
    assert leg.status == Leg.Status.CAPTURED

    transaction = cp.get(f"/transaction/{payment['uuid']}")
    assert transaction.status_code == 200
    assert transaction.json() == {
        "paymentRequestTransactionId": payment["uuid"],
        "paymentRequestId": created["paymentRequestId"],
        "paymentRequestBreakdownId": breakdown["paymentRequestBreakdownId"],
        "creationDate": transaction.json()["creationDate"],
        "amount": 1500,
        "fee": 0,
        "totalAmount": 1500,
        "commission": 0,
        "payoutAmount": 1500,
        "refundedAmount": 0,
        "currency": "EUR",
        "transactionStatus": "SUCCESS",
        "captureStatus": "CAPTURED",
        "description": "Cotisation 2027",
    }


def test_one_payer_of_two_paid_is_active_and_partially_paid(cp, tokenise):
    created = cp.create(
        [
            ("totalAmount", "3000"),
            ("currency", "EUR"),
            ("breakdown[]", "{amount:1000, email:a@example.com}"),
            ("breakdown[]", "{amount:2000, email:b@example.com}"),
        ]
    )
    pay(created["breakdowns"][0]["endpoint"], tokenise(SUCCEEDS))

    polled = cp.get(f"/paymentRequest/{created['paymentRequestId']}").json()
    assert (polled["paymentRequestStatus"], polled["paymentStatus"]) == ("ACTIVE", "PARTIALLY_PAID")
    first, second = polled["breakdowns"]
    assert (first["paid"], len(first["payments"])) == (True, 1)
    assert (second["paid"], second["payments"]) == (False, [])


def test_a_declined_card_is_attempted_unpaid_and_its_transaction_a_failure(cp, tokenise):
    created = cp.create(simple_fields())
    pay(created["breakdowns"][0]["endpoint"], tokenise(DECLINED))

    polled = cp.get(f"/paymentRequest/{created['paymentRequestId']}").json()
    [breakdown] = polled["breakdowns"]
    assert (breakdown["paid"], breakdown["paymentAttempted"], breakdown["payments"]) == (
        False,
        True,
        [],
    )
    assert polled["paymentStatus"] == "UNPAID"
    leg = Leg.objects.get()
    transaction = cp.get(f"/transaction/{leg.public_id}").json()
    assert (transaction["transactionStatus"], transaction["captureStatus"]) == (
        "FAILURE",
        "UNCAPTURED",
    )


def test_cancel_with_an_empty_form_post(cp):
    created = cp.create(simple_fields())
    path = f"/paymentRequest/{created['paymentRequestId']}/cancel"

    cancelled = cp.form(path, "")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["paymentRequestStatus"] == "CANCELED"
    assert cancelled.json()["paymentStatus"] == "UNPAID"
    assert PaymentRequest.objects.get().status == "cancelled"
    assert (
        cp.get(f"/paymentRequest/{created['paymentRequestId']}").json()["paymentRequestStatus"]
        == "CANCELED"
    )

    again = cp.form(path, "")
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == again.json()["error"]["code"]


def test_cancel_is_idempotent_under_centralpays_header(cp):
    created = cp.create(simple_fields())
    path = f"/paymentRequest/{created['paymentRequestId']}/cancel"
    first = cp.form(path, "", HTTP_IDEMPOTENCE_KEY="cancel-1")
    again = cp.form(path, "", HTTP_IDEMPOTENCE_KEY="cancel-1")
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_paid_request_cannot_be_cancelled(cp, tokenise):
    created = cp.create(simple_fields())
    pay(created["breakdowns"][0]["endpoint"], tokenise(SUCCEEDS))
    response = cp.form(f"/paymentRequest/{created['paymentRequestId']}/cancel", "")
    assert response.status_code == 409
    assert PaymentRequest.objects.get().status == "paid"


def test_the_breakdowns_qr_code_is_a_png_of_its_endpoint(cp):
    created = cp.create(simple_fields())
    breakdown = created["breakdowns"][0]
    path = f"/paymentRequestBreakdown/{breakdown['paymentRequestBreakdownId']}/qrcode"

    for body in ("format=PNG", "format=png", ""):
        response = cp.form(path, body)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response.content.startswith(PNG_MAGIC)

    refused = cp.form(path, "format=SVG")
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "format"


def test_the_qr_code_encodes_the_breakdowns_endpoint(cp, monkeypatch):
    from requests_app.centralpay import views

    encoded = []
    monkeypatch.setattr(views, "qr_png", lambda data: encoded.append(data) or b"png")
    created = cp.create(simple_fields())
    breakdown = created["breakdowns"][0]
    cp.form(
        f"/paymentRequestBreakdown/{breakdown['paymentRequestBreakdownId']}/qrcode", "format=PNG"
    )
    assert encoded == [breakdown["endpoint"]]


def paths(created: dict, leg: Leg) -> list[tuple[str, str]]:
    request_id = created["paymentRequestId"]
    breakdown_id = created["breakdowns"][0]["paymentRequestBreakdownId"]
    return [
        ("GET", f"/paymentRequest/{request_id}"),
        ("POST", f"/paymentRequest/{request_id}/cancel"),
        ("GET", f"/transaction/{leg.public_id}"),
        ("POST", f"/paymentRequestBreakdown/{breakdown_id}/qrcode"),
    ]


def call(client, method: str, path: str):
    return client.get(path) if method == "GET" else client.form(path, "format=PNG")


def test_another_merchants_ids_are_a_404(cp, other_cp, tokenise):
    created = cp.create(simple_fields())
    pay(created["breakdowns"][0]["endpoint"], tokenise(SUCCEEDS))
    leg = Leg.objects.get()

    for method, path in paths(created, leg):
        response = call(other_cp, method, path)
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.json()["error"]["code"] == "not_found"
        assert call(cp, "GET", path).status_code < 500
    assert PaymentRequest.objects.get().status == "paid"


def test_the_other_modes_ids_are_a_404(cp, live_cp, tokenise, live_cards):
    created = cp.create(simple_fields())
    pay(created["breakdowns"][0]["endpoint"], tokenise(SUCCEEDS))
    leg = Leg.objects.get()

    for method, path in paths(created, leg):
        response = call(live_cp, method, path)
        assert response.status_code == 404, (method, path, response.status_code)
    assert PaymentRequest.objects.get().status == "paid"


@pytest.mark.parametrize(
    "junk", ["x", "pr_" + "A" * 24, "..", "é☃", "9" * 400, "'; DROP TABLE x; --"]
)
def test_unknown_ids_are_a_404(cp, junk):
    for method, path in [
        ("GET", f"/paymentRequest/{junk}"),
        ("POST", f"/paymentRequest/{junk}/cancel"),
        ("GET", f"/transaction/{junk}"),
        ("POST", f"/paymentRequestBreakdown/{junk}/qrcode"),
    ]:
        response = call(cp, method, path)
        assert response.status_code == 404, (method, path)


def test_other_centralpay_routes_and_methods_are_json_errors(cp):
    for response in (
        cp.get("/customer/123"),
        cp.form("/subscriptionModel/", "name=x"),
        cp.get("/paymentRequest/"),
    ):
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "not_found"
    listing = cp.get("/paymentRequest")
    assert listing.status_code == 405
    assert listing.json()["error"]["code"] == "method_not_allowed"


def test_reading_a_request_costs_the_same_queries_for_2_or_40_participants(cp):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def created_with(n: int) -> str:
        fields = [("totalAmount", str(100 * n)), ("currency", "EUR")]
        fields += [("breakdown[]", f"{{amount:100, email:p{i}@example.com}}") for i in range(n)]
        return cp.create(fields)["paymentRequestId"]

    counts = []
    for n in (2, 40):
        request_id = created_with(n)
        with CaptureQueriesContext(connection) as queries:
            assert cp.get(f"/paymentRequest/{request_id}").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
