"""Concurrent sends within one dispatcher (DISPATCH_CONCURRENCY), rate limits, 429 backoff."""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import dispatcher
from notifications.channels import SendResult, Transport, TransportError
from notifications.models import DeliveryAttempt
from notifications.ratelimit import RateLimiter, reset_rate_limiter
from scenarios import services
from scenarios.models import Dispatch
from tests.factories import make_request, participants
from tests.scenarios.helpers import make_scenario, step

pytestmark = pytest.mark.usefixtures("outbox")


@pytest.fixture(autouse=True)
def fresh_limiter():
    reset_rate_limiter()
    yield
    reset_rate_limiter()


def plan(merchant, template, count: int) -> list[Dispatch]:
    scenario = make_scenario(merchant, [step("request_created", template)])
    payment_request = make_request(
        merchant, total_amount=1000 * count, participants=participants(count, amount=1000)
    )
    services.dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)
    return list(Dispatch.objects.filter(request=payment_request))


class RecordingStub(Transport):
    """A provider answering in ``delay`` seconds that counts the sends in flight at once.
    With ``gate`` it holds every send until ``gate`` are in flight together (or 5 s pass), so
    the overlap it records does not depend on how fast the machine prepares messages."""

    def __init__(self, delay: float = 0.1, gate: int = 0, fail=None):
        self.delay = delay
        self.gate = gate
        self.fail = fail
        self.lock = threading.Lock()
        self.opened = threading.Event()
        self.in_flight = 0
        self.peak = 0
        self.sent: list[str] = []
        self.threads: set[str] = set()

    def send(self, message):
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.threads.add(threading.current_thread().name)
            if self.gate and self.in_flight >= self.gate:
                self.opened.set()
        try:
            if self.gate:
                self.opened.wait(timeout=5)
            time.sleep(self.delay)
            if self.fail is not None:
                raise self.fail(message)
            with self.lock:
                self.sent.append(message.message_id)
            return SendResult(provider_message_id=f"p-{message.message_id}")
        finally:
            with self.lock:
                self.in_flight -= 1


def use(monkeypatch, transport):
    monkeypatch.setattr(dispatcher, "transport_for", lambda channel, **_: transport)


def test_sends_overlap_up_to_the_concurrency_and_each_goes_once(
    monkeypatch, settings, merchant, email_template
):
    settings.DISPATCH_CONCURRENCY = 25
    plan(merchant, email_template, 50)
    stub = RecordingStub(delay=0.1, gate=25)
    use(monkeypatch, stub)

    assert dispatcher.dispatch_due(batch_size=100, worker_id="w") == 50

    assert stub.peak == 25  # 25 at once, never more
    assert len(stub.sent) == len(set(stub.sent)) == 50
    assert threading.main_thread().name not in stub.threads
    rows = Dispatch.objects.all()
    assert {(r.status, r.attempts, r.leased_by) for r in rows} == {("sent", 1, "w")}
    assert {r.provider_message_id for r in rows} == {f"p-{r.public_id}" for r in rows}
    assert all(r.lease_until is None and r.sent_at and r.subject for r in rows)
    attempts = DeliveryAttempt.objects.filter(outcome="sent")
    assert attempts.count() == 50
    assert all(a.duration_ms >= 100 for a in attempts)


def test_concurrency_one_sends_one_at_a_time_on_the_worker_thread(
    monkeypatch, settings, merchant, email_template
):
    settings.DISPATCH_CONCURRENCY = 1
    plan(merchant, email_template, 5)
    stub = RecordingStub(delay=0.01)
    use(monkeypatch, stub)

    assert dispatcher.dispatch_due(worker_id="w") == 5

    assert stub.peak == 1
    assert stub.threads == {threading.current_thread().name}
    assert set(Dispatch.objects.values_list("status", flat=True)) == {"sent"}


def test_a_result_whose_lease_was_lost_mid_send_is_not_recorded(
    monkeypatch, settings, merchant, email_template
):
    settings.DISPATCH_CONCURRENCY = 8
    first, *_ = rows = plan(merchant, email_template, 3)
    use(monkeypatch, RecordingStub(delay=0.01))
    prepare = dispatcher._prepare
    calls = []

    def prepare_then_lose_the_first(row, worker_id):
        ready = prepare(row, worker_id)
        calls.append(row.pk)
        if len(calls) == len(rows):
            # While the first send is in flight its lease ran out and another worker took it.
            Dispatch.objects.filter(pk=first.pk).update(leased_by="other", attempts=2)
        return ready

    monkeypatch.setattr(dispatcher, "_prepare", prepare_then_lose_the_first)
    ids = dispatcher.claim_due(batch_size=10, worker_id="slow")
    outcomes = dispatcher.send_claimed(ids, worker_id="slow")

    assert outcomes == {"sent": 2, "lease_lost": 1}
    first.refresh_from_db()
    assert (first.status, first.leased_by, first.attempts, first.sent_at) == (
        "sending",
        "other",
        2,
        None,
    )
    assert Dispatch.objects.filter(status="sent", leased_by="slow").count() == 2


