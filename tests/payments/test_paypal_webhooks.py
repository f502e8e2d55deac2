"""PayPal's webhooks: verified by asking PayPal, handled once, reconciled through the same
services as the payer's return, recovery and refunds."""

import json

import pytest

from payments.credentials_models import ProviderEvent
from payments.models import Checkout, Leg
from payments.services.credentials import provider_credentials_save
from requests_app.models import Participant, RequestEvent
from requests_app.services import ParticipantData
from tests.factories import make_request
from tests.payments.paypal_helpers import (
    decide_at_paypal,
    last_order,
    pay_with_paypal,
    start_paypal_payment,
)
from tests.stubs.stripe_accounts import PAYPAL_SANDBOX_CLIENT_ID, PAYPAL_WEBHOOK_ID

pytestmark = pytest.mark.django_db


def one_share(merchant, amount=4000):
    payment_request = make_request(
        merchant,
        total_amount=amount,
        participants=[ParticipantData(name="Zoé", email="zoe@example.com", amount=amount)],
    )
    return payment_request.participants.get()


def deliver(client, account, body: bytes, headers: dict | None):
    meta = {f"HTTP_{k.replace('-', '_')}": v for k, v in (headers or {}).items()}
    return client.post(
        f"/webhooks/paypal/{account.webhook_id}/", body, content_type="application/json", **meta
    )


@pytest.fixture
def paid(client, merchant, paypal_test_account, paypal_stub):
    payer = one_share(merchant)
    pay_with_paypal(client, payer, paypal_stub)
    return payer


def dashboard_refund(stub, value="15.00"):
    order = last_order(stub)
    return stub.dashboard_refund(PAYPAL_SANDBOX_CLIENT_ID, order["id"], value)


def without_custom_id(refund: dict) -> dict:
    """A refund made in PayPal's dashboard names no id of ours, only its capture."""
    return {k: v for k, v in refund.items() if k != "custom_id"}


def test_a_refund_made_in_the_paypal_dashboard_is_booked_on_the_participant(
    client, paid, paypal_test_account, paypal_stub
):
    refund = without_custom_id(dashboard_refund(paypal_stub))
    body, headers = paypal_stub.signed_event("PAYMENT.CAPTURE.REFUNDED", refund, PAYPAL_WEBHOOK_ID)

    answer = deliver(client, paypal_test_account, body, headers)

    assert answer.status_code == 200, answer.content
    assert answer.json() == {"received": True, "outcome": "refund_booked"}
    leg = Leg.objects.get()
    paid.refresh_from_db()
    assert (leg.status, leg.amount_refunded) == ("partially_refunded", 1500)
    assert (paid.amount_refunded, paid.status) == (1500, Participant.Status.PARTIALLY_REFUNDED)
    assert RequestEvent.objects.filter(type=RequestEvent.Type.PAYMENT_REFUNDED).count() == 1
    # Verified by PayPal with the webhook id the merchant stored, and the capture re-read.
    [verify] = paypal_stub.calls("POST", "verify-webhook-signature")
    assert verify["body"]["webhook_id"] == PAYPAL_WEBHOOK_ID
    assert verify["body"]["webhook_event"] == json.loads(body)
    assert paypal_stub.calls("GET", "/v2/payments/captures/")


def test_a_replayed_event_and_a_second_report_of_the_same_refund_change_nothing(
    client, paid, paypal_test_account, paypal_stub
):
    refund = dashboard_refund(paypal_stub)
    body, headers = paypal_stub.signed_event("PAYMENT.CAPTURE.REFUNDED", refund, PAYPAL_WEBHOOK_ID)
    assert deliver(client, paypal_test_account, body, headers).json()["outcome"] == (
        "refund_booked"
    )

    replay = deliver(client, paypal_test_account, body, headers)
    other, other_headers = paypal_stub.signed_event(
        "PAYMENT.CAPTURE.REFUNDED", refund, PAYPAL_WEBHOOK_ID
    )
    second_report = deliver(client, paypal_test_account, other, other_headers)

    assert (replay.status_code, replay.json()["outcome"]) == (200, "replayed")
    assert (second_report.status_code, second_report.json()["outcome"]) == (200, "up_to_date")
    paid.refresh_from_db()
    assert paid.amount_refunded == 1500
    assert RequestEvent.objects.filter(type=RequestEvent.Type.PAYMENT_REFUNDED).count() == 1
    assert ProviderEvent.objects.filter(provider="paypal").count() == 2


