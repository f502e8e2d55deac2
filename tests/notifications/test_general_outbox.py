"""The general outbox: rows of any kind, re-checked with fresh data just before each send,
one delivery-attempt row per try, and the same dispatcher for every producer."""

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from notifications import dispatcher
from notifications.channels import OutgoingMessage, SendResult, Transport, TransportError
from notifications.dispatcher import claim_due, dispatch_due, send_claimed
from notifications.kinds import OutboxKind, _kinds, outbox_kind_register
from notifications.models import DeliveryAttempt, Dispatch
from requests_app import services as request_services
from scenarios import services
from tests.factories import make_request, participants
from tests.scenarios.helpers import make_scenario, step
from tests.scenarios.stub import stub_server

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quiet(settings):
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False


class Flaky(Transport):
    def __init__(self, failures: int):
        self.failures = failures

    def send(self, message):
        if self.failures:
            self.failures -= 1
            raise TransportError("provider down", status_code=503)
        return SendResult(provider_message_id="msg-1")


def test_a_payer_who_pays_while_the_batch_is_being_sent_gets_no_reminder(
    merchant, email_template, monkeypatch, settings
):
    # One at a time: with a pool the second row is re-read as it enters the pool, while
    # the first send may still be in flight (test_dispatch_pool.py covers the pool).
    settings.DISPATCH_CONCURRENCY = 1
    payment_request = make_request(
        merchant,
        scenario=make_scenario(merchant, [step("request_created", email_template)]),
        total_amount=2000,
        participants=participants(2, amount=1000),
    )
    first, second = payment_request.participants.all()
    sent = []

    class PaysMidBatch(Transport):
        def send(self, message):
            sent.append(message.to)
            if len(sent) == 1:  # while the first reminder goes out, the second payer pays
                request_services.participant_record_payment(participant=second, amount=1000)
            return SendResult()

    monkeypatch.setattr(dispatcher, "transport_for", lambda channel, **_: PaysMidBatch())
    ids = claim_due(batch_size=10, worker_id="w")
    assert len(ids) == 2

    send_claimed(ids, worker_id="w")

    assert sent == [first.email]
    row = Dispatch.objects.get(participant=second)
    assert (row.status, row.skip_reason) == ("skipped", "already_paid")


def test_every_try_leaves_a_delivery_attempt_row(merchant, email_template, monkeypatch):
    monkeypatch.setattr(dispatcher, "transport_for", lambda channel, **_: transport)
    transport = Flaky(failures=2)
    make_request(
        merchant,
        scenario=make_scenario(merchant, [step("request_created", email_template)]),
        total_amount=1000,
        participants=participants(1, amount=1000),
    )
    with time_machine.travel(timezone.now(), tick=False) as clock:
        while Dispatch.objects.get().status == "planned":
            dispatch_due(worker_id="w")
            clock.shift(3600 * 3)

    attempts = list(DeliveryAttempt.objects.values_list("number", "outcome", "status_code"))
    assert attempts == [(1, "retry", 503), (2, "retry", 503), (3, "sent", None)]
    assert DeliveryAttempt.objects.filter(outcome="sent").get().provider_message_id == "msg-1"
    assert DeliveryAttempt.objects.exclude(outcome="sent").first().error == "provider down"


