"""Disputes as the product records them, whatever the provider: one object per provider
dispute on a leg, idempotent and monotonic, announced by an event and a merchant alert, shown
in the API and on the request page, and never refundable a second time once the bank took
the money back."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from merchants.models import OperatorPreference
from notifications.dispatcher import dispatch_due
from notifications.models import Dispatch
from notifications.webhooks import webhook_endpoint_create
from payments import services
from payments.models import Dispute, Leg
from payments.services.disputes import dispute_record
from pushpay.errors import InvalidInput
from pushpay.money import format_money
from requests_app.models import RequestEvent
from scenarios.models import OutboxMessage
from tests.factories import MembershipFactory, MerchantFactory, make_request, participants
from tests.scenarios.helpers import OUTBOX_BACKEND

pytestmark = pytest.mark.django_db

DUE = datetime(2027, 1, 15, 4, 59, tzinfo=UTC)  # 14 January, 23:59 in Montreal


@pytest.fixture
def merchant(db):
    return MerchantFactory(
        name="Alpha Shop",
        contact_email="owner@alpha.example",
        default_language="fr",
        time_zone="America/Montreal",
    )


@pytest.fixture
def paid(merchant, tokenise):
    """A request of 2 x 10.00 EUR, both shares paid by card (the sandbox acquirer)."""
    payment_request = make_request(
        merchant, total_amount=2000, participants=participants(2, amount=1000)
    )
    for participant in payment_request.participants.all():
        checkout = services.checkout_start(
            participant=participant, method="card", source=tokenise()
        )
        assert checkout.status == "succeeded"
    payment_request.refresh_from_db()
    return payment_request


def leg_of(payment_request, position=0) -> Leg:
    participant = payment_request.participants.all()[position]
    return Leg.objects.select_related("checkout__request").get(checkout__participant=participant)


def record(leg, **overrides):
    values = {
        "provider": "sandbox",
        "provider_reference": "dis_1",
        "leg": leg,
        "amount": 400,
        "currency": "EUR",
        "reason": "fraudulent",
        "raw_reason": "fraudulent",
        "status": "needs_response",
        "evidence_due_by": DUE,
    }
    values.update(overrides)
    return dispute_record(**values)


def dispute_events(payment_request):
    return list(
        RequestEvent.objects.filter(request=payment_request, type__startswith="dispute_")
        .order_by("id")
        .values_list("type", "payload__status")
    )


def refund(api, payment_request, body):
    return api.post(
        f"/api/v1/payment-requests/{payment_request.public_id}/refund", body, format="json"
    )


# --- Recording --------------------------------------------------------------------------------


def test_a_new_dispute_is_an_object_with_an_event_and_an_alert_to_the_merchant(paid):
    leg = leg_of(paid)

    outcome = record(leg)

    dispute = outcome.dispute
    assert (outcome.created, outcome.event) == (True, "dispute.created")
    assert dispute.public_id.startswith("dp_") and len(dispute.public_id) == 27
    assert (dispute.merchant_id, dispute.livemode, dispute.leg) == (leg.merchant_id, False, leg)
    (event,) = RequestEvent.objects.filter(type=RequestEvent.Type.DISPUTE_CREATED)
    assert event.participant_id == leg.checkout.participant_id
    assert event.payload == {
        "dispute": dispute.public_id,
        "checkout": leg.checkout.public_id,
        "leg": leg.public_id,
        "amount": 400,
        "currency": "EUR",
        "reason": "fraudulent",
        "status": "needs_response",
        "evidence_due_by": "2027-01-15T04:59:00Z",
    }
    (alert,) = Dispatch.objects.filter(kind="dispute_alert")
    assert (alert.recipient, alert.language, alert.request_id) == (
        "owner@alpha.example",
        "fr",
        paid.pk,
    )


def test_the_alert_says_amount_reason_and_due_date_in_the_merchants_zone_and_language(
    paid, settings
):
    settings.EMAIL_BACKEND = OUTBOX_BACKEND
    record(leg_of(paid))

    dispatch_due(worker_id="w")

    # The merchant's own scenario steps may email the contact too; the alert is its own row.
    alert = Dispatch.objects.get(kind="dispute_alert")
    assert alert.status == "sent"
    email = OutboxMessage.objects.get(dispatch_public_id=alert.public_id)
    assert email.to == "owner@alpha.example"
    assert email.subject == f"Paiement contesté : {format_money(400, 'EUR', 'fr')} sur " + (
        paid.reference
    )
    for body in (email.text, email.html):
        assert "Fraude" in body
        assert "14 janvier 2027" in body and "23:59" in body  # Montreal, not UTC
        assert f"/app/requests/{paid.public_id}/" in body
        assert "Réponse attendue" in body


def test_the_same_state_twice_changes_nothing_and_alerts_once(paid):
    leg = leg_of(paid)
    record(leg)
    before = Dispute.objects.values().get()

    again = record(leg)

    assert (again.created, again.event) == (False, None)
    assert Dispute.objects.values().get() == before
    assert dispute_events(paid) == [("dispute_created", "needs_response")]
    assert Dispatch.objects.filter(kind="dispute_alert").count() == 1


def test_a_status_change_is_an_update_and_won_or_lost_closes_it(paid):
    leg, other = leg_of(paid), leg_of(paid, 1)
    record(leg)
    record(other, provider_reference="dis_2")

    reviewed = record(leg, status="under_review", evidence_due_by=None)
    lost = record(leg, status="lost", evidence_due_by=None)
    won = record(other, provider_reference="dis_2", status="won")

    assert (reviewed.event, lost.event, won.event) == (
        "dispute.updated",
        "dispute.closed",
        "dispute.closed",
    )
    assert lost.dispute.closed_at is not None and reviewed.dispute.evidence_due_by is None
    closed = RequestEvent.objects.filter(type=RequestEvent.Type.DISPUTE_CLOSED).order_by("id")
    assert [(e.payload["status"], e.payload["previous_status"]) for e in closed] == [
        ("lost", "under_review"),
        ("won", "needs_response"),
    ]


def test_a_new_evidence_due_date_is_an_update_too(paid):
    leg = leg_of(paid)
    record(leg)

    moved = record(leg, evidence_due_by=DUE + timedelta(days=3))

    assert moved.event == "dispute.updated"
    assert moved.dispute.evidence_due_by == DUE + timedelta(days=3)


def test_an_older_report_never_overwrites_a_newer_state(paid):
    leg = leg_of(paid)
    now = timezone.now()
    record(leg, status="under_review", occurred_at=now)

    behind = record(leg, status="needs_response", occurred_at=now + timedelta(seconds=5))
    earlier = record(
        leg,
        status="under_review",
        evidence_due_by=DUE + timedelta(days=9),
        occurred_at=now - timedelta(seconds=5),
    )
    record(leg, status="lost", occurred_at=now + timedelta(seconds=10))
    reopened = record(leg, status="under_review", occurred_at=now + timedelta(seconds=20))

    assert (behind.event, earlier.event, reopened.event) == (None, None, None)
    dispute = Dispute.objects.get()
    assert (dispute.status, dispute.evidence_due_by) == ("lost", DUE)
    assert dispute_events(paid) == [
        ("dispute_created", "under_review"),
        ("dispute_closed", "lost"),
    ]


def test_funds_only_grow_even_from_a_stale_report(paid):
    leg = leg_of(paid)
    record(leg, funds_withdrawn=400)
    record(leg, status="won", funds_withdrawn=400, funds_reinstated=400)

    record(leg, status="needs_response", funds_withdrawn=0, funds_reinstated=0)

    dispute = Dispute.objects.get()
    assert (dispute.status, dispute.funds_withdrawn, dispute.funds_reinstated) == (
        "won",
        400,
        400,
    )


def test_a_dispute_first_heard_of_when_it_is_over_is_created_then_closed(paid):
    outcome = record(leg_of(paid), status="lost")

    assert outcome.created and outcome.dispute.closed_at is not None
    assert dispute_events(paid) == [("dispute_created", "lost"), ("dispute_closed", "lost")]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": 1001}, "amount"),  # more than the leg took
        ({"amount": True}, "amount"),
        ({"currency": "USD"}, "currency"),
        ({"reason": "because"}, "reason"),
        ({"status": "pending"}, "status"),
        ({"provider_reference": ""}, "id"),
        ({"provider_reference": "d" * 81}, "id"),
        ({"evidence_due_by": datetime(2027, 1, 15)}, "evidence_due_by"),
        ({"funds_withdrawn": -1}, "funds_withdrawn"),
    ],
)
def test_values_that_cannot_be_a_dispute_of_this_leg_are_refused_before_anything_is_written(
    paid, overrides, field
):
    with pytest.raises(InvalidInput) as refused:
        record(leg_of(paid), **overrides)

    assert (refused.value.code, refused.value.field) == ("invalid_dispute", field)
    assert not Dispute.objects.exists()
    assert not dispute_events(paid)


def test_the_same_provider_reference_on_another_leg_is_refused(paid):
    record(leg_of(paid))

    with pytest.raises(InvalidInput) as refused:
        record(leg_of(paid, 1))

    assert refused.value.field == "provider_reference"
    assert Dispute.objects.get().leg == leg_of(paid)


def test_a_merchant_without_a_contact_address_gets_no_email_but_the_event(merchant, paid):
    merchant.contact_email = ""
    merchant.save()
    paid.merchant.refresh_from_db()

    record(leg_of(paid))

    assert not Dispatch.objects.filter(kind="dispute_alert").exists()
    assert dispute_events(paid) == [("dispute_created", "needs_response")]


# --- Money: a lost dispute is taken back, never refunded again ---------------------------------


def test_a_refund_after_a_lost_dispute_is_refused_beyond_what_is_left(api, paid):
    participant = paid.participants.all()[0]
    record(leg_of(paid), status="lost")

    too_much = refund(api, paid, {"participants": [{"id": participant.public_id, "amount": 601}]})
    rest = refund(api, paid, {"participants": [{"id": participant.public_id, "amount": 600}]})
    nothing = refund(api, paid, {"participants": [participant.public_id]})

    assert too_much.status_code == 422, too_much.content
    assert too_much.json()["error"]["code"] == "refund_exceeds_captured"
    assert "600" in too_much.json()["error"]["message"]
    assert rest.status_code == 200, rest.content
    assert nothing.status_code == 409
    assert nothing.json()["error"]["code"] == "nothing_to_refund"
    participant.refresh_from_db()
    # amount_paid stays what was captured; only the merchant's own refund is a refund.
    assert (participant.amount_paid, participant.amount_refunded) == (1000, 600)
    assert Leg.objects.get(pk=leg_of(paid).pk).amount_refunded == 600


def test_an_open_chargeback_holds_its_money_an_inquiry_or_a_won_case_does_not(api, paid):
    first, second = paid.participants.all()
    record(leg_of(paid), status="needs_response", amount=1000)
    record(leg_of(paid, 1), provider_reference="dis_2", status="warning_needs_response")

    blocked = refund(api, paid, {"participants": [first.public_id]})
    inquiry = refund(api, paid, {"participants": [{"id": second.public_id, "amount": 1000}]})
    record(leg_of(paid), status="won", amount=1000)
    after_won = refund(api, paid, {"participants": [first.public_id]})

    assert blocked.status_code == 409, blocked.content
    assert inquiry.status_code == 200, inquiry.content
    assert after_won.status_code == 200, after_won.content
    assert after_won.json()["amount_refunded"] == 2000


def test_a_refund_of_everything_gives_back_only_what_no_dispute_took(api, paid):
    record(leg_of(paid), status="lost", amount=1000)

    answer = refund(api, paid, {})

    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert (data["amount_paid"], data["amount_refunded"]) == (2000, 1000)
    assert [p["amount_refunded"] for p in data["participants"]] == [0, 1000]


# --- The API ------------------------------------------------------------------------------------


def test_the_request_and_the_participant_show_their_disputes(api, paid):
    dispute = record(leg_of(paid), status="lost").dispute

    data = api.get(f"/api/v1/payment-requests/{paid.public_id}").json()

    shown = {
        "id": dispute.public_id,
        "provider": "sandbox",
        "provider_reference": "dis_1",
        "participant": paid.participants.all()[0].public_id,
        "checkout": leg_of(paid).checkout.public_id,
        "leg": leg_of(paid).public_id,
        "amount": 400,
        "currency": "EUR",
        "reason": "fraudulent",
        "provider_reason": "fraudulent",
        "status": "lost",
        "amount_held": 400,
        "evidence_due_by": "2027-01-15T04:59:00Z",
    }
    (row,) = data["disputes"]
    assert {key: row[key] for key in shown} == shown
    assert row["closed_at"] and row["created_at"]
    first, second = data["participants"]
    assert first["disputes"] == data["disputes"] and second["disputes"] == []
    listed = api.get("/api/v1/payment-requests").json()["results"]
    assert listed[0]["disputes"] == data["disputes"]


def test_the_schema_documents_disputes(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    components = schema["components"]["schemas"]
    assert "disputes" in components["PaymentRequest"]["properties"]
    assert "disputes" in components["Participant"]["properties"]
    assert set(components["DisputeStatusEnum"]["enum"]) == set(Dispute.Status.values)
    assert set(components["DisputeReasonEnum"]["enum"]) == set(Dispute.Reason.values)


def test_another_merchant_or_the_other_mode_never_sees_the_dispute(api, other_api, paid, merchant):
    from tests.factories import api_secret_for

    dispute = record(leg_of(paid)).dispute
    live = api.__class__()
    live.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant, mode='live')}")

    assert other_api.get(f"/api/v1/payment-requests/{paid.public_id}").status_code == 404
    assert live.get(f"/api/v1/payment-requests/{paid.public_id}").status_code == 404
    assert other_api.get("/api/v1/events", {"object": dispute.public_id}).json()["results"] == []
    assert live.get("/api/v1/events", {"object": dispute.public_id}).json()["results"] == []


def test_dispute_events_are_in_the_events_api_and_reach_subscribed_endpoints(api, paid, merchant):
    endpoint = webhook_endpoint_create(
        merchant=merchant, url="https://hooks.alpha.example/in", events=["dispute.closed"]
    )
    dispute = record(leg_of(paid)).dispute
    record(leg_of(paid), status="lost")

    listed = api.get("/api/v1/events", {"object": dispute.public_id}).json()["results"]
    subscribed = api.post(
        "/api/v1/webhook-endpoints",
        {"url": "https://hooks.alpha.example/all", "events": ["dispute.created"]},
        format="json",
    )

    assert [e["type"] for e in listed] == ["dispute.closed", "dispute.created"]
    assert listed[0]["data"]["previous_status"] == "needs_response"
    assert subscribed.status_code == 201, subscribed.content
    (delivery,) = Dispatch.objects.filter(kind="webhook")
    assert (delivery.webhook_endpoint, delivery.event_type) == (endpoint, "dispute.closed")


# --- The back office ----------------------------------------------------------------------------


@pytest.fixture
def french_client(client, merchant):
    user = MembershipFactory(merchant=merchant, role="owner").user
    OperatorPreference.objects.create(user=user, language="fr")
    client.force_login(user)
    return client


def test_the_request_page_shows_the_dispute_in_french_with_its_due_date_in_the_merchants_zone(
    french_client, paid
):
    record(leg_of(paid))
    record(leg_of(paid, 1), provider_reference="dis_2", status="lost", amount=1000)

    html = french_client.get(f"/app/requests/{paid.public_id}/").content.decode()

    assert 'data-testid="disputed-badge"' in html and ">Contesté<" in html
    assert ">Litiges <" in html and 'data-testid="dispute-count">2<' in html
    assert ">Réponse attendue<" in html and ">Perdu<" in html
    assert "Fraude" in html and format_money(400, "EUR", "fr") in html
    assert "Perdu en litiges : " + format_money(1000, "EUR", "fr") in html
    assert '<time datetime="2027-01-15T04:59:00+00:00">2027-01-14 23:59' in html
    assert "Paiement contesté" in html and "Litige clos" in html  # the timeline
    for english in ("Needs response", ">Lost<", "Disputes", "Evidence due by", "Fraudulent"):
        assert english not in html


def test_the_refund_action_is_not_offered_when_disputes_took_everything_back(french_client, paid):
    record(leg_of(paid), status="lost", amount=1000)
    record(leg_of(paid, 1), provider_reference="dis_2", status="under_review", amount=1000)

    html = french_client.get(f"/app/requests/{paid.public_id}/").content.decode()
    form = french_client.get(f"/app/requests/{paid.public_id}/refund/").content.decode()

    assert f"/app/requests/{paid.public_id}/refund/" not in html
    assert paid.participants.all()[0].public_id not in form


def test_a_request_without_disputes_shows_no_dispute_section(french_client, paid):
    html = french_client.get(f"/app/requests/{paid.public_id}/").content.decode()

    assert 'data-testid="disputes"' not in html and "disputed-badge" not in html


# --- Concurrency (PostgreSQL row locks) --------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_dispute_reported_by_several_workers_at_once_is_recorded_once(postgres_only, paid):
    import threading

    from django.db import connection

    leg = leg_of(paid)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []
    lock = threading.Lock()

    def report(index: int) -> None:
        try:
            barrier.wait()
            status = "lost" if index % 2 else "needs_response"
            outcome = record(leg, status=status).event or "unchanged"
        except Exception as crash:  # surfaced by the assertion below
            outcome = repr(crash)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    workers = [threading.Thread(target=report, args=(i,)) for i in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert outcomes.count("dispute.created") == 1, outcomes
    assert set(outcomes) <= {"dispute.created", "dispute.closed", "unchanged"}, outcomes
    assert Dispute.objects.count() == 1
    assert Dispatch.objects.filter(kind="dispute_alert").count() == 1
    types = [t for t, _status in dispute_events(paid)]
    assert types.count("dispute_created") == 1 and types.count("dispute_closed") <= 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_refund_and_a_lost_dispute_at_once_never_give_the_same_money_back_twice(
    postgres_only, paid
):
    import threading

    from django.db import connection

    from pushpay.errors import DomainError

    participant = paid.participants.all()[0]
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def dispute() -> None:
        try:
            barrier.wait()
            record(leg_of(paid), status="lost", amount=1000)
            results["dispute"] = "recorded"
        except Exception as crash:  # surfaced by the assertion below
            results["dispute"] = repr(crash)
        finally:
            connection.close()

    def give_back() -> None:
        try:
            barrier.wait()
            services.payment_request_refund(
                payment_request=paid, lines=[services.RefundLine(participant, 1000)]
            )
            results["refund"] = "refunded"
        except DomainError as refused:
            results["refund"] = refused.code
        finally:
            connection.close()

    workers = [threading.Thread(target=dispute), threading.Thread(target=give_back)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert results["dispute"] == "recorded", results
    # Either the refund came first (the money went back, the dispute records what the bank
    # says), or the dispute did and the refund found nothing left: never both from our side.
    participant.refresh_from_db()
    if results["refund"] == "refunded":
        assert participant.amount_refunded == 1000
    else:
        assert results["refund"] == "refund_exceeds_captured", results
        assert participant.amount_refunded == 0
