from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from requests_app import services as request_services
from requests_app.events import event_record
from requests_app.models import RequestEvent
from scenarios import services
from scenarios.models import Dispatch
from tests.factories import make_request, participants
from tests.scenarios.helpers import acceptance_steps, make_scenario, statuses, step

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(days=10)

pytestmark = pytest.mark.usefixtures("outbox")


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def plan(merchant, steps, **request_kwargs):
    scenario = make_scenario(merchant, steps)
    request_kwargs.setdefault("deadline", DEADLINE)
    request_kwargs.setdefault("expires_at", DEADLINE + timedelta(days=30))
    payment_request = make_request(merchant, **request_kwargs)
    written = services.dispatches_plan_for_request(
        payment_request=payment_request, scenario=scenario
    )
    return payment_request, written


def test_planning_twice_writes_nothing_new(merchant, email_template, clock):
    payment_request, written = plan(merchant, acceptance_steps(email_template))
    assert written == 15
    assert services.dispatches_plan_for_request(payment_request=payment_request) == 0
    assert services.dispatches_replan_for_request(payment_request=payment_request) == 0
    assert Dispatch.objects.filter(request=payment_request).count() == 15


def test_due_times_follow_the_deadline_and_the_repetitions(merchant, email_template, clock):
    payment_request, _ = plan(merchant, acceptance_steps(email_template))
    first = payment_request.participants.order_by("position").first()
    due = sorted(Dispatch.objects.filter(participant=first).values_list("due_at", flat=True))
    assert due == [
        T0,
        DEADLINE - timedelta(days=2),
        DEADLINE + timedelta(days=1),
        DEADLINE + timedelta(days=4),
        DEADLINE + timedelta(days=7),
    ]


def test_the_creation_notice_waits_for_send_at(merchant, email_template, clock):
    send_at = T0 + timedelta(days=1)
    _payment_request, _ = plan(merchant, acceptance_steps(email_template)[:1], send_at=send_at)
    assert set(Dispatch.objects.values_list("due_at", flat=True)) == {send_at}


@pytest.mark.parametrize("count", [1, 10, 100])
def test_planning_costs_the_same_number_of_queries_whatever_the_participants(
    merchant, email_template, clock, count
):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    payment_request = make_request(
        merchant,
        total_amount=1000 * count,
        participants=participants(count, amount=1000),
        deadline=DEADLINE,
        expires_at=DEADLINE + timedelta(days=30),
    )
    with CaptureQueriesContext(connection) as queries:
        written = services.dispatches_plan_for_request(
            payment_request=payment_request, scenario=scenario
        )
    assert written == 5 * count
    assert Dispatch.objects.filter(request=payment_request).count() == 5 * count
    # One statement writes every row, whatever their number (on SQLite one prepared
    # statement run once per row, logged as one query).
    assert len(queries) == 7
    assert len([q for q in queries if "scenarios_dispatch" in q["sql"]]) == 2  # read, write


@pytest.mark.parametrize("count", [1, 30])
def test_a_request_created_with_a_scenario_is_planned_without_reading_it_back(
    merchant, email_template, clock, count
):
    """The creation hands the planner the request and participants it just wrote: the
    planning part of a creation is the scenario, its steps, the binding and one insert."""
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    with CaptureQueriesContext(connection) as queries:
        payment_request = request_services.payment_request_create(
            merchant=merchant,
            reference=f"PLANNED-{count}",
            currency="EUR",
            total_amount=1000 * count,
            participants=participants(count, amount=1000),
            deadline=DEADLINE,
            expires_at=DEADLINE + timedelta(days=30),
            scenario=scenario.public_id,
        )
    assert Dispatch.objects.filter(request=payment_request).count() == 5 * count
    sql = [q["sql"] for q in queries]
    # no read of the request, its participants or its (not yet existing) outbox rows
    assert not [q for q in sql if q.startswith("SELECT") and "requests_app_participant" in q]
    assert not [q for q in sql if q.startswith("SELECT") and "requests_app_paymentrequest" in q]
    assert not [q for q in sql if q.startswith("SELECT") and "scenarios_dispatch" in q]
    assert not [q for q in sql if q.startswith("SELECT") and "scenarios_scenariobinding" in q]
    assert len([q for q in sql if "scenarios_dispatch" in q]) == 1


def test_a_moved_deadline_replans_only_the_reminders_that_changed(merchant, email_template, clock):
    payment_request, _ = plan(merchant, acceptance_steps(email_template))
    before = dict(Dispatch.objects.values_list("dedupe_key", "pk"))
    creation = Dispatch.objects.filter(step__trigger="request_created")
    kept = set(creation.values_list("pk", flat=True))

    new_deadline = DEADLINE + timedelta(days=5)
    request_services.payment_request_update(payment_request=payment_request, deadline=new_deadline)
    # the update replanned in its own transaction: a second replan finds nothing to do
    assert services.dispatches_replan_for_request(payment_request=payment_request) == 0
    moved = Dispatch.objects.filter(status="planned").exclude(step__trigger="request_created")
    assert moved.count() == 12  # 3 payers x (1 before + 3 after) at new times
    assert set(creation.filter(status="planned").values_list("pk", flat=True)) == kept
    cancelled = Dispatch.objects.filter(status="cancelled")
    assert cancelled.count() == 12
    assert set(cancelled.values_list("skip_reason", flat=True)) == {"rescheduled"}
    reminders = Dispatch.objects.filter(status="planned", step__trigger="before_deadline")
    assert set(reminders.values_list("due_at", flat=True)) == {new_deadline - timedelta(days=2)}

    # Moving it back plans the original slots again (their keys were freed)
    request_services.payment_request_update(payment_request=payment_request, deadline=DEADLINE)
    planned = dict(Dispatch.objects.filter(status="planned").values_list("dedupe_key", "pk"))
    assert set(planned) == set(before)


