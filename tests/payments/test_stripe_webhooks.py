"""Stripe's webhooks: verified with the account's signing secret, handled once, reconciled
through the same services as the payer's return, recovery and refunds."""

import json
import time

import pytest
from django.utils import timezone

from payments.credentials_models import ProviderEvent
from payments.models import Checkout, Leg
from payments.services.credentials import provider_credentials_save
from requests_app.models import Participant, RequestEvent
from requests_app.services import ParticipantData
from tests.factories import make_request
from tests.payments.conftest import STRIPE_TEST_KEY, STRIPE_WEBHOOK_SECRET
from tests.payments.stripe_helpers import (
    finish_at_stripe,
    intent_of,
    last_session,
    pay_by_card,
    start_card_payment,
)

pytestmark = pytest.mark.django_db


def one_share(merchant, amount=4000):
    payment_request = make_request(
        merchant,
        total_amount=amount,
        participants=[ParticipantData(name="Zoé", email="zoe@example.com", amount=amount)],
    )
    return payment_request.participants.get()


def deliver(client, account, body: bytes, signature: str | None):
    headers = {} if signature is None else {"HTTP_STRIPE_SIGNATURE": signature}
    return client.post(
        f"/webhooks/stripe/{account.webhook_id}/", body, content_type="application/json", **headers
    )


@pytest.fixture
def paid(client, merchant, stripe_test_account, stripe_stub):
    payer = one_share(merchant)
    pay_by_card(client, payer, stripe_stub)
    return payer


def test_a_refund_made_in_the_stripe_dashboard_shows_on_the_participant(
    client, paid, stripe_test_account, stripe_stub
):
    intent = intent_of(stripe_stub)
    charge = stripe_stub.dashboard_refund(STRIPE_TEST_KEY, intent["id"], 1500)
    body, signature = stripe_stub.signed_event("charge.refunded", charge, STRIPE_WEBHOOK_SECRET)

    answer = deliver(client, stripe_test_account, body, signature)

    assert answer.status_code == 200, answer.content
    assert answer.json() == {"received": True, "outcome": "refund_booked"}
    leg = Leg.objects.get()
    paid.refresh_from_db()
    assert (leg.status, leg.amount_refunded) == ("partially_refunded", 1500)
    assert (paid.amount_refunded, paid.status) == (1500, Participant.Status.PARTIALLY_REFUNDED)
    refunded = RequestEvent.objects.filter(type=RequestEvent.Type.PAYMENT_REFUNDED).get()
    assert refunded.payload["amount"] == 1500
    assert Checkout.objects.get().status == Checkout.Status.PARTIALLY_REFUNDED
    operation = leg.operations.filter(operation="refund").get()
    assert (operation.amount_moved, operation.result) == (1500, "succeeded")


def test_a_replayed_event_and_a_second_report_of_the_same_refund_change_nothing(
    client, paid, stripe_test_account, stripe_stub
):
    intent = intent_of(stripe_stub)
    charge = stripe_stub.dashboard_refund(STRIPE_TEST_KEY, intent["id"], 1500)
    body, signature = stripe_stub.signed_event("charge.refunded", charge, STRIPE_WEBHOOK_SECRET)
    assert deliver(client, stripe_test_account, body, signature).json()["outcome"] == (
        "refund_booked"
    )

    replay = deliver(client, stripe_test_account, body, signature)
    other_id, other_signature = stripe_stub.signed_event(
        "charge.refund.updated", charge, STRIPE_WEBHOOK_SECRET
    )
    second_report = deliver(client, stripe_test_account, other_id, other_signature)

    assert (replay.status_code, replay.json()["outcome"]) == (200, "replayed")
    assert (second_report.status_code, second_report.json()["outcome"]) == (200, "up_to_date")
    paid.refresh_from_db()
    assert paid.amount_refunded == 1500
    assert RequestEvent.objects.filter(type=RequestEvent.Type.PAYMENT_REFUNDED).count() == 1
    assert ProviderEvent.objects.count() == 2


