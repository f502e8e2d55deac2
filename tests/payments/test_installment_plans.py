"""Installment plans: the first charge at checkout, the rest collected on their dates by the
charging job, retries on the configured cadence, default after the last one."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from payments.adapters.base import FailureReason, PaymentResult, PaymentStatus
from payments.adapters.sandbox_card import SandboxCardAdapter
from payments.installments import services
from payments.models import Checkout, Installment, InstallmentPlan
from payments.sandbox.selectors import sandbox_card_balance
from pushpay.errors import InvalidInput, StateConflict
from requests_app.models import RequestEvent
from tests.factories import make_request, participants
from tests.payments.conftest import DECLINED, SUCCEEDS

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2030, 1, 10, 12, 0, tzinfo=PARIS)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def payer(merchant, clock):
    pr = make_request(
        merchant,
        total_amount=30000,
        participants=participants(1, amount=30000),
        deadline=START + timedelta(days=200),
        expires_at=START + timedelta(days=300),
    )
    return pr.participants.get()


def start(payer, token, **kwargs):
    options = {"count": 3, "interval_unit": "month"}
    options.update(kwargs)
    return services.installment_plan_start(participant=payer, source=token, **options)


def events(payer) -> list[str]:
    return [
        e.type
        for e in RequestEvent.objects.filter(participant=payer, type__startswith="installment")
    ]


def run_job(at: datetime) -> int:
    with time_machine.travel(at, tick=False):
        return services.installments_charge_due(now=at, worker_id="test")


@pytest.mark.django_db
def test_the_first_installment_is_taken_at_once_and_the_rest_on_their_dates(payer, tokenise):
    token = tokenise(SUCCEEDS)
    plan = start(payer, token)
    assert plan.status == "active"
    items = list(plan.installments.all())
    assert [(i.due_date, i.amount, i.status) for i in items] == [
        (date(2030, 1, 10), 10000, "paid"),
        (date(2030, 2, 10), 10000, "scheduled"),
        (date(2030, 3, 10), 10000, "scheduled"),
    ]
    assert events(payer) == ["installment_plan_confirmed", "installment_succeeded"]
    confirmed = RequestEvent.objects.get(type="installment_plan_confirmed")
    assert [line["amount"] for line in confirmed.payload["schedule"]] == [10000, 10000, 10000]
    assert sandbox_card_balance(token=token).debited == 10000

    assert run_job(datetime(2030, 2, 10, 8, 0, tzinfo=PARIS)) == 0  # before 09:00 local
    assert run_job(datetime(2030, 2, 10, 9, 5, tzinfo=PARIS)) == 1
    assert run_job(datetime(2030, 2, 10, 9, 10, tzinfo=PARIS)) == 0  # once
    assert sandbox_card_balance(token=token).debited == 20000
    assert run_job(datetime(2030, 3, 10, 9, 5, tzinfo=PARIS)) == 1
    plan.refresh_from_db()
    payer.refresh_from_db()
    assert plan.status == "completed"
    assert (payer.status, payer.amount_paid) == ("paid", 30000)
    assert sandbox_card_balance(token=token).debited == 30000
    assert events(payer)[-1] == "installment_plan_completed"
    # Each charge is a checkout tagged with its installment.
    assert set(Checkout.objects.values_list("installment", flat=True)) == {
        i.public_id for i in plan.installments.all()
    }


@pytest.mark.django_db
def test_a_deposit_comes_first_and_the_count_excludes_it(payer, tokenise):
    plan = start(payer, tokenise(SUCCEEDS), deposit_amount=6000, count=2)
    items = list(plan.installments.all())
    assert [(i.is_deposit, i.amount, i.status) for i in items] == [
        (True, 6000, "paid"),
        (False, 12000, "scheduled"),
        (False, 12000, "scheduled"),
    ]
    assert items[1].due_date == date(2030, 2, 10)


def refuse_merchant_initiated_charges(monkeypatch, times: int) -> list:
    """The card is refused on the next ``times`` charges, then accepted again."""
    real = SandboxCardAdapter.authorise
    refused = []

    def authorise(self, **kwargs):
        if len(refused) < times:
            refused.append(kwargs["amount"])
            return PaymentResult(
                status=PaymentStatus.FAILED,
                provider_reference="",
                amount=kwargs["amount"],
                currency=kwargs["currency"],
                failure_reason=FailureReason.DECLINED,
                message="The card was declined.",
            )
        return real(self, **kwargs)

    monkeypatch.setattr(SandboxCardAdapter, "authorise", authorise)
    return refused


@pytest.mark.django_db
def test_a_charge_that_fails_twice_then_succeeds(payer, tokenise, monkeypatch):
    token = tokenise(SUCCEEDS)
    plan = start(payer, token)
    refuse_merchant_initiated_charges(monkeypatch, times=2)

    assert run_job(datetime(2030, 2, 10, 9, 5, tzinfo=PARIS)) == 1
    second = plan.installments.get(position=1)
    assert (second.status, second.attempts) == ("failed", 1)
    assert second.next_attempt_at == datetime(2030, 2, 11, 9, 0, tzinfo=PARIS)
    assert run_job(datetime(2030, 2, 10, 23, 0, tzinfo=PARIS)) == 0  # not before the retry
    assert run_job(datetime(2030, 2, 11, 9, 5, tzinfo=PARIS)) == 1
    second.refresh_from_db()
    assert (second.status, second.attempts) == ("failed", 2)
    assert second.next_attempt_at == datetime(2030, 2, 13, 9, 0, tzinfo=PARIS)  # 3 days on
    assert run_job(datetime(2030, 2, 13, 9, 5, tzinfo=PARIS)) == 1
    second.refresh_from_db()
    assert (second.status, second.attempts) == ("paid", 3)
    assert sandbox_card_balance(token=token).debited == 20000  # refusals took nothing
    assert events(payer) == [
        "installment_plan_confirmed",
        "installment_succeeded",
        "installment_failed",
        "installment_failed",
        "installment_succeeded",
    ]
    failure = RequestEvent.objects.filter(type="installment_failed").first()
    assert failure.payload["reason"] == "declined"
    assert failure.payload["retry_at"].startswith("2030-02-11T09:00")


@pytest.mark.django_db
def test_a_plan_defaults_after_its_last_retry_and_is_never_charged_again(
    payer, tokenise, monkeypatch
):
    token = tokenise(SUCCEEDS)
    plan = start(payer, token, retry_days=[1, 2])
    refuse_merchant_initiated_charges(monkeypatch, times=10)
    for day in (10, 11, 12):
        assert run_job(datetime(2030, 2, day, 9, 5, tzinfo=PARIS)) == 1
    plan.refresh_from_db()
    assert plan.status == "defaulted"
    assert [i.status for i in plan.installments.all()] == ["paid", "defaulted", "cancelled"]
    assert events(payer)[-1] == "installment_plan_defaulted"
    assert run_job(datetime(2030, 3, 10, 9, 5, tzinfo=PARIS)) == 0
    assert run_job(datetime(2030, 6, 1, 9, 5, tzinfo=PARIS)) == 0
    assert sandbox_card_balance(token=token).debited == 10000


@pytest.mark.django_db
def test_a_cancelled_plan_is_never_charged_again(payer, tokenise):
    token = tokenise(SUCCEEDS)
    plan = start(payer, token)
    services.installment_plan_cancel(plan=plan)
    assert run_job(datetime(2030, 2, 10, 9, 5, tzinfo=PARIS)) == 0
    assert sandbox_card_balance(token=token).debited == 10000
    assert events(payer)[-1] == "installment_plan_cancelled"
    with pytest.raises(StateConflict):
        services.installment_plan_cancel(plan=plan)


@pytest.mark.django_db
def test_a_refused_first_charge_cancels_the_plan_and_the_payer_may_start_again(payer, tokenise):
    plan = start(payer, tokenise(DECLINED))
    assert plan.status == "cancelled"
    assert set(plan.installments.values_list("status", flat=True)) == {"cancelled"}
    again = start(payer, tokenise(SUCCEEDS))
    assert again.status == "active"


@pytest.mark.django_db
def test_one_running_plan_per_share(payer, tokenise):
    start(payer, tokenise(SUCCEEDS))
    with pytest.raises(StateConflict) as exc:
        start(payer, tokenise(SUCCEEDS))
    assert exc.value.code == "plan_already_running"
    assert InstallmentPlan.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"count": 1}, "out_of_range"),
        ({"fee_amount": 30001}, "out_of_range"),
        ({"retry_days": [0]}, "invalid"),
        ({"retry_days": "1,3"}, "invalid"),
        ({"interval_unit": "year"}, "invalid_choice"),
    ],
)
@pytest.mark.django_db
def test_bad_plans_are_refused_and_nothing_is_charged(payer, tokenise, kwargs, code):
    token = tokenise(SUCCEEDS)
    with pytest.raises(InvalidInput) as exc:
        start(payer, token, **kwargs)
    assert exc.value.code == code
    assert not InstallmentPlan.objects.exists()
    assert sandbox_card_balance(token=token).debited == 0


@pytest.mark.django_db
def test_a_free_amount_share_cannot_be_spread(merchant, tokenise, clock):
    pr = make_request(merchant, amount_mode="free", total_amount=None, participants=participants(1))
    with pytest.raises(InvalidInput) as exc:
        start(pr.participants.get(), tokenise(SUCCEEDS))
    assert exc.value.code == "installments_need_a_share"


@pytest.mark.django_db
def test_a_lost_lease_is_taken_over_and_charges_once(payer, tokenise):
    token = tokenise(SUCCEEDS)
    plan = start(payer, token)
    due = datetime(2030, 2, 10, 9, 5, tzinfo=PARIS)
    # A worker claimed the row, then died before charging.
    assert services.installments_claim(now=due, worker_id="dead") != []
    assert run_job(due + timedelta(minutes=1)) == 0  # its lease still runs
    assert run_job(due + timedelta(minutes=11)) == 1
    assert plan.installments.get(position=1).status == Installment.Status.PAID
    assert sandbox_card_balance(token=token).debited == 20000


@pytest.mark.django_db
def test_early_payoff_charges_exactly_what_is_left_once(payer, tokenise):
    token = tokenise(SUCCEEDS)
    plan = start(payer, token)
    checkout = services.installment_plan_pay_off(plan=plan)
    assert (checkout.status, checkout.amount) == ("succeeded", 20000)
    plan.refresh_from_db()
    assert plan.status == "completed"
    assert set(plan.installments.values_list("status", flat=True)) == {"paid"}
    assert sandbox_card_balance(token=token).debited == 30000
    assert run_job(datetime(2030, 2, 10, 9, 5, tzinfo=PARIS)) == 0
    with pytest.raises(StateConflict):
        services.installment_plan_pay_off(plan=plan)
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 30000)


@pytest.mark.django_db
def test_a_refused_payoff_leaves_the_schedule_as_it_was(payer, tokenise):
    token = tokenise(SUCCEEDS)
    plan = start(payer, token)
    checkout = services.installment_plan_pay_off(plan=plan, source=tokenise(DECLINED))
    assert checkout.status == "failed"
    assert [i.status for i in plan.installments.all()] == ["paid", "scheduled", "scheduled"]
    plan.refresh_from_db()
    assert plan.status == "active"


@pytest.mark.django_db
def test_rescheduling_moves_one_date_and_keeps_the_sum_and_order(payer, tokenise):
    plan = start(payer, tokenise(SUCCEEDS))
    second = plan.installments.get(position=1)
    services.installment_reschedule(
        plan=plan, installment_public_id=second.public_id, due_date=date(2030, 2, 20)
    )
    second.refresh_from_db()
    assert second.due_date == date(2030, 2, 20)
    assert second.next_attempt_at == datetime(2030, 2, 20, 9, 0, tzinfo=PARIS)
    assert sum(plan.installments.values_list("amount", flat=True)) == 30000
    assert RequestEvent.objects.filter(
        type="installment_plan_confirmed", payload__change="rescheduled"
    ).exists()
    for bad in (date(2030, 3, 10), date(2030, 1, 5), date(2030, 1, 10)):
        with pytest.raises(InvalidInput) as exc:
            services.installment_reschedule(
                plan=plan, installment_public_id=second.public_id, due_date=bad
            )
        assert exc.value.code == "date_out_of_order"
    first = plan.installments.get(position=0)
    with pytest.raises(StateConflict):  # paid: its date is history
        services.installment_reschedule(
            plan=plan, installment_public_id=first.public_id, due_date=date(2030, 2, 1)
        )


@pytest.mark.django_db
def test_resplitting_spreads_what_is_left_exactly(payer, tokenise):
    token = tokenise(SUCCEEDS)
    plan = start(payer, token)
    services.installment_plan_resplit(plan=plan, count=3, interval_unit="week")
    rows = list(plan.installments.exclude(status="cancelled"))
    assert [r.amount for r in rows] == [10000, 6668, 6666, 6666]
    assert rows[1].due_date == date(2030, 1, 11)
    for day in (11, 18, 25):
        assert run_job(datetime(2030, 1, day, 9, 5, tzinfo=PARIS)) == 1
    plan.refresh_from_db()
    assert plan.status == "completed"
    assert sandbox_card_balance(token=token).debited == 30000


URL = "/api/v1/installment-plans"


@pytest.mark.django_db
def test_the_api_reads_and_changes_plans(api, other_api, payer, tokenise):
    plan = start(payer, tokenise(SUCCEEDS))
    body = api.get(f"{URL}/{plan.public_id}").json()
    assert (body["status"], body["participant"], body["amount"]) == (
        "active",
        payer.public_id,
        30000,
    )
    assert [i["status"] for i in body["installments"]] == ["paid", "scheduled", "scheduled"]
    assert api.get(f"{URL}?participant={payer.public_id}").json()["results"][0]["id"] == (
        plan.public_id
    )
    assert other_api.get(f"{URL}/{plan.public_id}").status_code == 404
    assert other_api.post(f"{URL}/{plan.public_id}/cancel").status_code == 404

    second = body["installments"][1]["id"]
    moved = api.post(
        f"{URL}/{plan.public_id}/reschedule",
        {"installment": second, "due_date": "2030-02-15"},
        format="json",
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["installments"][1]["due_date"] == "2030-02-15"
    bad = api.post(
        f"{URL}/{plan.public_id}/reschedule",
        {"installment": "in_nope", "due_date": "2030-02-15"},
        format="json",
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "unknown_installment")
    junk = api.post(f"{URL}/{plan.public_id}/resplit", {"count": "3"}, format="json")
    assert junk.status_code in (400, 422)

    cancelled = api.post(f"{URL}/{plan.public_id}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    again = api.post(f"{URL}/{plan.public_id}/cancel")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "plan_not_running")


@pytest.mark.django_db
def test_a_live_key_never_sees_a_test_plan(merchant, payer, tokenise):
    from rest_framework.test import APIClient

    from tests.factories import api_secret_for

    plan = start(payer, tokenise(SUCCEEDS))
    live = APIClient()
    live.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant, mode='live')}")
    assert live.get(f"{URL}/{plan.public_id}").status_code == 404
    assert live.get(URL).json()["results"] == []


@pytest.mark.django_db
def test_the_expiry_waits_for_a_running_plan(merchant, tokenise, clock):
    from requests_app import services as request_services
    from requests_app.tasks import close_expired_requests

    pr = make_request(
        merchant,
        total_amount=30000,
        participants=participants(1, amount=30000),
        deadline=START + timedelta(days=20),
        expires_at=START + timedelta(days=40),
    )
    payer = pr.participants.get()
    token = tokenise(SUCCEEDS)
    plan = start(payer, token)
    later = START + timedelta(days=45)
    with time_machine.travel(later, tick=False):
        assert close_expired_requests() == 0
        with pytest.raises(StateConflict) as exc:
            request_services.payment_request_expire(payment_request=pr)
        assert exc.value.code == "installments_running"
    pr.refresh_from_db()
    assert pr.is_collecting
    for month in (2, 3):
        assert run_job(datetime(2030, month, 10, 9, 5, tzinfo=PARIS)) == 1
    plan.refresh_from_db()
    pr.refresh_from_db()
    assert plan.status == "completed"
    assert pr.status == "paid"
    assert sandbox_card_balance(token=token).debited == 30000


@pytest.mark.django_db
def test_the_merchant_is_alerted_once_when_a_plan_defaults(merchant, payer, tokenise, monkeypatch):
    from notifications.dispatcher import dispatch_due
    from scenarios.models import OutboxMessage

    merchant.contact_email = "ops@alpha.example"
    merchant.default_language = "fr"
    merchant.save(update_fields=["contact_email", "default_language"])
    plan = start(payer, tokenise(SUCCEEDS), retry_days=[1])
    refuse_merchant_initiated_charges(monkeypatch, times=10)
    for day in (10, 11):
        assert run_job(datetime(2030, 2, day, 9, 5, tzinfo=PARIS)) == 1
    plan.refresh_from_db()
    assert plan.status == "defaulted"
    with time_machine.travel(datetime(2030, 2, 11, 9, 6, tzinfo=PARIS), tick=False):
        dispatch_due(worker_id="t")
        dispatch_due(worker_id="t")
    (alert,) = OutboxMessage.objects.filter(to__contains="ops@alpha.example")
    assert "Échéancier en défaut" in alert.subject
    assert "200,00" in alert.text  # the two installments left unpaid
    assert payer.request.public_id in alert.text
