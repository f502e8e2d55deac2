from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from notifications import dispatcher
from notifications.channels import SendResult, Transport, TransportError
from notifications.dispatcher import claim_due, dispatch_due, send_claimed
from requests_app import services as request_services
from requests_app.models import PaymentRequest
from scenarios import services
from scenarios.models import Dispatch, OutboxMessage
from tests.factories import make_request, participants
from tests.scenarios.helpers import make_scenario, step

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("outbox")


class FlakyTransport(Transport):
    """Fails the first ``failures`` sends, then accepts."""

    def __init__(self, failures: int, permanent: bool = False):
        self.failures = failures
        self.permanent = permanent
        self.sent = []

    def send(self, message):
        if self.failures:
            self.failures -= 1
            raise TransportError("provider down", permanent=self.permanent)
        self.sent.append(message)
        return SendResult(provider_message_id=f"id-{len(self.sent)}")


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def one_due(merchant, email_template, clock):
    scenario = make_scenario(merchant, [step("request_created", email_template)])
    payment_request = make_request(
        merchant, total_amount=1000, participants=participants(1, amount=1000)
    )
    services.dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)
    return Dispatch.objects.get()


def use(monkeypatch, transport):
    monkeypatch.setattr(dispatcher, "transport_for", lambda channel, **_: transport)


def test_transient_errors_retry_with_growing_backoff_then_fail(monkeypatch, one_due, clock):
    use(monkeypatch, FlakyTransport(failures=99))
    waits = []
    for attempt in range(1, 6):
        assert dispatch_due(worker_id="w") == 1
        row = Dispatch.objects.get()
        assert row.attempts == attempt
        if attempt < 5:
            assert row.status == "planned" and row.last_error == "provider down"
            waits.append(row.next_attempt_at - dispatcher.timezone.now())
            assert dispatch_due(worker_id="w") == 0  # not before the backoff
            clock.move_to(row.next_attempt_at)
    assert waits == [timedelta(seconds=s) for s in (60, 300, 1500, 7500)]
    row = Dispatch.objects.get()
    assert row.status == "failed" and row.attempts == 5


def test_webhooks_are_retried_for_about_three_days(monkeypatch, merchant, clock):
    endpoint = services.webhook_endpoint_create(
        merchant=merchant, url="https://hooks.example.com/pay"
    )
    scenario = make_scenario(
        merchant,
        [
            {
                "trigger": "request_created",
                "offset": 0,
                "audience": "merchant",
                "channel": "webhook",
                "webhook_endpoint": endpoint.public_id,
            }
        ],
    )
    payment_request = make_request(merchant)
    services.dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)
    use(monkeypatch, FlakyTransport(failures=99))
    first_try = dispatcher.timezone.now()
    attempts = 0
    while Dispatch.objects.get().status == "planned":
        assert dispatch_due(worker_id="w") == 1
        attempts += 1
        row = Dispatch.objects.get()
        if row.status == "planned":
            clock.move_to(row.next_attempt_at)
    row = Dispatch.objects.get()
    assert (row.status, attempts) == ("failed", 9)
    span = dispatcher.timezone.now() - first_try
    assert timedelta(days=2, hours=12) < span < timedelta(days=3, hours=12)


def test_a_retry_that_succeeds_is_sent_once(monkeypatch, one_due, clock):
    transport = FlakyTransport(failures=1)
    use(monkeypatch, transport)
    dispatch_due(worker_id="w")
    clock.shift(timedelta(minutes=1))
    dispatch_due(worker_id="w")
    row = Dispatch.objects.get()
    assert (row.status, row.attempts, row.provider_message_id) == ("sent", 2, "id-1")
    assert len(transport.sent) == 1


def test_a_permanent_error_fails_at_once(monkeypatch, one_due):
    use(monkeypatch, FlakyTransport(failures=1, permanent=True))
    dispatch_due(worker_id="w")
    row = Dispatch.objects.get()
    assert (row.status, row.attempts) == ("failed", 1)


