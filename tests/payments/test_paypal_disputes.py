"""PayPal's disputes: CUSTOMER.DISPUTE.* events, verified by asking PayPal, the dispute re-read
from PayPal's Disputes API with the merchant's own app, found by its capture, and recorded
by the same ``dispute_record`` as Stripe's (one object, an alert, an event)."""

from datetime import timedelta

import pytest

from notifications.dispatcher import dispatch_due
from notifications.models import Dispatch
from payments.credentials_models import ProviderEvent
from payments.models import Dispute, Leg, LegOperation
from payments.services.credentials import provider_credentials_save
from requests_app.models import RequestEvent
from requests_app.services import ParticipantData
from scenarios.models import OutboxMessage
from tests.factories import make_request
from tests.payments.paypal_helpers import last_order, pay_with_paypal
from tests.scenarios.helpers import OUTBOX_BACKEND
from tests.stubs.stripe_accounts import (
    PAYPAL_LIVE_CLIENT_ID,
    PAYPAL_SANDBOX_CLIENT_ID,
    PAYPAL_WEBHOOK_ID,
)

pytestmark = pytest.mark.django_db

BETA_CLIENT_ID = "BetaShopSandboxClientId00000000"
BETA_SECRET = "BetaShopSandboxSecret0000000000"
BETA_WEBHOOK_ID = "9BETA000WEBHOOK"


def one_share(merchant, amount=4000, currency="EUR"):
    payment_request = make_request(
        merchant,
        currency=currency,
        total_amount=amount,
        participants=[ParticipantData(name="Zoé", email="zoe@example.com", amount=amount)],
    )
    return payment_request.participants.get()


def deliver(client, account, body: bytes, headers: dict):
    meta = {f"HTTP_{k.replace('-', '_')}": v for k, v in headers.items()}
    return client.post(
        f"/webhooks/paypal/{account.webhook_id}/", body, content_type="application/json", **meta
    )


def send(client, account, stub, kind, dispute, webhook_id=PAYPAL_WEBHOOK_ID):
    body, headers = stub.dispute_event(kind, dispute, webhook_id)
    return deliver(client, account, body, headers)


def capture_id(stub, environment="sandbox", client_id=PAYPAL_SANDBOX_CLIENT_ID):
    order = last_order(stub, client_id, environment)
    return order["purchase_units"][0]["payments"]["captures"][-1]["id"]


def dispute_events():
    return list(
        RequestEvent.objects.filter(type__startswith="dispute_")
        .order_by("id")
        .values_list("type", "payload__status", "payload__previous_status")
    )


@pytest.fixture
def paid(client, merchant, paypal_test_account, paypal_stub):
    """40.00 EUR paid with PayPal through the merchant's sandbox app; the merchant has a
    contact address for alerts."""
    merchant.contact_email = "owner@alpha.example"
    merchant.save(update_fields=["contact_email"])
    payer = one_share(merchant)
    pay_with_paypal(client, payer, paypal_stub)
    assert Leg.objects.get().status == "captured"
    return payer


def open_dispute(stub, **kwargs):
    return stub.open_dispute(PAYPAL_SANDBOX_CLIENT_ID, capture_id(stub), **kwargs)


# --- Recording -------------------------------------------------------------------------------