def test_a_bad_signature_or_an_altered_body_is_a_400_and_changes_nothing(
    client, paid, paypal_test_account, paypal_stub
):
    refund = dashboard_refund(paypal_stub)
    body, headers = paypal_stub.signed_event("PAYMENT.CAPTURE.REFUNDED", refund, PAYPAL_WEBHOOK_ID)
    forged = {**headers, "PAYPAL-TRANSMISSION-SIG": "Zm9yZ2Vk"}
    altered = body.replace(b'"15.00"', b'"40.00"')

    answers = [
        deliver(client, paypal_test_account, body, forged),
        deliver(client, paypal_test_account, altered, headers),
    ]

    for answer in answers:
        assert answer.status_code == 400, answer.content
        assert answer.json()["error"]["code"] == "invalid_signature"
    assert Leg.objects.get().amount_refunded == 0
    assert not ProviderEvent.objects.exists()


@pytest.mark.parametrize(
    "missing",
    ["PAYPAL-TRANSMISSION-ID", "PAYPAL-TRANSMISSION-SIG", "PAYPAL-CERT-URL", "PAYPAL-AUTH-ALGO"],
)
def test_a_missing_transmission_header_is_a_400_without_asking_paypal(
    client, paid, paypal_test_account, paypal_stub, missing
):
    body, headers = paypal_stub.signed_event(
        "PAYMENT.CAPTURE.REFUNDED", dashboard_refund(paypal_stub), PAYPAL_WEBHOOK_ID
    )
    headers.pop(missing)

    answer = deliver(client, paypal_test_account, body, headers)

    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == missing
    assert not paypal_stub.calls("POST", "verify-webhook-signature")


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"id": 1}', b'{"id": "WH-1"}'])
def test_a_malformed_body_is_a_400_never_a_500(client, paypal_test_account, paypal_stub, body):
    _ignored, headers = paypal_stub.signed_event("PAYMENT.CAPTURE.REFUNDED", {}, PAYPAL_WEBHOOK_ID)

    answer = deliver(client, paypal_test_account, body, headers)

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_signature"


def test_an_unknown_endpoint_is_a_404_get_is_refused_and_a_huge_body_is_413(
    client, paypal_test_account, paypal_stub
):
    body, headers = paypal_stub.signed_event("PAYMENT.CAPTURE.REFUNDED", {}, PAYPAL_WEBHOOK_ID)

    unknown = deliver(client, type("A", (), {"webhook_id": "whp_nope"}), body, headers)
    got = client.get(f"/webhooks/paypal/{paypal_test_account.webhook_id}/")
    huge = client.post(
        f"/webhooks/paypal/{paypal_test_account.webhook_id}/",
        b"x",
        content_type="application/json",
        HTTP_CONTENT_LENGTH=str(10 * 1024 * 1024),
    )

    assert unknown.status_code == 404
    assert got.status_code == 405
    assert huge.status_code == 413


def test_unknown_events_and_a_dispute_event_naming_no_dispute_change_nothing(
    client, paid, paypal_test_account, paypal_stub
):
    # Disputes themselves: tests/payments/test_paypal_disputes.py.
    for event_type, outcome in (
        ("BILLING.SUBSCRIPTION.CREATED", "ignored"),
        ("CUSTOMER.DISPUTE.CREATED", "unknown_object"),
    ):
        body, headers = paypal_stub.signed_event(
            event_type,
            {"id": "PP-D-1", "custom_id": Leg.objects.get().public_id},
            PAYPAL_WEBHOOK_ID,
        )
        answer = deliver(client, paypal_test_account, body, headers)
        assert (answer.status_code, answer.json()["outcome"]) == (200, outcome)

    paid.refresh_from_db()
    assert (paid.amount_paid, paid.amount_refunded) == (4000, 0)
    assert Leg.objects.get().status == "captured"