def test_rows_of_a_killed_worker_are_claimed_again_after_the_lease(one_due, clock):
    # Given a worker that claimed the row and died before sending
    assert claim_due(batch_size=10, worker_id="dead") == [one_due.pk]
    assert dispatch_due(worker_id="alive") == 0  # leased: nobody else takes it
    # When the lease expires
    clock.shift(dispatcher.lease_duration() + timedelta(seconds=1))
    assert dispatch_due(worker_id="alive") == 1
    # Then it is sent once, and the dead worker can no longer record anything
    row = Dispatch.objects.get()
    assert (row.status, row.attempts, row.leased_by) == ("sent", 2, "alive")
    send_claimed([one_due.pk], worker_id="dead")
    assert OutboxMessage.objects.count() == 1


def test_a_worker_that_lost_its_lease_cannot_overwrite_the_outcome(one_due, clock):
    claim_due(batch_size=10, worker_id="slow")
    clock.shift(dispatcher.lease_duration() + timedelta(seconds=1))
    dispatch_due(worker_id="fast")
    row = Dispatch.objects.select_related("step", "step__scenario", "request").get()
    row.leased_by = "slow"
    assert not dispatcher._finish(row, "slow", Dispatch.Status.FAILED, last_error="late")
    assert Dispatch.objects.get().status == "sent"


def test_a_row_that_keeps_killing_workers_fails(one_due, clock):
    for _ in range(dispatcher.MAX_ATTEMPTS):
        claim_due(batch_size=10, worker_id="dead")
        clock.shift(dispatcher.lease_duration() + timedelta(seconds=1))
    dispatch_due(worker_id="w")
    row = Dispatch.objects.get()
    assert (row.status, row.last_error) == ("failed", "too many attempts")
    assert OutboxMessage.objects.count() == 0


def test_a_paused_scenario_skips_what_falls_due(one_due):
    services.scenario_pause(scenario=one_due.step.scenario)
    dispatch_due(worker_id="w")
    assert Dispatch.objects.get().skip_reason == "paused"


def test_a_cancelled_request_skips_even_without_the_cancel_hook(one_due):
    # A status change by a path that forgot the cancel hook: the re-check still catches it.
    PaymentRequest.objects.filter(pk=one_due.request_id).update(status="cancelled")
    dispatch_due(worker_id="w")
    row = Dispatch.objects.get()
    assert (row.status, row.skip_reason) == ("skipped", "request_cancelled")


def test_an_expired_request_skips(one_due):
    request_services.payment_request_expire(payment_request=one_due.request)
    dispatch_due(worker_id="w")
    assert Dispatch.objects.get().skip_reason == "request_expired"


def test_a_broken_row_does_not_stop_the_batch(monkeypatch, merchant, email_template, clock):
    scenario = make_scenario(merchant, [step("request_created", email_template)])
    payment_request = make_request(merchant)
    services.dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)
    calls = []

    def explode_once(message):
        calls.append(message)
        if len(calls) == 1:
            raise RuntimeError("bug")
        return SendResult()

    monkeypatch.setattr(
        dispatcher,
        "transport_for",
        lambda channel, **_: type("T", (Transport,), {"send": staticmethod(explode_once)})(),
    )
    dispatch_due(worker_id="w")
    assert sorted(Dispatch.objects.values_list("status", flat=True)) == [
        "sending",
        "sent",
        "sent",
    ]


def test_rows_a_slow_worker_cannot_reach_within_its_lease_are_given_back(
    monkeypatch, settings, merchant, email_template, clock
):
    settings.DISPATCH_CONCURRENCY = 1  # one by one; the pool's case: test_dispatch_pool.py
    scenario = make_scenario(merchant, [step("request_created", email_template)])
    payment_request = make_request(merchant)
    services.dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)

    class Slow(Transport):
        def send(self, message):
            clock.shift(dispatcher.lease_duration() * 0.5)  # each send eats half the lease
            return SendResult()

    use(monkeypatch, Slow())
    assert dispatch_due(worker_id="w") == 3
    rows = sorted(Dispatch.objects.values_list("status", "attempts", "leased_by"))
    assert rows == [("planned", 0, ""), ("sent", 1, "w"), ("sent", 1, "w")]