def test_a_paypal_dispute_becomes_an_object_with_an_alert_email_and_an_event(
    client, paid, paypal_test_account, paypal_stub, settings
):
    settings.EMAIL_BACKEND = OUTBOX_BACKEND
    dispute = open_dispute(paypal_stub, reason="UNAUTHORISED")

    answer = send(client, paypal_test_account, paypal_stub, "created", dispute)

    assert (answer.status_code, answer.json()["outcome"]) == (200, "dispute_created")
    row = Dispute.objects.get()
    assert row.public_id.startswith("dp_")
    assert (row.provider, row.provider_reference, row.leg) == (
        "paypal",
        dispute["dispute_id"],
        Leg.objects.get(),
    )
    assert (row.merchant, row.livemode) == (paid.request.merchant, False)
    assert (row.amount, row.currency, row.reason, row.raw_reason, row.status) == (
        4000,
        "EUR",
        "fraudulent",
        "UNAUTHORISED",
        "needs_response",
    )
    assert (
        row.evidence_due_by.isoformat().replace("+00:00", ".000Z")
        == (dispute["seller_response_due_date"])
    )
    assert dispute_events() == [("dispute_created", "needs_response", None)]
    (event,) = RequestEvent.objects.filter(type=RequestEvent.Type.DISPUTE_CREATED)
    assert (event.participant, event.payload["dispute"]) == (paid, row.public_id)
    dispatch_due(worker_id="w")
    alert = Dispatch.objects.get(kind="dispute_alert")
    assert (alert.status, alert.recipient, alert.source_id) == (
        "sent",
        "owner@alpha.example",
        row.public_id,
    )
    email = OutboxMessage.objects.get(dispatch_public_id=alert.public_id)
    assert email.to == "owner@alpha.example"
    assert paid.request.reference in email.subject
    # Recorded from PayPal's answer to the merchant's own app, found by the capture we made.
    (read,) = paypal_stub.calls("GET", f"/v1/customer/disputes/{dispute['dispute_id']}")
    assert read["environment"] == "sandbox" and read["authorization"] == "Bearer"
    assert not paypal_stub.calls("GET", "/v2/payments/captures/")
    assert ProviderEvent.objects.get().outcome == "dispute_created"


def test_an_inquiry_is_a_warning_that_holds_no_money_and_escalates_to_a_chargeback(
    client, api, paid, paypal_test_account, paypal_stub
):
    dispute = open_dispute(paypal_stub, stage="INQUIRY", status="OPEN")
    send(client, paypal_test_account, paypal_stub, "created", dispute)
    assert Dispute.objects.get().status == "warning_needs_response"
    waiting = paypal_stub.update_dispute(
        PAYPAL_SANDBOX_CLIENT_ID, dispute["dispute_id"], status="WAITING_FOR_BUYER_RESPONSE"
    )
    send(client, paypal_test_account, paypal_stub, "updated", waiting)
    claim = paypal_stub.update_dispute(
        PAYPAL_SANDBOX_CLIENT_ID,
        dispute["dispute_id"],
        dispute_life_cycle_stage="CHARGEBACK",
        status="WAITING_FOR_SELLER_RESPONSE",
        due_in_days=5,
    )

    escalated = send(client, paypal_test_account, paypal_stub, "updated", claim)

    assert escalated.json()["outcome"] == "dispute_updated"
    row = Dispute.objects.get()
    assert row.status == "needs_response" and row.amount_held == 4000
    assert (
        row.evidence_due_by.isoformat().replace("+00:00", ".000Z")
        == (claim["seller_response_due_date"])
    )
    assert dispute_events() == [
        ("dispute_created", "warning_needs_response", None),
        ("dispute_updated", "warning_under_review", "warning_needs_response"),
        ("dispute_updated", "needs_response", "warning_under_review"),
    ]
    # One alert per dispute, however far it moves.
    assert Dispatch.objects.filter(kind="dispute_alert").count() == 1


