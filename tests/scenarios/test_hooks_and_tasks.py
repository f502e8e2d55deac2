import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.models import Schedule

from notifications import tasks
from pushpay.schedules import install_schedules
from requests_app import services as request_services
from requests_app.models import RequestEvent
from scenarios import services
from scenarios.models import Dispatch
from tests.factories import make_request, participants
from tests.scenarios.helpers import acceptance_steps, make_scenario, step


def test_rows_due_now_are_handed_to_the_broker_on_commit(
    merchant, email_template, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = True
    enqueued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: enqueued.append(a))
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.dispatches_plan_for_request(
            payment_request=make_request(merchant), scenario=scenario
        )
    assert len(callbacks) == 1  # one nudge per planning, whatever the number of rows
    assert enqueued == [("notifications.tasks.dispatch_due",)]


def test_a_broker_failure_does_not_break_the_commit(
    merchant, email_template, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = True

    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr("django_q.tasks.async_task", broken)
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    with django_capture_on_commit_callbacks(execute=True):
        services.dispatches_plan_for_request(
            payment_request=make_request(merchant), scenario=scenario
        )
    assert Dispatch.objects.filter(status="planned").count() == 15


def test_the_sweep_task_sends_what_is_due(merchant, email_template, outbox):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    services.dispatches_plan_for_request(payment_request=make_request(merchant), scenario=scenario)
    assert tasks.dispatch_due() == 3
    assert Dispatch.objects.filter(status="sent").count() == 3


def test_the_sweep_is_scheduled_every_minute(db):
    assert "dispatch-due-notifications" in install_schedules()
    schedule = Schedule.objects.get(name="dispatch-due-notifications")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "notifications.tasks.dispatch_due",
        Schedule.MINUTES,
        1,
    )


def test_an_expiry_notice_survives_the_cancellation_of_reminders(merchant, email_template, outbox):
    steps = [
        *acceptance_steps(email_template),
        step("request_expired", email_template, audience="all_participants"),
    ]
    scenario = make_scenario(merchant, steps)
    payment_request = make_request(merchant)
    services.dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)
    # what requests_app will do in payment_request_expire's transaction
    request_services.payment_request_expire(payment_request=payment_request)
    services.dispatches_plan_for_event(event=RequestEvent.objects.get(type="request_expired"))
    services.dispatches_cancel_for_request(
        payment_request=payment_request, reason="request_expired"
    )
    planned = Dispatch.objects.filter(status="planned")
    assert set(planned.values_list("step__trigger", flat=True)) == {"request_expired"}
    assert planned.count() == 3
    assert Dispatch.objects.filter(status="cancelled").count() == 15


@pytest.mark.parametrize("count", [3, 30])
def test_the_notifications_list_costs_the_same_queries_whatever_its_length(
    api, merchant, email_template, outbox, count
):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    payment_request = make_request(
        merchant, total_amount=1000 * count, participants=participants(count, amount=1000)
    )
    services.dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)
    with CaptureQueriesContext(connection) as queries:
        response = api.get(
            f"/api/v1/payment-requests/{payment_request.public_id}/notifications?limit=500"
        )
    assert len(response.json()["results"]) == 5 * count
    assert len(queries) <= 8


@pytest.mark.parametrize("count", [1, 10])
def test_the_scenario_list_costs_the_same_queries_whatever_its_length(
    api, merchant, email_template, count
):
    for n in range(count):
        make_scenario(merchant, acceptance_steps(email_template), name=f"S{n}")
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/v1/scenarios")
    assert len(response.json()["results"]) == count
    assert len(queries) <= 7


def test_replanning_after_a_participant_joins_plans_their_reminders(
    merchant, email_template, outbox
):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    payment_request = make_request(merchant)
    services.dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)
    request_services.participant_add(
        payment_request=payment_request,
        data=request_services.ParticipantData(name="Late", email="late@example.com", amount=500),
    )
    # participant_add replans in its own transaction; replanning again writes nothing
    assert Dispatch.objects.filter(recipient="late@example.com").count() == 5
    assert services.dispatches_replan_for_request(payment_request=payment_request) == 0
    assert not Dispatch.objects.filter(status="cancelled").exists()
