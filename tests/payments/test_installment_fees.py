"""Plans with a fee: the payer pays the fee on top of the share, on the first installment
after the deposit; the share (never the fee) is booked on the participant, counts as paid
when the plan completes, and is all a refund can give back."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from payments import services as payment_services
from payments.installments import services
from payments.models import Checkout, InstallmentPlan
from payments.sandbox.selectors import sandbox_card_balance
from payments.services.refunds import RefundLine
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


def run_job(at: datetime) -> int:
    with time_machine.travel(at, tick=False):
        return services.installments_charge_due(now=at, worker_id="test")


def monthly(day: int, month: int) -> datetime:
    return datetime(2030, month, day, 9, 5, tzinfo=PARIS)


@pytest.mark.django_db
def test_a_fee_plan_charges_exactly_share_plus_fee_and_books_only_the_share(payer, tokenise):
    token = tokenise(SUCCEEDS)
    plan = services.installment_plan_start(
        participant=payer, source=token, count=3, interval_unit="month", fee_amount=151
    )
    assert (plan.status, plan.amount, plan.fee_amount) == ("active", 30151, 151)
    rows = list(plan.installments.all())
    assert [(r.amount, r.fee_amount) for r in rows] == [(10151, 151), (10000, 0), (10000, 0)]
    assert sandbox_card_balance(token=token).debited == 10151
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) != ("paid", 30000)
    assert payer.amount_paid == 10000  # the fee is not the share
    first = Checkout.objects.get(installment=rows[0].public_id)
    assert (first.amount, first.fee_amount) == (10151, 151)
    succeeded = RequestEvent.objects.get(type="payment_succeeded")
    assert succeeded.payload["amount"] == 10000
    assert (succeeded.payload["fee_amount"], succeeded.payload["charged"]) == (151, 10151)

    assert run_job(monthly(10, 2)) == 1
    payer.refresh_from_db()
    assert payer.status != "paid"
    assert payer.request.status != "paid"
    assert run_job(monthly(10, 3)) == 1

    plan.refresh_from_db()
    payer.refresh_from_db()
    assert plan.status == "completed"
    assert (payer.status, payer.amount_paid) == ("paid", 30000)
    assert payer.request.status == "paid"
    assert payer.request.amount_paid == 30000
    assert sandbox_card_balance(token=token).debited == 30151
    assert run_job(monthly(10, 4)) == 0


@pytest.mark.django_db
def test_with_a_deposit_the_fee_and_remainder_ride_on_the_first_installment_after_it(
    payer, tokenise
):
    token = tokenise(SUCCEEDS)
    plan = services.installment_plan_start(
        participant=payer,
        source=token,
        count=3,
        interval_unit="month",
        deposit_amount=5000,
        fee_amount=300,
    )
    rows = list(plan.installments.all())
    # 25000 in 3: 8333 r 1, so 8334 + 300 on the first after the deposit.
    assert [(r.is_deposit, r.amount, r.fee_amount) for r in rows] == [
        (True, 5000, 0),
        (False, 8634, 300),
        (False, 8333, 0),
        (False, 8333, 0),
    ]
    assert sandbox_card_balance(token=token).debited == 5000
    for month in (2, 3, 4):
        assert run_job(monthly(10, month)) == 1
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 30000)
    assert sandbox_card_balance(token=token).debited == 30300
    assert Checkout.objects.filter(fee_amount=300).count() == 1


@pytest.mark.django_db
def test_a_fee_as_large_as_the_share_is_charged_and_never_counted_against_it(payer, tokenise):
    token = tokenise(SUCCEEDS)
    plan = services.installment_plan_start(
        participant=payer, source=token, count=2, interval_unit="week", fee_amount=30000
    )
    # The first charge (45000) is above the share still due: only 15000 of it is share.
    assert plan.status == "active"
    assert sandbox_card_balance(token=token).debited == 45000
    assert run_job(datetime(2030, 1, 17, 9, 5, tzinfo=PARIS)) == 1
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 30000)
    assert sandbox_card_balance(token=token).debited == 60000


@pytest.mark.django_db
def test_a_fee_above_the_share_is_refused_and_nothing_is_charged(payer, tokenise):
    token = tokenise(SUCCEEDS)
    with pytest.raises(InvalidInput) as exc:
        services.installment_plan_start(
            participant=payer, source=token, count=2, interval_unit="week", fee_amount=30001
        )
    assert (exc.value.code, exc.value.field) == ("out_of_range", "fee_amount")
    assert not InstallmentPlan.objects.exists()
    assert sandbox_card_balance(token=token).debited == 0


@pytest.mark.django_db
def test_a_refused_first_charge_with_a_fee_takes_nothing(payer, tokenise):
    token = tokenise(DECLINED)
    plan = services.installment_plan_start(
        participant=payer, source=token, count=3, interval_unit="month", fee_amount=100
    )
    assert plan.status == "cancelled"
    assert sandbox_card_balance(token=token).debited == 0
    payer.refresh_from_db()
    assert payer.amount_paid == 0


@pytest.mark.django_db
def test_refunds_give_back_the_share_collected_never_more(payer, tokenise):
    token = tokenise(SUCCEEDS)
    services.installment_plan_start(
        participant=payer, source=token, count=3, interval_unit="month", fee_amount=151
    )
    request = payer.request
    with pytest.raises(InvalidInput) as exc:
        payment_services.payment_request_refund(
            payment_request=request, lines=[RefundLine(participant=payer, amount=10001)]
        )
    assert exc.value.code == "refund_exceeds_captured"
    payment_services.payment_request_refund(payment_request=request)
    payer.refresh_from_db()
    assert payer.amount_refunded == 10000
    # What stays taken is the fee alone.
    assert sandbox_card_balance(token=token).debited == 151


@pytest.mark.django_db
def test_a_completed_fee_plan_refunds_the_whole_share_and_keeps_the_fee(payer, tokenise):
    token = tokenise(SUCCEEDS)
    services.installment_plan_start(
        participant=payer, source=token, count=2, interval_unit="month", fee_amount=99
    )
    assert run_job(monthly(10, 2)) == 1
    payer.refresh_from_db()
    assert payer.status == "paid"
    payment_services.payment_request_refund(payment_request=payer.request)
    payer.refresh_from_db()
    assert (payer.status, payer.amount_refunded) == ("refunded", 30000)
    assert sandbox_card_balance(token=token).debited == 99
    with pytest.raises(StateConflict) as exc:
        payment_services.payment_request_refund(payment_request=payer.request)
    assert exc.value.code == "nothing_to_refund"


@pytest.mark.django_db
def test_a_payoff_takes_the_uncollected_fee_with_what_is_left(payer, tokenise):
    token = tokenise(SUCCEEDS)
    plan = services.installment_plan_start(
        participant=payer,
        source=token,
        count=2,
        interval_unit="month",
        deposit_amount=10000,
        fee_amount=500,
    )
    checkout = services.installment_plan_pay_off(plan=plan)
    assert (checkout.status, checkout.amount, checkout.fee_amount) == ("succeeded", 20500, 500)
    plan.refresh_from_db()
    payer.refresh_from_db()
    assert plan.status == "completed"
    assert (payer.status, payer.amount_paid) == ("paid", 30000)
    assert sandbox_card_balance(token=token).debited == 30500


@pytest.mark.django_db
def test_a_resplit_keeps_an_uncollected_fee_on_the_first_new_installment(payer, tokenise):
    token = tokenise(SUCCEEDS)
    plan = services.installment_plan_start(
        participant=payer,
        source=token,
        count=2,
        interval_unit="month",
        deposit_amount=10000,
        fee_amount=500,
    )
    services.installment_plan_resplit(plan=plan, count=3, interval_unit="week")
    rows = list(plan.installments.exclude(status="cancelled"))
    assert [(r.amount, r.fee_amount) for r in rows] == [
        (10000, 0),
        (6668 + 500, 500),
        (6666, 0),
        (6666, 0),
    ]
    for day in (11, 18, 25):
        assert run_job(datetime(2030, 1, day, 9, 5, tzinfo=PARIS)) == 1
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 30000)
    assert sandbox_card_balance(token=token).debited == 30500


@pytest.mark.django_db
def test_only_an_installment_charge_carries_a_fee(payer, tokenise):
    token = tokenise(SUCCEEDS)
    with pytest.raises(InvalidInput) as exc:
        payment_services.checkout_start(
            participant=payer, method="card", source=token, amount=10000, fee_amount=100
        )
    assert exc.value.code == "fee_not_allowed"
    assert sandbox_card_balance(token=token).debited == 0


@pytest.mark.django_db
def test_the_reconciliation_and_the_api_show_the_fee_apart(api, payer, tokenise):
    token = tokenise(SUCCEEDS)
    plan = services.installment_plan_start(
        participant=payer, source=token, count=3, interval_unit="month", fee_amount=151
    )
    body = api.get(f"/api/v1/installment-plans/{plan.public_id}").json()
    assert (body["amount"], body["fee_amount"]) == (30151, 151)
    assert [i["fee_amount"] for i in body["installments"]] == [151, 0, 0]
    statement = api.get(f"/api/v1/payment-requests/{payer.request.public_id}/reconciliation")
    assert statement.status_code == 200, statement.content
    line = statement.json()["lines"][0]
    assert (line["amount"], line["installment_fee"]) == (10151, 151)
    detail = api.get(f"/api/v1/payment-requests/{payer.request.public_id}").json()
    checkout = detail["participants"][0]["checkouts"][0]
    assert (checkout["amount"], checkout["installment_fee"]) == (10151, 151)