def test_rows_not_started_within_the_lease_are_given_back(
    monkeypatch, settings, merchant, email_template
):
    settings.DISPATCH_CONCURRENCY = 2
    plan(merchant, email_template, 3)
    clock = {"shift": timedelta(0)}
    lock = threading.Lock()
    real_now = timezone.now

    both_started = threading.Barrier(2, timeout=5)

    class LeaseEater(Transport):
        def send(self, message):
            both_started.wait()  # the first two are in flight before either ends
            with lock:
                clock["shift"] += dispatcher.lease_duration()  # each send eats a whole lease
            return SendResult()

    monkeypatch.setattr(dispatcher.timezone, "now", lambda: real_now() + clock["shift"])
    use(monkeypatch, LeaseEater())
    outcomes = dispatcher.dispatch_due(worker_id="w")

    assert outcomes == 3
    rows = sorted(Dispatch.objects.values_list("status", "attempts", "leased_by"))
    assert rows == [("planned", 0, ""), ("sent", 1, "w"), ("sent", 1, "w")]


def test_a_transport_bug_strands_only_its_row(monkeypatch, settings, merchant, email_template):
    settings.DISPATCH_CONCURRENCY = 4
    plan(merchant, email_template, 4)
    stub = RecordingStub(delay=0.0)
    original = stub.send

    def explode_on_one(message):
        if message.to == "payer0@example.com":
            raise RuntimeError("bug")
        return original(message)

    stub.send = explode_on_one
    use(monkeypatch, stub)
    dispatcher.dispatch_due(worker_id="w")
    assert sorted(Dispatch.objects.values_list("status", flat=True)) == ["sending"] + ["sent"] * 3


def test_transient_errors_from_the_pool_retry_as_one_by_one(
    monkeypatch, settings, merchant, email_template
):
    settings.DISPATCH_CONCURRENCY = 4
    plan(merchant, email_template, 3)
    use(monkeypatch, RecordingStub(delay=0.0, fail=lambda m: TransportError("provider down")))
    before = timezone.now()
    dispatcher.dispatch_due(worker_id="w")
    rows = list(Dispatch.objects.all())
    assert {(r.status, r.attempts, r.last_error) for r in rows} == {("planned", 1, "provider down")}
    assert all(r.next_attempt_at >= before + timedelta(seconds=60) for r in rows)
    assert DeliveryAttempt.objects.filter(outcome="retry").count() == 3


# --- rate limits -----------------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_token_bucket_holds_sends_to_the_channel_rate():
    clock = FakeClock()
    limiter = RateLimiter(
        channel_rates={"email": 10.0}, merchant_rates={}, clock=clock, sleep=clock.sleep
    )
    for _ in range(30):
        assert limiter.acquire("email", 1, max_wait=5) == 0
    # A one-second burst of 10, then one every 0.1 s: 20 more took 2 s of waiting.
    assert sum(clock.slept) == pytest.approx(2.0)
    assert clock.now - 1000.0 == pytest.approx(2.0)


def test_each_merchant_has_its_own_bucket_within_the_channel():
    clock = FakeClock()
    limiter = RateLimiter(
        channel_rates={"sms": 100.0}, merchant_rates={"sms": 1.0}, clock=clock, sleep=clock.sleep
    )
    assert limiter.acquire("sms", 1, max_wait=0) == 0
    assert limiter.acquire("sms", 1, max_wait=0) == pytest.approx(1.0)  # merchant 1 waits
    assert limiter.acquire("sms", 2, max_wait=0) == 0  # merchant 2 does not
    assert limiter.acquire("email", 1, max_wait=0) == 0  # nor another channel


def test_a_429_pauses_the_channel_for_everyone():
    clock = FakeClock()
    limiter = RateLimiter(channel_rates={}, merchant_rates={}, clock=clock, sleep=clock.sleep)
    limiter.pause("email", 30)
    assert limiter.acquire("email", 1, max_wait=0) == pytest.approx(30)
    assert limiter.acquire("sms", 1, max_wait=0) == 0
    clock.now += 30
    assert limiter.acquire("email", 2, max_wait=0) == 0