def test_resolved_in_the_buyers_favour_is_lost_and_only_the_rest_can_be_refunded(
    client, api, paid, paypal_test_account, paypal_stub
):
    dispute = open_dispute(paypal_stub, value="15.00")
    send(client, paypal_test_account, paypal_stub, "created", dispute)
    reviewed = paypal_stub.update_dispute(
        PAYPAL_SANDBOX_CLIENT_ID, dispute["dispute_id"], status="UNDER_REVIEW"
    )
    updated = send(client, paypal_test_account, paypal_stub, "updated", reviewed)
    lost = paypal_stub.resolve_dispute(
        PAYPAL_SANDBOX_CLIENT_ID, dispute["dispute_id"], "RESOLVED_BUYER_FAVOUR"
    )

    closed = send(client, paypal_test_account, paypal_stub, "resolved", lost)

    assert updated.json()["outcome"] == "dispute_updated"
    assert closed.json()["outcome"] == "dispute_closed"
    row = Dispute.objects.get()
    assert (row.status, row.amount, row.funds_withdrawn) == ("lost", 1500, 1500)
    assert row.closed_at is not None
    assert dispute_events() == [
        ("dispute_created", "needs_response", None),
        ("dispute_updated", "under_review", "needs_response"),
        ("dispute_closed", "lost", "under_review"),
    ]
    url = f"/api/v1/payment-requests/{paid.request.public_id}/refund"
    too_much = api.post(url, {"participants": [{"id": paid.public_id, "amount": 2501}]}, "json")
    rest = api.post(url, {"participants": [{"id": paid.public_id, "amount": 2500}]}, "json")
    nothing = api.post(url, {}, "json")
    assert too_much.status_code == 422, too_much.content
    assert too_much.json()["error"]["code"] == "refund_exceeds_captured"
    assert rest.status_code == 200, rest.content
    assert (nothing.status_code, nothing.json()["error"]["code"]) == (409, "nothing_to_refund")
    (refund_call,) = paypal_stub.calls("POST", "/refund")
    assert refund_call["body"]["amount"] == {"currency_code": "EUR", "value": "25.00"}
    paid.refresh_from_db()
    # Not a refund of ours: only the merchant's own refund counts as refunded.
    assert (paid.amount_paid, paid.amount_refunded) == (4000, 2500)


@pytest.mark.parametrize(
    ("outcome", "stage", "status"),
    [
        ("RESOLVED_SELLER_FAVOUR", "CHARGEBACK", "won"),
        ("CANCELED_BY_BUYER", "CHARGEBACK", "won"),
        ("CANCELED_BY_BUYER", "INQUIRY", "warning_closed"),
        ("RESOLVED_WITH_PAYOUT", "CHARGEBACK", "won"),
    ],
)
def test_resolved_for_the_seller_or_cancelled_is_won_and_the_money_is_refundable_again(
    client, api, paid, paypal_test_account, paypal_stub, outcome, stage, status
):
    dispute = open_dispute(paypal_stub, stage=stage)
    send(client, paypal_test_account, paypal_stub, "created", dispute)
    resolved = paypal_stub.resolve_dispute(PAYPAL_SANDBOX_CLIENT_ID, dispute["dispute_id"], outcome)

    answer = send(client, paypal_test_account, paypal_stub, "resolved", resolved)

    assert answer.json()["outcome"] == "dispute_closed"
    row = Dispute.objects.get()
    assert (row.status, row.amount_held, row.funds_withdrawn) == (status, 0, 0)
    refund = api.post(f"/api/v1/payment-requests/{paid.request.public_id}/refund", {}, "json")
    assert refund.status_code == 200, refund.content
    assert refund.json()["amount_refunded"] == 4000


def test_a_dispute_first_heard_of_once_resolved_is_created_then_closed(
    client, paid, paypal_test_account, paypal_stub
):
    dispute = open_dispute(paypal_stub)
    resolved = paypal_stub.resolve_dispute(
        PAYPAL_SANDBOX_CLIENT_ID, dispute["dispute_id"], "RESOLVED_BUYER_FAVOUR"
    )

    first = send(client, paypal_test_account, paypal_stub, "resolved", resolved)
    late = send(client, paypal_test_account, paypal_stub, "created", dispute)

    assert first.json()["outcome"] == "dispute_created"
    # The late CREATED event is re-read: PayPal says resolved, which is what is held.
    assert late.json()["outcome"] == "up_to_date"
    assert [t for t, _s, _p in dispute_events()] == ["dispute_created", "dispute_closed"]
    assert Dispute.objects.get().status == "lost"