def test_the_rest_of_a_dashboard_refund_completes_it(
    client, paid, stripe_test_account, stripe_stub
):
    intent = intent_of(stripe_stub)
    for amount in (1000, None):
        charge = stripe_stub.dashboard_refund(STRIPE_TEST_KEY, intent["id"], amount)
        body, signature = stripe_stub.signed_event("charge.refunded", charge, STRIPE_WEBHOOK_SECRET)
        assert deliver(client, stripe_test_account, body, signature).status_code == 200

    paid.refresh_from_db()
    assert (paid.amount_refunded, paid.status) == (4000, Participant.Status.REFUNDED)
    assert Leg.objects.get().status == Leg.Status.REFUNDED


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "garbage",
        "t=notanumber,v1=abc",
        "t=1,v1=" + "0" * 64,
        "v1=" + "0" * 64,
    ],
)
def test_a_bad_or_missing_signature_is_a_400_and_changes_nothing(
    client, paid, stripe_test_account, stripe_stub, signature
):
    charge = stripe_stub.dashboard_refund(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"], 1500)
    body, _good = stripe_stub.signed_event("charge.refunded", charge, STRIPE_WEBHOOK_SECRET)

    answer = deliver(client, stripe_test_account, body, signature)

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_signature"
    paid.refresh_from_db()
    assert paid.amount_refunded == 0 and not ProviderEvent.objects.exists()


def test_a_body_signed_with_another_secret_or_altered_after_signing_is_refused(
    client, paid, stripe_test_account, stripe_stub
):
    charge = stripe_stub.dashboard_refund(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"], 1500)
    body, forged = stripe_stub.signed_event("charge.refunded", charge, "whsec_someoneElse0000")
    good_body, good = stripe_stub.signed_event("charge.refunded", charge, STRIPE_WEBHOOK_SECRET)
    altered = good_body.replace(b'"livemode": false', b'"livemode": false ')

    assert deliver(client, stripe_test_account, body, forged).status_code == 400
    assert deliver(client, stripe_test_account, altered, good).status_code == 400
    assert Leg.objects.get().amount_refunded == 0


def test_an_old_delivery_outside_the_five_minute_tolerance_is_refused(
    client, paid, stripe_test_account, stripe_stub
):
    charge = stripe_stub.dashboard_refund(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"], 1500)
    body, signature = stripe_stub.signed_event(
        "charge.refunded", charge, STRIPE_WEBHOOK_SECRET, timestamp=int(time.time()) - 301
    )

    assert deliver(client, stripe_test_account, body, signature).status_code == 400


@pytest.mark.parametrize("body", [b"\xff\xfe not utf-8", b"not json", b"[]", b'{"id": 1}'])
def test_a_malformed_body_with_a_valid_signature_is_a_400_never_a_500(
    client, stripe_test_account, stripe_stub, body
):
    from tests.stubs.stripe_stub import sign

    signature = (
        sign(body, STRIPE_WEBHOOK_SECRET, int(time.time()))
        if body[:1] != b"\xff"
        else ("t=1,v1=00")
    )
    answer = deliver(client, stripe_test_account, body, signature)

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_signature"


def test_an_unknown_endpoint_is_a_404_and_get_is_refused(client, stripe_test_account):
    assert (
        client.post(
            "/webhooks/stripe/whp_nobody/", b"{}", content_type="application/json"
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/webhooks/stripe/{'x' * 500}/", b"{}", content_type="application/json"
        ).status_code
        == 404
    )
    assert client.get(f"/webhooks/stripe/{stripe_test_account.webhook_id}/").status_code == 405


def test_a_huge_body_is_refused_before_it_is_read(client, stripe_test_account):
    answer = client.post(
        f"/webhooks/stripe/{stripe_test_account.webhook_id}/",
        b"x" * (600 * 1024),
        content_type="application/json",
    )
    assert answer.status_code == 413


def test_unknown_event_types_are_acknowledged_and_change_nothing(
    client, paid, stripe_test_account, stripe_stub
):
    body, signature = stripe_stub.signed_event(
        "customer.created", {"id": "cus_1", "object": "customer"}, STRIPE_WEBHOOK_SECRET
    )

    answer = deliver(client, stripe_test_account, body, signature)

    assert (answer.status_code, answer.json()["outcome"]) == (200, "ignored")


def test_a_live_event_sent_to_the_test_endpoint_is_ignored(
    client, paid, stripe_test_account, stripe_stub
):
    charge = stripe_stub.dashboard_refund(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"], 1500)
    body, signature = stripe_stub.signed_event(
        "charge.refunded", charge, STRIPE_WEBHOOK_SECRET, livemode=True
    )

    answer = deliver(client, stripe_test_account, body, signature)

    assert answer.json()["outcome"] == "ignored_other_mode"
    assert Leg.objects.get().amount_refunded == 0


def test_another_merchants_account_cannot_touch_this_merchants_payment(
    client, paid, other_merchant, stripe_stub
):
    other = provider_credentials_save(
        merchant=other_merchant,
        livemode=False,
        secret_key="sk_test_51BetaShopTestKey0000000",
        webhook_secret="whsec_betaShopSigningSecret000",
    )
    charge = stripe_stub.dashboard_refund(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"], 1500)
    body, signature = stripe_stub.signed_event(
        "charge.refunded", charge, "whsec_betaShopSigningSecret000"
    )

    answer = deliver(client, other, body, signature)

    assert (answer.status_code, answer.json()["outcome"]) == (200, "unknown_object")
    assert Leg.objects.get().amount_refunded == 0


def test_a_capture_stripe_made_after_our_timeout_is_booked_by_its_event(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = one_share(merchant)
    checkout_url = start_card_payment(client, payer, stripe_stub)
    stripe_stub.fail("POST", "payment_intents", "timeout")
    finish_at_stripe(client, stripe_stub, checkout_url)
    assert Leg.objects.get().status == Leg.Status.UNKNOWN
    intent = intent_of(stripe_stub)
    body, signature = stripe_stub.signed_event(
        "payment_intent.succeeded", intent, STRIPE_WEBHOOK_SECRET
    )

    answer = deliver(client, stripe_test_account, body, signature)

    assert answer.json()["outcome"] == "recovered"
    payer.refresh_from_db()
    assert (Leg.objects.get().status, payer.amount_paid) == ("captured", 4000)
    assert Checkout.objects.get().status == Checkout.Status.SUCCEEDED
    assert intent_of(stripe_stub)["amount_received"] == 4000


def test_a_payer_who_paid_at_stripe_but_never_came_back_is_booked_by_the_event(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = one_share(merchant)
    checkout_url = start_card_payment(client, payer, stripe_stub)
    status, _where = stripe_stub.complete(checkout_url.split("?")[0])  # the browser closes
    assert status == 303
    session = {k: v for k, v in last_session(stripe_stub).items() if not k.startswith("_")}
    body, signature = stripe_stub.signed_event(
        "checkout.session.completed", session, STRIPE_WEBHOOK_SECRET
    )

    answer = deliver(client, stripe_test_account, body, signature)
    late_return = client.get(f"/pay/{payer.link_token}/return/{Checkout.objects.get().public_id}/")

    assert answer.json()["outcome"] == "resumed"
    payer.refresh_from_db()
    assert payer.amount_paid == 4000
    assert late_return.status_code == 302 and "/receipt/" in late_return.url
    captures = [c for c in stripe_stub.calls("POST") if c["path"].endswith("/capture")]
    assert len(captures) == 1


def test_a_refund_event_while_our_own_refund_is_in_flight_asks_stripe_to_retry(
    client, paid, stripe_test_account, stripe_stub
):
    Leg.objects.update(amount_refund_pending=500, updated_at=timezone.now())
    charge = stripe_stub.dashboard_refund(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"], 1500)
    body, signature = stripe_stub.signed_event("charge.refunded", charge, STRIPE_WEBHOOK_SECRET)

    answer = deliver(client, stripe_test_account, body, signature)

    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "refund_in_progress"
    assert not ProviderEvent.objects.exists()  # Stripe delivers it again later
    assert json.loads(body)["type"] == "charge.refunded"