def test_an_event_verified_for_another_merchant_cannot_touch_this_merchants_payment(
    client, paid, other_merchant, paypal_stub
):
    paypal_stub.add_app("BetaShopSandboxClientId00000000", "BetaShopSandboxSecret0000000000")
    other = provider_credentials_save(
        merchant=other_merchant,
        livemode=False,
        provider="paypal",
        client_id="BetaShopSandboxClientId00000000",
        secret_key="BetaShopSandboxSecret0000000000",
        webhook_secret="9BETA000WEBHOOK",
    )
    refund = dashboard_refund(paypal_stub)
    body, headers = paypal_stub.signed_event("PAYMENT.CAPTURE.REFUNDED", refund, "9BETA000WEBHOOK")

    answer = deliver(client, other, body, headers)

    assert (answer.status_code, answer.json()["outcome"]) == (200, "unknown_object")
    assert Leg.objects.get().amount_refunded == 0


def test_a_capture_paypal_made_after_our_timeout_is_booked_by_its_event(
    client, merchant, paypal_test_account, paypal_stub
):
    payer = one_share(merchant)
    approval_url = start_paypal_payment(client, payer, paypal_stub)
    paypal_stub.fail("POST", "/capture", "timeout")
    decide_at_paypal(client, paypal_stub, approval_url)
    assert Leg.objects.get().status == Leg.Status.UNKNOWN
    capture = last_order(paypal_stub)["purchase_units"][0]["payments"]["captures"][0]
    body, headers = paypal_stub.signed_event(
        "PAYMENT.CAPTURE.COMPLETED", capture, PAYPAL_WEBHOOK_ID
    )

    answer = deliver(client, paypal_test_account, body, headers)

    assert answer.json()["outcome"] == "recovered"
    payer.refresh_from_db()
    assert (Leg.objects.get().status, payer.amount_paid) == ("captured", 4000)
    assert Checkout.objects.get().status == Checkout.Status.SUCCEEDED
    assert len(paypal_stub.calls("POST", "/capture")) == 1


def test_a_payer_who_approved_at_paypal_but_never_came_back_is_booked_by_the_event(
    client, merchant, paypal_test_account, paypal_stub
):
    payer = one_share(merchant)
    approval_url = start_paypal_payment(client, payer, paypal_stub)
    status, _where = paypal_stub.decide(approval_url)  # the browser closes
    assert status == 303
    body, headers = paypal_stub.signed_event(
        "CHECKOUT.ORDER.APPROVED", last_order(paypal_stub), PAYPAL_WEBHOOK_ID
    )

    answer = deliver(client, paypal_test_account, body, headers)
    late_return = client.get(f"/pay/{payer.link_token}/return/{Checkout.objects.get().public_id}/")

    assert answer.json()["outcome"] == "resumed"
    payer.refresh_from_db()
    assert payer.amount_paid == 4000
    assert late_return.status_code == 302 and "/receipt/" in late_return.url
    assert len(paypal_stub.calls("POST", "/authorize")) == 1
    assert len(paypal_stub.calls("POST", "/capture")) == 1


def test_paypal_not_answering_the_verification_asks_for_a_later_delivery(
    client, paid, paypal_test_account, paypal_stub
):
    body, headers = paypal_stub.signed_event(
        "PAYMENT.CAPTURE.REFUNDED", dashboard_refund(paypal_stub), PAYPAL_WEBHOOK_ID
    )
    paypal_stub.fail("POST", "verify-webhook-signature", "500")

    answer = deliver(client, paypal_test_account, body, headers)

    assert answer.status_code == 409
    assert Leg.objects.get().amount_refunded == 0
    assert not ProviderEvent.objects.exists()