def test_a_read_older_than_the_state_held_changes_nothing(
    client, paid, paypal_test_account, paypal_stub
):
    dispute = open_dispute(paypal_stub)
    send(client, paypal_test_account, paypal_stub, "created", dispute)
    held = Dispute.objects.values().get()
    # A lagging answer of PayPal's: the same stage with another due date, updated earlier.
    stale = paypal_stub.app(PAYPAL_SANDBOX_CLIENT_ID).disputes[dispute["dispute_id"]]
    stale["seller_response_due_date"] = "2031-01-01T00:00:00.000Z"
    stale["update_time"] = "2020-01-01T00:00:00.000Z"

    answer = send(client, paypal_test_account, paypal_stub, "updated", stale)

    assert answer.json()["outcome"] == "up_to_date"
    assert Dispute.objects.values().get() == held
    assert len(dispute_events()) == 1


def test_a_yen_dispute_is_read_without_decimals(client, merchant, paypal_test_account, paypal_stub):
    payer = one_share(merchant, amount=1500, currency="JPY")
    pay_with_paypal(client, payer, paypal_stub)
    dispute = open_dispute(paypal_stub, value="700")

    send(client, paypal_test_account, paypal_stub, "created", dispute)

    row = Dispute.objects.get()
    assert (row.amount, row.currency) == (700, "JPY")


# --- Once, and only if PayPal says so --------------------------------------------------------


def test_a_replayed_event_or_a_second_event_of_the_same_state_alerts_once(
    client, paid, paypal_test_account, paypal_stub
):
    dispute = open_dispute(paypal_stub)
    body, headers = paypal_stub.dispute_event("created", dispute, PAYPAL_WEBHOOK_ID)
    assert deliver(client, paypal_test_account, body, headers).json()["outcome"] == (
        "dispute_created"
    )

    replay = deliver(client, paypal_test_account, body, headers)
    same_state = send(client, paypal_test_account, paypal_stub, "updated", dispute)

    assert (replay.status_code, replay.json()["outcome"]) == (200, "replayed")
    assert (same_state.status_code, same_state.json()["outcome"]) == (200, "up_to_date")
    assert Dispute.objects.count() == 1
    assert len(dispute_events()) == 1
    assert Dispatch.objects.filter(kind="dispute_alert").count() == 1
    # The replay was not even read again: handled once per event id.
    assert len(paypal_stub.calls("GET", "/v1/customer/disputes/")) == 2


def test_a_bad_signature_or_an_altered_body_is_a_400_and_records_nothing(
    client, paid, paypal_test_account, paypal_stub
):
    dispute = open_dispute(paypal_stub)
    body, headers = paypal_stub.dispute_event("created", dispute, PAYPAL_WEBHOOK_ID)
    forged = {**headers, "PAYPAL-TRANSMISSION-SIG": "Zm9yZ2Vk"}
    altered = body.replace(b'"WAITING_FOR_SELLER_RESPONSE"', b'"UNDER_REVIEW"')
    assert altered != body

    answers = [
        deliver(client, paypal_test_account, body, forged),
        deliver(client, paypal_test_account, altered, headers),
    ]

    for answer in answers:
        assert answer.status_code == 400, answer.content
        assert answer.json()["error"]["code"] == "invalid_signature"
    assert not Dispute.objects.exists()
    assert not dispute_events()
    assert not ProviderEvent.objects.exists()
    assert not paypal_stub.calls("GET", "/v1/customer/disputes/")


def test_paypal_not_answering_the_dispute_read_asks_for_a_later_delivery(
    client, paid, paypal_test_account, paypal_stub
):
    dispute = open_dispute(paypal_stub)
    body, headers = paypal_stub.dispute_event("created", dispute, PAYPAL_WEBHOOK_ID)
    paypal_stub.fail("GET", "/v1/customer/disputes/", "500")

    refused = deliver(client, paypal_test_account, body, headers)
    again = deliver(client, paypal_test_account, body, headers)

    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "provider_unreachable")
    assert again.json()["outcome"] == "dispute_created"
    assert Dispute.objects.count() == 1
    assert ProviderEvent.objects.count() == 1