def test_sends_over_the_merchant_rate_go_back_to_planned_uncounted(
    monkeypatch, settings, merchant, other_merchant, email_template
):
    from notifications import services as template_services

    settings.DISPATCH_CONCURRENCY = 8
    settings.DISPATCH_MERCHANT_RATE_LIMITS = {"email": 0.01}  # one now, the next in 100 s
    settings.DISPATCH_RATE_MAX_WAIT_SECONDS = 0.5
    plan(merchant, email_template, 3)
    other_template = template_services.template_create(
        merchant=other_merchant,
        name="N",
        channel="email",
        subject={"en": "x"},
        body_text={"en": "y"},
    )
    plan(other_merchant, other_template, 1)
    stub = RecordingStub(delay=0.0)
    use(monkeypatch, stub)
    before = timezone.now()

    dispatcher.dispatch_due(worker_id="w")

    assert len(stub.sent) == 2  # one for each merchant
    mine = Dispatch.objects.filter(merchant=merchant)
    assert sorted(mine.values_list("status", "attempts")) == [
        ("planned", 0),
        ("planned", 0),
        ("sent", 1),
    ]
    held = mine.filter(status="planned")
    assert all(r.next_attempt_at > before + timedelta(seconds=50) for r in held)
    assert all(r.last_error == "rate limit" and r.leased_by == "" for r in held)
    assert Dispatch.objects.get(merchant=other_merchant).status == "sent"
    assert not DeliveryAttempt.objects.filter(outcome__in=["retry", "failed"]).exists()


@pytest.mark.parametrize("concurrency", [1, 8])
def test_a_provider_429_backs_off_without_counting_a_failure(
    monkeypatch, settings, merchant, email_template, concurrency
):
    settings.DISPATCH_CONCURRENCY = concurrency
    settings.DISPATCH_RATE_MAX_WAIT_SECONDS = 0.5
    plan(merchant, email_template, 3)
    stub = RecordingStub(
        delay=0.0,
        fail=lambda m: TransportError("slow down", status_code=429, retry_after=120),
    )
    use(monkeypatch, stub)
    before = timezone.now()

    for _ in range(dispatcher.MAX_ATTEMPTS + 2):  # a provider saying 429 again and again
        Dispatch.objects.filter(status="planned").update(next_attempt_at=timezone.now())
        reset_rate_limiter()
        dispatcher.dispatch_due(worker_id="w")

    rows = list(Dispatch.objects.all())
    assert {(r.status, r.attempts, r.leased_by) for r in rows} == {("planned", 0, "")}
    assert all(r.next_attempt_at >= before + timedelta(seconds=119) for r in rows)
    retries = DeliveryAttempt.objects.filter(outcome="retry", status_code=429)
    assert retries.exists()
    assert not DeliveryAttempt.objects.filter(outcome="failed").exists()
    if concurrency == 1:
        # The first 429 paused the channel: the rest of the batch was not even tried.
        assert retries.count() == dispatcher.MAX_ATTEMPTS + 2


def test_a_429_without_retry_after_waits_the_configured_backoff(
    monkeypatch, settings, merchant, email_template
):
    settings.DISPATCH_CONCURRENCY = 1
    settings.DISPATCH_RATE_LIMITED_BACKOFF_SECONDS = 45
    plan(merchant, email_template, 1)
    use(monkeypatch, RecordingStub(delay=0.0, fail=lambda m: TransportError("x", status_code=429)))
    before = timezone.now()
    dispatcher.dispatch_due(worker_id="w")
    row = Dispatch.objects.get()
    assert (row.status, row.attempts) == ("planned", 0)
    assert before + timedelta(seconds=44) <= row.next_attempt_at <= before + timedelta(seconds=50)


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [({"Retry-After": "7"}, 7.0), ({"Retry-After": "Wed, 21 Oct 2015"}, None), ({}, None)],
)
def test_an_esp_429_is_rate_limited_with_its_retry_after(headers, retry_after):
    from types import SimpleNamespace

    from anymail.exceptions import AnymailAPIError

    from notifications.channels.email import _classify

    response = SimpleNamespace(status_code=429, headers=headers, text="", reason="Too Many")
    error = _classify(AnymailAPIError("slow down", status_code=429, response=response))
    assert (error.rate_limited, error.permanent, error.retry_after) == (True, False, retry_after)
    response.status_code = 500
    assert not _classify(AnymailAPIError("x", status_code=500, response=response)).rate_limited


def _reads_of(captured, table: str) -> int:
    return sum(f'FROM "{table}"' in q["sql"] for q in captured.captured_queries)


