"""Stripe's webhooks: verified with the account's signing secret, handled once, reconciled
through the same services as the payer's return, recovery and refunds."""

import json
import time

import pytest
from django.utils import timezone

from notifications.models import Dispatch
from payments.credentials_models import ProviderEvent
from payments.models import Checkout, Dispute, Leg
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


# --- Disputes -------------------------------------------------------------------------------


def dispute_delivery(client, account, stub, event_type, dispute, **kwargs):
    body, signature = stub.dispute_event(event_type, dispute, STRIPE_WEBHOOK_SECRET, **kwargs)
    return deliver(client, account, body, signature)


def test_a_stripe_dispute_becomes_an_object_with_an_alert_and_an_event(
    client, paid, stripe_test_account, stripe_stub
):
    paid.request.merchant.contact_email = "owner@alpha.example"
    paid.request.merchant.save()
    dispute = stripe_stub.open_dispute(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"])

    answer = dispute_delivery(client, stripe_test_account, stripe_stub, "created", dispute)

    assert (answer.status_code, answer.json()["outcome"]) == (200, "dispute_created")
    row = Dispute.objects.get()
    assert row.public_id.startswith("dp_") and row.public_id != dispute["id"]
    assert (row.provider, row.provider_reference) == ("stripe", dispute["id"])
    assert (row.amount, row.currency, row.reason, row.raw_reason, row.status) == (
        4000,
        "EUR",
        "fraudulent",
        "fraudulent",
        "needs_response",
    )
    assert row.evidence_due_by.timestamp() == dispute["evidence_details"]["due_by"]
    assert (row.funds_withdrawn, row.funds_reinstated) == (4000, 0)
    assert row.leg == Leg.objects.get()
    (event,) = RequestEvent.objects.filter(type=RequestEvent.Type.DISPUTE_CREATED)
    assert event.participant == paid
    assert event.payload["dispute"] == row.public_id
    (alert,) = Dispatch.objects.filter(kind="dispute_alert")
    assert (alert.recipient, alert.source_id) == ("owner@alpha.example", row.public_id)
    # What was recorded is what Stripe said when asked with the merchant's key.
    (read,) = stripe_stub.calls("GET", f"disputes/{dispute['id']}")
    assert read["api_key"] == STRIPE_TEST_KEY


def test_the_dispute_moves_on_and_closes_lost_and_the_money_can_no_longer_be_refunded(
    client, api, paid, stripe_test_account, stripe_stub
):
    dispute = stripe_stub.open_dispute(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"])
    dispute_delivery(client, stripe_test_account, stripe_stub, "created", dispute)
    reviewed = stripe_stub.update_dispute(STRIPE_TEST_KEY, dispute["id"], status="under_review")

    updated = dispute_delivery(client, stripe_test_account, stripe_stub, "updated", reviewed)
    lost = stripe_stub.update_dispute(STRIPE_TEST_KEY, dispute["id"], status="lost")
    closed = dispute_delivery(client, stripe_test_account, stripe_stub, "closed", lost)

    assert updated.json()["outcome"] == "dispute_updated"
    assert closed.json()["outcome"] == "dispute_closed"
    row = Dispute.objects.get()
    assert row.status == "lost" and row.closed_at is not None
    types = list(
        RequestEvent.objects.filter(type__startswith="dispute_")
        .order_by("id")
        .values_list("type", "payload__status", "payload__previous_status")
    )
    assert types == [
        ("dispute_created", "needs_response", None),
        ("dispute_updated", "under_review", "needs_response"),
        ("dispute_closed", "lost", "under_review"),
    ]
    refund = api.post(
        f"/api/v1/payment-requests/{paid.request.public_id}/refund", {}, format="json"
    )
    assert refund.status_code == 409, refund.content
    assert refund.json()["error"]["code"] == "nothing_to_refund"
    assert not stripe_stub.calls("POST", "refunds")
    paid.refresh_from_db()
    # Not a refund of ours: what the payer paid and was refunded stays as it was.
    assert (paid.amount_paid, paid.amount_refunded, paid.status) == (4000, 0, "paid")


def test_a_won_dispute_gives_the_funds_back_and_the_payment_is_refundable_again(
    client, api, paid, stripe_test_account, stripe_stub
):
    dispute = stripe_stub.open_dispute(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"])
    dispute_delivery(client, stripe_test_account, stripe_stub, "created", dispute)
    won = stripe_stub.update_dispute(STRIPE_TEST_KEY, dispute["id"], status="won")

    answer = dispute_delivery(client, stripe_test_account, stripe_stub, "funds_reinstated", won)

    assert answer.json()["outcome"] == "dispute_closed"
    row = Dispute.objects.get()
    assert (row.status, row.funds_withdrawn, row.funds_reinstated) == ("won", 4000, 4000)
    refund = api.post(
        f"/api/v1/payment-requests/{paid.request.public_id}/refund", {}, format="json"
    )
    assert refund.status_code == 200, refund.content
    assert refund.json()["amount_refunded"] == 4000


def test_a_replayed_dispute_event_or_a_second_event_of_the_same_state_alerts_once(
    client, paid, stripe_test_account, stripe_stub
):
    paid.request.merchant.contact_email = "owner@alpha.example"
    paid.request.merchant.save()
    dispute = stripe_stub.open_dispute(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"])
    body, signature = stripe_stub.dispute_event("created", dispute, STRIPE_WEBHOOK_SECRET)
    assert deliver(client, stripe_test_account, body, signature).status_code == 200

    replay = deliver(client, stripe_test_account, body, signature)
    withdrawn = dispute_delivery(
        client, stripe_test_account, stripe_stub, "funds_withdrawn", dispute
    )

    assert replay.json()["outcome"] == "replayed"
    assert withdrawn.json()["outcome"] == "up_to_date"
    assert Dispute.objects.count() == 1
    assert RequestEvent.objects.filter(type__startswith="dispute_").count() == 1
    assert Dispatch.objects.filter(kind="dispute_alert").count() == 1


def test_dispute_events_out_of_order_end_on_stripes_latest_state(
    client, paid, stripe_test_account, stripe_stub
):
    opened = stripe_stub.open_dispute(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"])
    reviewed = stripe_stub.update_dispute(STRIPE_TEST_KEY, opened["id"], status="under_review")
    lost = stripe_stub.update_dispute(STRIPE_TEST_KEY, opened["id"], status="lost")

    first = dispute_delivery(client, stripe_test_account, stripe_stub, "closed", lost)
    late = [
        dispute_delivery(client, stripe_test_account, stripe_stub, kind, body).json()["outcome"]
        for kind, body in (("updated", reviewed), ("created", opened))
    ]

    assert first.json()["outcome"] == "dispute_created"
    assert late == ["up_to_date", "up_to_date"]
    assert Dispute.objects.get().status == "lost"
    assert list(
        RequestEvent.objects.filter(type__startswith="dispute_")
        .order_by("id")
        .values_list("type", flat=True)
    ) == ["dispute_created", "dispute_closed"]


def test_a_dispute_event_with_a_bad_signature_is_a_400_and_records_nothing(
    client, paid, stripe_test_account, stripe_stub
):
    dispute = stripe_stub.open_dispute(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"])
    body, _good = stripe_stub.dispute_event("created", dispute, STRIPE_WEBHOOK_SECRET)
    _other, forged = stripe_stub.dispute_event("created", dispute, "whsec_someoneElse0000")

    answer = deliver(client, stripe_test_account, body, forged)

    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid_signature")
    assert not Dispute.objects.exists()
    assert not RequestEvent.objects.filter(type__startswith="dispute_").exists()
    assert not stripe_stub.calls("GET", "disputes")


def test_a_dispute_on_a_charge_we_did_not_make_is_acknowledged_and_changes_nothing(
    client, merchant, stripe_test_account, stripe_stub
):
    # A payment the merchant took at Stripe without us: its intent is not one of our legs.
    payer = one_share(merchant)
    pay_by_card(client, payer, stripe_stub)
    intent = intent_of(stripe_stub)
    Leg.objects.update(provider_reference="pi_someone_else")
    dispute = stripe_stub.open_dispute(STRIPE_TEST_KEY, intent["id"])

    answer = dispute_delivery(client, stripe_test_account, stripe_stub, "created", dispute)

    assert (answer.status_code, answer.json()["outcome"]) == (200, "unknown_object")
    assert not Dispute.objects.exists()


def test_another_merchants_account_cannot_reach_this_merchants_leg_with_a_dispute(
    client, paid, other_merchant, stripe_stub
):
    other = provider_credentials_save(
        merchant=other_merchant,
        livemode=False,
        secret_key="sk_test_51BetaShopTestKey0000000",
        webhook_secret="whsec_betaShopSigningSecret000",
    )
    dispute = stripe_stub.open_dispute(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"])
    body, signature = stripe_stub.dispute_event(
        "created", dispute, "whsec_betaShopSigningSecret000"
    )

    answer = deliver(client, other, body, signature)

    # Read back with Beta's own key, Stripe does not know Alpha's dispute.
    assert (answer.status_code, answer.json()["outcome"]) == (200, "unknown_object")
    assert not Dispute.objects.exists()


def test_a_live_dispute_event_on_the_test_endpoint_or_a_test_leg_on_the_live_one_is_apart(
    client, paid, stripe_test_account, stripe_live_account, stripe_stub
):
    from tests.payments.conftest import STRIPE_LIVE_KEY

    dispute = stripe_stub.open_dispute(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"])
    live_flag = dispute_delivery(
        client, stripe_test_account, stripe_stub, "created", dispute, livemode=True
    )
    # The live account's own dispute naming the test leg's intent: still not a live leg.
    live_dispute = dict(dispute, id="dp_live_copy", livemode=True)
    stripe_stub.account(STRIPE_LIVE_KEY).disputes[live_dispute["id"]] = live_dispute
    live_endpoint = dispute_delivery(
        client, stripe_live_account, stripe_stub, "created", live_dispute, livemode=True
    )

    assert live_flag.json()["outcome"] == "ignored_other_mode"
    assert live_endpoint.json()["outcome"] == "unknown_object"
    assert not Dispute.objects.exists()


def test_stripe_not_answering_for_the_dispute_asks_for_the_event_again(
    client, paid, stripe_test_account, stripe_stub
):
    dispute = stripe_stub.open_dispute(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"])
    body, signature = stripe_stub.dispute_event("created", dispute, STRIPE_WEBHOOK_SECRET)
    stripe_stub.fail("GET", "disputes", "500")

    first = deliver(client, stripe_test_account, body, signature)
    again = deliver(client, stripe_test_account, body, signature)

    assert (first.status_code, first.json()["error"]["code"]) == (409, "provider_unreachable")
    assert (again.status_code, again.json()["outcome"]) == (200, "dispute_created")
    assert Dispute.objects.count() == 1


def statement(api, payer):
    return api.get(f"/api/v1/payment-requests/{payer.request.public_id}/reconciliation").json()


def test_stripes_dispute_fee_is_recorded_and_the_statement_shows_the_chargeback_until_lost(
    client, api, paid, stripe_test_account, stripe_stub
):
    from payments.models import Reconciliation

    before = statement(api, paid)
    assert (before["version"], before["disputes"]) == (1, [])
    net_before = before["totals"]["net"]
    dispute = stripe_stub.open_dispute(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"])

    dispute_delivery(client, stripe_test_account, stripe_stub, "created", dispute)

    row = Dispute.objects.get()
    assert row.fee == 1500  # Stripe's 15.00 EUR, from the dispute's balance transaction
    opened = statement(api, paid)
    assert opened["version"] == 2
    assert opened["disputes"] == [
        {
            "dispute": row.public_id,
            "provider_reference": dispute["id"],
            "leg": Leg.objects.get().public_id,
            "participant": paid.public_id,
            "method": "card",
            "status": "needs_response",
            "currency": "EUR",
            "amount": 4000,
            "fee": 1500,
            "net": -1500,
        }
    ]
    assert opened["totals"]["disputed_open"] == 4000
    assert opened["totals"]["dispute_fees"] == 1500
    assert opened["totals"]["net"] == net_before - 1500
    # The same state again writes no version.
    dispute_delivery(client, stripe_test_account, stripe_stub, "funds_withdrawn", dispute)
    assert Reconciliation.objects.filter(request=paid.request).count() == 2

    lost = stripe_stub.update_dispute(STRIPE_TEST_KEY, dispute["id"], status="lost")
    dispute_delivery(client, stripe_test_account, stripe_stub, "closed", lost)

    closed = statement(api, paid)
    assert closed["version"] == 3
    assert closed["disputes"][0]["status"] == "lost"
    assert closed["disputes"][0]["net"] == -4000 - 1500
    assert (closed["totals"]["disputed_open"], closed["totals"]["disputed_lost"]) == (0, 4000)
    assert closed["totals"]["net"] == net_before - 4000 - 1500
    versions = RequestEvent.objects.filter(type="reconciliation_ready").order_by("id")
    assert [event.payload["version"] for event in versions] == [1, 2, 3]
    csv_text = api.get(
        f"/api/v1/payment-requests/{paid.request.public_id}/reconciliation.csv"
    ).content.decode()
    (dispute_row,) = [line for line in csv_text.splitlines() if line.startswith("dispute,")]
    assert dispute_row.endswith(f",{dispute['id']},{row.public_id},lost,EUR,4000,,1500,-5500")
    assert csv_text.splitlines()[-1].endswith(f",{net_before - 5500}")


def test_a_won_dispute_gives_its_fee_back_and_leaves_the_net_as_before(
    client, api, paid, stripe_test_account, stripe_stub
):
    net_before = statement(api, paid)["totals"]["net"]
    dispute = stripe_stub.open_dispute(STRIPE_TEST_KEY, intent_of(stripe_stub)["id"])
    dispute_delivery(client, stripe_test_account, stripe_stub, "created", dispute)
    won = stripe_stub.update_dispute(STRIPE_TEST_KEY, dispute["id"], status="won")

    dispute_delivery(client, stripe_test_account, stripe_stub, "closed", won)

    assert Dispute.objects.get().fee == 0
    body = statement(api, paid)
    assert body["disputes"][0]["status"] == "won" and body["disputes"][0]["net"] == 0
    assert body["totals"]["net"] == net_before


def test_an_inquiry_moves_no_money_and_is_not_on_the_statement(
    client, api, paid, stripe_test_account, stripe_stub
):
    dispute = stripe_stub.open_dispute(
        STRIPE_TEST_KEY, intent_of(stripe_stub)["id"], status="warning_needs_response"
    )

    dispute_delivery(client, stripe_test_account, stripe_stub, "created", dispute)

    assert Dispute.objects.get().fee is None  # no balance transaction: no fee reported
    body = statement(api, paid)
    assert (body["version"], body["disputes"]) == (1, [])
    assert "disputed_open" not in body["totals"]


def dispute_without_intent(stub):
    dispute = stub.open_dispute(STRIPE_TEST_KEY, intent_of(stub)["id"])
    stub.account(STRIPE_TEST_KEY).disputes[dispute["id"]]["payment_intent"] = None
    return {**dispute, "payment_intent": None}


def test_a_dispute_naming_only_its_charge_is_tied_to_the_leg_through_the_charge(
    client, paid, stripe_test_account, stripe_stub
):
    dispute = dispute_without_intent(stripe_stub)

    answer = dispute_delivery(client, stripe_test_account, stripe_stub, "created", dispute)

    assert (answer.status_code, answer.json()["outcome"]) == (200, "dispute_created")
    assert Dispute.objects.get().leg == Leg.objects.get()
    (read,) = stripe_stub.calls("GET", f"charges/{dispute['charge']}")
    assert read["api_key"] == STRIPE_TEST_KEY


def test_stripe_not_answering_for_the_disputes_charge_asks_for_the_event_again(
    client, paid, stripe_test_account, stripe_stub
):
    dispute = dispute_without_intent(stripe_stub)
    stripe_stub.fail("GET", "charges/*", "500")

    answer = dispute_delivery(client, stripe_test_account, stripe_stub, "created", dispute)

    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "provider_unreachable"
    assert not Dispute.objects.exists()


def test_a_dispute_whose_charge_stripe_does_not_know_changes_nothing(
    client, paid, stripe_test_account, stripe_stub
):
    dispute = dispute_without_intent(stripe_stub)
    stripe_stub.account(STRIPE_TEST_KEY).disputes[dispute["id"]]["charge"] = "ch_unknown"

    answer = dispute_delivery(client, stripe_test_account, stripe_stub, "created", dispute)

    assert (answer.status_code, answer.json()["outcome"]) == (200, "unknown_object")
    assert not Dispute.objects.exists()