def test_a_dispute_id_paypal_does_not_know_or_a_malformed_one_changes_nothing(
    client, paid, paypal_test_account, paypal_stub
):
    dispute = open_dispute(paypal_stub)
    unknown = dict(dispute, dispute_id="PP-D-00000NOPE")
    malformed = dict(dispute, dispute_id="../../v2/checkout/orders/X")

    answers = [
        send(client, paypal_test_account, paypal_stub, "created", body).json()["outcome"]
        for body in (unknown, malformed, {k: v for k, v in dispute.items() if k != "dispute_id"})
    ]

    assert answers == ["unknown_object"] * 3
    assert not Dispute.objects.exists()
    assert len(paypal_stub.calls("GET", "/v1/customer/disputes/")) == 1  # only the unknown id


# --- Finding the leg -------------------------------------------------------------------------


def test_a_capture_we_did_not_write_down_is_found_by_re_reading_it_from_paypal(
    client, paid, paypal_test_account, paypal_stub
):
    # As if the capture id had been lost with our call's answer and never recorded.
    LegOperation.objects.update(operation_reference="")
    dispute = open_dispute(paypal_stub)

    answer = send(client, paypal_test_account, paypal_stub, "created", dispute)

    assert answer.json()["outcome"] == "dispute_created"
    assert Dispute.objects.get().leg == Leg.objects.get()
    assert paypal_stub.calls("GET", f"/v2/payments/captures/{capture_id(paypal_stub)}")


def test_a_dispute_on_a_payment_not_made_through_us_is_acknowledged_and_changes_nothing(
    client, paid, paypal_test_account, paypal_stub
):
    app = paypal_stub.app(PAYPAL_SANDBOX_CLIENT_ID)
    ours = app.captures[capture_id(paypal_stub)]
    # A capture of the merchant's PayPal account made elsewhere (another shop, PayPal.me).
    app.captures["7EL00000000000000"] = {
        **ours,
        "id": "7EL00000000000000",
        "custom_id": "",
        "supplementary_data": {"related_ids": {"order_id": "ORDER0ELSEWHERE"}},
    }
    elsewhere = paypal_stub.open_dispute(PAYPAL_SANDBOX_CLIENT_ID, "7EL00000000000000")
    vanished = dict(open_dispute(paypal_stub))
    app.disputes[vanished["dispute_id"]]["disputed_transactions"] = [
        {"seller_transaction_id": "9ZZ99999999999999", "transaction_status": "COMPLETED"}
    ]

    answers = [
        send(client, paypal_test_account, paypal_stub, "created", body).json()["outcome"]
        for body in (elsewhere, vanished)
    ]

    assert answers == ["unknown_object", "unknown_object"]
    assert not Dispute.objects.exists()
    assert not Dispatch.objects.filter(kind="dispute_alert").exists()


def test_another_merchants_app_cannot_reach_this_merchants_payment_with_a_dispute(
    client, paid, other_merchant, paypal_stub
):
    beta_app = paypal_stub.add_app(BETA_CLIENT_ID, BETA_SECRET)
    beta = provider_credentials_save(
        merchant=other_merchant,
        livemode=False,
        provider="paypal",
        client_id=BETA_CLIENT_ID,
        secret_key=BETA_SECRET,
        webhook_secret=BETA_WEBHOOK_ID,
    )
    alphas = open_dispute(paypal_stub)
    # Beta's own dispute naming Alpha's capture id.
    betas = dict(alphas, dispute_id="PP-D-BETA0001")
    beta_app.disputes[betas["dispute_id"]] = betas

    answers = [
        send(client, beta, paypal_stub, "created", body, BETA_WEBHOOK_ID).json()["outcome"]
        for body in (alphas, betas)
    ]

    # Alpha's dispute is unknown to Beta's app; Beta's names a capture Beta's app never made.
    assert answers == ["unknown_object", "unknown_object"]
    assert not Dispute.objects.exists()