def test_a_webhook_attempt_keeps_the_receivers_status_code(merchant, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    with stub_server([(500, {}), (200, {})]) as stub:
        endpoint = services.webhook_endpoint_create(merchant=merchant, url=f"{stub.url}/hooks")
        make_request(
            merchant,
            scenario=make_scenario(
                merchant,
                [
                    step(
                        "request_created",
                        None,
                        audience="merchant",
                        webhook_endpoint=endpoint.public_id,
                    )
                ],
            ),
        )
        with time_machine.travel(timezone.now(), tick=False) as clock:
            dispatch_due(worker_id="w")
            clock.shift(120)
            dispatch_due(worker_id="w")

    codes = list(DeliveryAttempt.objects.values_list("outcome", "status_code"))
    assert codes == [("retry", 500), ("sent", 200)]
    assert all(a.duration_ms >= 0 for a in DeliveryAttempt.objects.all())


@pytest.fixture
def notice_kind():
    """Another producer's kind: a message tied to no request, step or participant."""
    checked = []

    def prepare(row):
        checked.append(row.pk)
        return ""

    def build(row):
        return OutgoingMessage(
            message_id=row.public_id, merchant_id=row.merchant_id, to=row.recipient, text="Hi"
        )

    outbox_kind_register(OutboxKind(name="test_notice", prepare=prepare, build=build))
    yield checked
    _kinds.pop("test_notice")


def _notice(merchant, kind="test_notice"):
    now = timezone.now()
    return Dispatch.objects.create(
        merchant=merchant,
        kind=kind,
        channel="sms",
        recipient="+33612345678",
        due_at=now,
        next_attempt_at=now,
        dedupe_key=f"{kind}:1",
    )


def test_any_registered_kind_goes_through_the_same_dispatcher(merchant, notice_kind, settings):
    settings.SMS_BACKEND = "outbox"
    row = _notice(merchant)

    assert dispatch_due(worker_id="w") == 1

    row.refresh_from_db()
    assert row.status == "sent" and notice_kind == [row.pk]
    assert (row.request_id, row.step_id, row.participant_id) == (None, None, None)
    assert DeliveryAttempt.objects.get(dispatch=row).outcome == "sent"


def test_a_row_of_a_kind_no_app_registers_fails_at_once(merchant):
    row = _notice(merchant, kind="retired_kind")

    dispatch_due(worker_id="w")

    row.refresh_from_db()
    assert row.status == "failed" and "retired_kind" in row.last_error


def test_a_registered_kind_name_cannot_be_taken_by_another_producer(notice_kind):
    with pytest.raises(ValueError):
        outbox_kind_register(OutboxKind(name="test_notice", prepare=print, build=print))


@pytest.mark.django_db(transaction=True)
def test_moving_the_outbox_to_notifications_keeps_every_row():
    before = [("scenarios", "0002_livemode"), ("notifications", "0001_initial")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    merchant = old.get_model("merchants", "Merchant").objects.create(name="Old", slug="old")
    old.get_model("scenarios", "OutboxMessage").objects.create(
        merchant=merchant, channel="sms", to="+33612345678", text="kept"
    )
    old.get_model("scenarios", "WebhookEndpoint").objects.create(
        merchant=merchant, url="https://hooks.example.com", secret="whsec_x"
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    new = executor.loader.project_state(executor.loader.graph.leaf_nodes()).apps

    assert new.get_model("notifications", "OutboxMessage").objects.get().text == "kept"
    endpoint = new.get_model("notifications", "WebhookEndpoint").objects.get()
    assert endpoint.url == "https://hooks.example.com"


def test_a_receipt_is_an_outbox_row_planned_with_the_booking_once_per_checkout(merchant, tokenise):
    from payments.models import Checkout
    from payments.outbox import receipt_plan
    from payments.services import checkout_start
    from scenarios.models import OutboxMessage
    from tests.payments.conftest import SUCCEEDS

    payment_request = make_request(
        merchant, total_amount=1000, participants=participants(1, amount=1000)
    )
    checkout = checkout_start(
        participant=payment_request.participants.get(), method="card", source=tokenise(SUCCEEDS)
    )
    row = Dispatch.objects.get(kind="receipt")
    assert (row.source_id, row.recipient, row.livemode) == (
        checkout.public_id,
        "payer0@example.com",
        False,
    )
    assert receipt_plan(checkout=Checkout.objects.get(pk=checkout.pk)) is False  # once only

    dispatch_due(worker_id="w")

    row.refresh_from_db()
    assert row.status == "sent"
    kept = OutboxMessage.objects.get(dispatch_public_id=row.public_id)
    assert "€10.00" in kept.text and checkout.public_id in kept.text
    assert kept.merchant_id == merchant.pk


def test_a_receipt_for_a_checkout_no_longer_paid_is_skipped(merchant, tokenise):
    from payments.models import Checkout
    from payments.services import checkout_start
    from tests.payments.conftest import SUCCEEDS

    payment_request = make_request(
        merchant, total_amount=1000, participants=participants(1, amount=1000)
    )
    checkout = checkout_start(
        participant=payment_request.participants.get(), method="card", source=tokenise(SUCCEEDS)
    )
    Checkout.objects.filter(pk=checkout.pk).update(status="refunded")

    dispatch_due(worker_id="w")

    row = Dispatch.objects.get(kind="receipt")
    assert (row.status, row.skip_reason) == ("skipped", "not_paid")