def test_cancelling_the_request_cancels_what_is_pending(merchant, email_template, clock):
    payment_request, _ = plan(merchant, acceptance_steps(email_template))
    request_services.payment_request_cancel(payment_request=payment_request)
    services.dispatches_cancel_for_request(
        payment_request=payment_request, reason="request_cancelled"
    )
    assert statuses(payment_request) == {"cancelled": 15}


def test_event_steps_go_to_the_participant_concerned(merchant, email_template, clock):
    steps = [
        step("participant_paid", email_template, audience="initiator"),
        step("payment_succeeded", email_template, audience="all_participants"),
        step("request_completed", email_template, audience="all_participants"),
    ]
    payment_request, written = plan(merchant, steps)
    assert written == 0
    ann, bob, _ = payment_request.participants.order_by("position")
    request_services.participant_record_payment(participant=bob, amount=1000)
    event = RequestEvent.objects.get(type="participant_paid")
    # recording the event planned its step in the same transaction; planning is idempotent
    assert services.dispatches_plan_for_event(event=event) == 0
    row = Dispatch.objects.get()
    assert row.participant == ann and row.event_id == event.pk

    succeeded = event_record(
        type="payment_succeeded", payment_request=payment_request, participant=bob
    )
    assert services.dispatches_plan_for_event(event=succeeded) == 0
    assert Dispatch.objects.filter(event_id=succeeded.pk).get().participant == bob


def test_quiet_hours_push_the_due_time_to_their_end(merchant, email_template, clock):
    # 09:00 UTC is 10:00 in Paris; a quiet window 08:00-11:00 Paris moves it to 11:00 Paris
    quiet = {"start": "08:00", "end": "11:00"}
    _payment_request, _ = plan(
        merchant, [step("request_created", email_template, quiet_hours=quiet)]
    )
    assert set(Dispatch.objects.values_list("due_at", flat=True)) == {
        datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    }


def test_quiet_hours_across_midnight(merchant, email_template):
    late = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)  # 22:30 in Paris
    with time_machine.travel(late, tick=False):
        quiet = {"start": "21:00", "end": "08:00"}
        plan(merchant, [step("request_created", email_template, quiet_hours=quiet)])
    assert set(Dispatch.objects.values_list("due_at", flat=True)) == {
        datetime(2026, 3, 3, 7, 0, tzinfo=UTC)  # 08:00 Paris the next morning
    }


def test_conditions_filter_recipients(merchant, email_template, clock):
    steps = [
        step("request_created", email_template, conditions={"language": "fr"}),
        step("before_deadline", email_template, offset=86400, conditions={"min_amount": 1500}),
    ]
    people = participants(2, amount=1000)
    people[0] = type(people[0])(name="Zoé", email="zoe@example.com", language="fr", amount=2000)
    payment_request, written = plan(merchant, steps, participants=people, total_amount=3000)
    rows = Dispatch.objects.filter(request=payment_request)
    assert written == 2
    assert set(rows.values_list("recipient", flat=True)) == {"zoe@example.com"}


def test_a_payer_without_an_address_for_the_channel_is_recorded_as_skipped(
    merchant, sms_template, clock
):
    payment_request, _written = plan(merchant, [step("request_created", sms_template)])
    assert statuses(payment_request) == {"skipped": 3}
    assert set(Dispatch.objects.values_list("skip_reason", flat=True)) == {"no_recipient"}


def test_a_request_without_scenario_plans_nothing(merchant, clock):
    payment_request = make_request(merchant)
    assert services.dispatches_plan_for_request(payment_request=payment_request) == 0


def _create_with(merchant, scenario, reference):
    return request_services.payment_request_create(
        merchant=merchant,
        reference=reference,
        currency="EUR",
        total_amount=2000,
        participants=participants(2, amount=1000),
        deadline=DEADLINE,
        expires_at=DEADLINE + timedelta(days=30),
        scenario=scenario.public_id,
    )


def test_a_scenario_with_only_event_steps_is_still_bound_at_creation(
    merchant, email_template, clock
):
    scenario = make_scenario(
        merchant, [step("payment_succeeded", email_template, audience="all_participants")]
    )
    payment_request = _create_with(merchant, scenario, "EVENTS-ONLY")
    assert payment_request.scenario_binding.scenario == scenario
    assert Dispatch.objects.filter(request=payment_request).count() == 0


def test_a_new_request_follows_the_scenarios_current_version_only(merchant, email_template, clock):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    first = _create_with(merchant, scenario, "V1")  # binds version 1: a new version follows
    services.scenario_update(scenario=scenario, steps=[step("request_created", email_template)])
    scenario.refresh_from_db()
    assert scenario.version == 2

    second = _create_with(merchant, scenario, "V2")
    assert second.scenario_binding.version == 2
    assert Dispatch.objects.filter(request=first).count() == 5 * 2
    assert Dispatch.objects.filter(request=second).count() == 2  # the creation notice only