def test_the_re_check_reads_a_chunk_of_rows_at_once(
    monkeypatch, settings, merchant, email_template
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.DISPATCH_CONCURRENCY = 8
    plan(merchant, email_template, 40)
    use(monkeypatch, RecordingStub(delay=0.0))

    with CaptureQueriesContext(connection) as captured:
        assert dispatcher.dispatch_due(batch_size=100, worker_id="w") == 40

    # Five chunks of eight: five reads of who is on a plan, not forty; five of the payers as
    # they are now, and of their request (plus the batch's own read of it).
    assert _reads_of(captured, "payments_installmentplan") == 5
    assert _reads_of(captured, "requests_app_participant") == 5
    assert _reads_of(captured, "requests_app_paymentrequest") == 1 + 5


def test_a_payment_made_before_its_chunk_is_read_still_skips_the_reminder(
    monkeypatch, settings, merchant, email_template
):
    from requests_app.models import Participant

    settings.DISPATCH_CONCURRENCY = 4
    rows = plan(merchant, email_template, 6)
    stub = RecordingStub(delay=0.0)
    use(monkeypatch, stub)
    read_chunk = dispatcher._prepare_chunk
    payer = rows[5].participant

    def pay_then_read(chunk):
        # The payer pays after the batch was claimed, just before their chunk is re-read.
        if any(r.pk == rows[5].pk for r in chunk):
            Participant.objects.filter(pk=payer.pk).update(status="paid", amount_paid=1000)
        read_chunk(chunk)

    monkeypatch.setattr(dispatcher, "_prepare_chunk", pay_then_read)
    dispatcher.dispatch_due(batch_size=100, worker_id="w")

    skipped = Dispatch.objects.get(pk=rows[5].pk)
    assert (skipped.status, skipped.skip_reason) == ("skipped", "already_paid")
    assert len(stub.sent) == 5


def test_a_failed_chunk_read_falls_back_to_reading_row_by_row(
    monkeypatch, settings, merchant, email_template
):
    from dataclasses import replace

    from notifications import kinds

    settings.DISPATCH_CONCURRENCY = 4
    plan(merchant, email_template, 6)
    stub = RecordingStub(delay=0.0)
    use(monkeypatch, stub)

    def broken(rows):
        raise RuntimeError("database hiccup")

    kind = kinds.outbox_kind_get("scenario_step")
    monkeypatch.setitem(kinds._kinds, "scenario_step", replace(kind, prepare_many=broken))
    assert dispatcher.dispatch_due(batch_size=100, worker_id="w") == 6
    assert len(stub.sent) == 6


# --- the dispatcher thread's own cost per row --------------------------------------------------


def test_a_batch_reads_its_step_template_and_merchant_once_and_shares_them(
    monkeypatch, settings, merchant, email_template
):
    from dataclasses import replace

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from notifications import kinds

    settings.DISPATCH_CONCURRENCY = 8
    plan(merchant, email_template, 40)
    use(monkeypatch, RecordingStub(delay=0.0))
    kind = kinds.outbox_kind_get("scenario_step")
    built = []

    def build(dispatch):
        built.append(dispatch)
        return kind.build(dispatch)

    monkeypatch.setitem(kinds._kinds, "scenario_step", replace(kind, build=build))
    with CaptureQueriesContext(connection) as captured:
        assert dispatcher.dispatch_due(batch_size=100, worker_id="w") == 40

    assert len(built) == 40
    # One copy of each for the whole batch, not one per row (building those, and decoding
    # the template's JSON forty times, was most of the batch's read).
    assert len({id(d.step.template) for d in built}) == 1
    assert len({id(d.step) for d in built}) == 1
    assert len({id(d.request.merchant) for d in built}) == 1
    template_reads = [
        q for q in captured.captured_queries if '"notifications_messagetemplate"' in q["sql"]
    ]
    assert len(template_reads) == 1
    assert set(Dispatch.objects.values_list("status", flat=True)) == {"sent"}


def test_the_pool_stays_full_from_one_batch_to_the_next(
    monkeypatch, settings, merchant, email_template
):
    settings.DISPATCH_CONCURRENCY = 8
    plan(merchant, email_template, 20)
    # Every send waits until eight are in flight: batches of five reach eight only if the
    # next batch is claimed and started while the previous one's sends are still out.
    stub = RecordingStub(delay=0.0, gate=8)
    use(monkeypatch, stub)

    assert dispatcher.dispatch_until_empty(batch_size=5, worker_id="w") == 20

    assert stub.peak == 8
    assert len(stub.sent) == len(set(stub.sent)) == 20
    rows = Dispatch.objects.all()
    assert {(r.status, r.attempts, r.leased_by) for r in rows} == {("sent", 1, "w")}
    assert {r.provider_message_id for r in rows} == {f"p-{r.public_id}" for r in rows}
    assert DeliveryAttempt.objects.filter(outcome="sent").count() == 20


def test_sends_in_flight_are_recorded_when_the_next_claim_fails(
    monkeypatch, settings, merchant, email_template
):
    settings.DISPATCH_CONCURRENCY = 8
    plan(merchant, email_template, 6)
    use(monkeypatch, RecordingStub(delay=0.05))
    claim = dispatcher.claim_due
    calls = []

    def claim_then_fail(**kwargs):
        calls.append(kwargs)
        if len(calls) > 1:
            raise RuntimeError("database went away")
        return claim(**kwargs)

    monkeypatch.setattr(dispatcher, "claim_due", claim_then_fail)
    with pytest.raises(RuntimeError):
        dispatcher.dispatch_until_empty(batch_size=3, worker_id="w")

    # The first batch's sends were in flight when the second claim failed: recorded, not
    # left to the lease (whose expiry would send them again).
    statuses = sorted(Dispatch.objects.values_list("status", flat=True))
    assert statuses == ["planned"] * 3 + ["sent"] * 3
    assert DeliveryAttempt.objects.filter(outcome="sent").count() == 3


def test_sent_rows_are_written_with_what_was_sent(monkeypatch, settings, merchant, email_template):
    import re

    settings.DISPATCH_CONCURRENCY = 4
    rows = plan(merchant, email_template, 3)
    use(monkeypatch, RecordingStub(delay=0.0))
    before = timezone.now()
    dispatcher.dispatch_due(worker_id="w")

    for row in rows:
        row.refresh_from_db()
        assert (row.status, row.lease_until, row.last_error) == ("sent", None, "")
        assert row.subject == f"Pay {row.request.reference}"
        assert row.participant.name in row.body_text and row.participant.name in row.body_html
        assert row.provider_message_id == f"p-{row.public_id}"
        assert before <= row.sent_at == row.updated_at <= timezone.now()
    # The statement names the table and columns itself: they must be Dispatch's.
    named = set(re.findall(r'"(\w+)"', dispatcher._MARK_SENT))
    assert Dispatch._meta.db_table in named
    assert named - {Dispatch._meta.db_table} <= {f.column for f in Dispatch._meta.concrete_fields}


def _wrap_build(monkeypatch, build):
    from dataclasses import replace

    from notifications import kinds

    kind = kinds.outbox_kind_get("scenario_step")
    monkeypatch.setitem(
        kinds._kinds, "scenario_step", replace(kind, build=lambda d: build(kind.build, d))
    )


def test_a_template_failing_with_the_pool_fails_its_row_only(
    monkeypatch, settings, merchant, email_template
):
    from pushpay.errors import InvalidInput

    settings.DISPATCH_CONCURRENCY = 4
    rows = plan(merchant, email_template, 4)
    stub = RecordingStub(delay=0.0)
    use(monkeypatch, stub)

    def build(original, dispatch):
        if dispatch.pk == rows[0].pk:
            raise InvalidInput("bad value", code="template_render_error")
        return original(dispatch)

    _wrap_build(monkeypatch, build)
    outcomes = dispatcher.send_claimed(
        dispatcher.claim_due(batch_size=10, worker_id="w"), worker_id="w"
    )

    assert outcomes == {"sent": 3, "failed": 1}
    failed = Dispatch.objects.get(pk=rows[0].pk)
    assert (failed.status, failed.last_error, failed.lease_until) == (
        "failed",
        "template: bad value",
        None,
    )
    assert rows[0].public_id not in stub.sent and len(stub.sent) == 3
    assert not DeliveryAttempt.objects.filter(dispatch=failed).exists()


def test_a_campaign_formats_each_amount_once(monkeypatch, settings, merchant, email_template):
    from notifications import rendering

    settings.DISPATCH_CONCURRENCY = 8
    plan(merchant, email_template, 20)  # twenty payers owing the same 10.00 €
    use(monkeypatch, RecordingStub(delay=0.0))
    cached = getattr(rendering, "_money_text", None)
    if cached is not None:
        cached.cache_clear()
    formatted = []
    real = rendering.format_money

    def counting(*args):
        formatted.append(args)
        return real(*args)

    monkeypatch.setattr(rendering, "format_money", counting)
    assert dispatcher.dispatch_due(batch_size=100, worker_id="w") == 20

    assert len(formatted) == 1
    assert all("10.00" in row.body_text for row in Dispatch.objects.all())