def test_the_live_app_cannot_reach_a_test_payment_with_a_dispute(
    client, paid, paypal_live_account, paypal_stub
):
    test_dispute = open_dispute(paypal_stub)
    live_copy = dict(test_dispute, dispute_id="PP-D-LIVE0001")
    paypal_stub.app(PAYPAL_LIVE_CLIENT_ID, "live").disputes[live_copy["dispute_id"]] = live_copy

    answers = [
        send(client, paypal_live_account, paypal_stub, "created", body).json()["outcome"]
        for body in (test_dispute, live_copy)
    ]

    assert answers == ["unknown_object", "unknown_object"]
    assert not Dispute.objects.exists()
    assert {c["environment"] for c in paypal_stub.calls("GET", "/v1/customer/")} == {"live"}


def test_a_state_paypal_calls_other_is_acknowledged_and_left_alone(
    client, paid, paypal_test_account, paypal_stub
):
    dispute = open_dispute(paypal_stub)
    send(client, paypal_test_account, paypal_stub, "created", dispute)
    other = paypal_stub.update_dispute(
        PAYPAL_SANDBOX_CLIENT_ID, dispute["dispute_id"], status="OTHER"
    )

    answer = send(client, paypal_test_account, paypal_stub, "updated", other)

    assert (answer.status_code, answer.json()["outcome"]) == (200, "ignored_status")
    assert Dispute.objects.get().status == "needs_response"


def test_the_evidence_due_date_moving_is_an_update(client, paid, paypal_test_account, paypal_stub):
    dispute = open_dispute(paypal_stub, due_in_days=10)
    send(client, paypal_test_account, paypal_stub, "created", dispute)
    before = Dispute.objects.get().evidence_due_by
    later = paypal_stub.update_dispute(
        PAYPAL_SANDBOX_CLIENT_ID, dispute["dispute_id"], due_in_days=20
    )

    answer = send(client, paypal_test_account, paypal_stub, "updated", later)

    assert answer.json()["outcome"] == "dispute_updated"
    # The stub dates each due date from its own clock, which may cross a second in between.
    moved = Dispute.objects.get().evidence_due_by - before
    assert timedelta(days=10) <= moved < timedelta(days=10, seconds=5)


# --- Concurrency (PostgreSQL row locks) ------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_dispute_delivered_several_times_at_once_is_recorded_and_alerted_once(
    postgres_only, paid, paypal_test_account, paypal_stub, settings
):
    import threading

    # Six deliveries at once each ask the stub twice: on a loaded machine the suite's short
    # timeout (meant for the timeout tests) would turn some into 409s, which PayPal resends.
    settings.PAYPAL_TIMEOUT_SECONDS = 15

    from django.db import connection
    from django.test import Client

    dispute = open_dispute(paypal_stub)
    same_event = paypal_stub.dispute_event("created", dispute, PAYPAL_WEBHOOK_ID)
    deliveries = [same_event] * 3 + [
        paypal_stub.dispute_event("updated", dispute, PAYPAL_WEBHOOK_ID) for _ in range(3)
    ]
    barrier = threading.Barrier(len(deliveries))
    outcomes: list[str] = []
    lock = threading.Lock()

    def post(body: bytes, headers: dict) -> None:
        try:
            barrier.wait()
            answer = deliver(Client(), paypal_test_account, body, headers)
            outcome = f"{answer.status_code} {answer.json().get('outcome')}"
        except Exception as crash:  # surfaced by the assertion below
            outcome = repr(crash)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    workers = [threading.Thread(target=post, args=delivery) for delivery in deliveries]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert outcomes.count("200 dispute_created") <= 1, outcomes
    assert set(outcomes) <= {"200 dispute_created", "200 up_to_date", "200 replayed"}, outcomes
    assert Dispute.objects.count() == 1
    assert Dispatch.objects.filter(kind="dispute_alert").count() == 1
    assert [t for t, _s, _p in dispute_events()] == ["dispute_created"]
    assert ProviderEvent.objects.count() == 4  # one per event id
