"""Legs move only along their transition table, every provider call leaves a LegOperation row,
and a checkout's status is what its legs say."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from payments import services
from payments.adapters.base import ProviderTimeout
from payments.models import Checkout, Leg, LegOperation
from payments.services import saga
from payments.services.legs import checkout_status_of, leg_transition
from payments.tasks import recover_stale_checkouts
from pushpay.errors import StateConflict
from requests_app import services as request_services
from tests.factories import make_request
from tests.payments.conftest import CHALLENGE, DECLINED, SUCCEEDS, TIMEOUT

S = Leg.Status


def pay(participant, token, **kwargs):
    return services.checkout_start(participant=participant, method="card", source=token, **kwargs)


def operations(checkout) -> list[tuple[str, str, str]]:
    return [
        (op.operation, op.result, op.status)
        for op in LegOperation.objects.filter(leg__checkout=checkout)
    ]


def on_completion(merchant):
    return make_request(
        merchant,
        capture_mode="on_completion",
        deadline=timezone.now() + timedelta(days=4),
        expires_at=timezone.now() + timedelta(days=5),
    )


@pytest.fixture
def payer(merchant):
    return make_request(merchant).participants.first()


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (S.VOIDED, S.CAPTURED),  # a released hold is never taken
        (S.FAILED, S.AUTHORISED),
        (S.REFUNDED, S.REFUNDED.value + "x"),
        (S.REFUNDED, S.PARTIALLY_REFUNDED),  # given back twice
        (S.CAPTURED, S.VOIDED),  # taken money is refunded, not voided
        (S.CREATED, S.REFUNDED),
        (S.AUTHORISED, S.REQUIRES_ACTION),
    ],
)
@pytest.mark.django_db
def test_illegal_leg_moves_are_refused_and_change_nothing(payer, tokenise, start, target):
    checkout = pay(payer, tokenise(DECLINED))
    leg = checkout.legs.get()
    Leg.objects.filter(pk=leg.pk).update(status=start)
    leg.refresh_from_db()
    with pytest.raises((StateConflict, KeyError)):
        leg_transition(leg, target)
    leg.refresh_from_db()
    assert leg.status == start


@pytest.mark.django_db
def test_staying_put_is_allowed_so_a_replayed_answer_changes_nothing(payer, tokenise):
    leg = pay(payer, tokenise(SUCCEEDS)).legs.get()
    leg_transition(leg, S.CAPTURED)
    leg.refresh_from_db()
    assert leg.status == S.CAPTURED


@pytest.mark.parametrize(
    ("legs", "expected"),
    [
        ([], "pending"),
        ([S.CREATED], "pending"),
        ([S.UNKNOWN], "pending"),
        ([S.REQUIRES_ACTION], "requires_action"),
        ([S.AUTHORISED], "authorised"),
        ([S.AUTHORISED, S.AUTHORISED], "authorised"),
        ([S.AUTHORISED, S.REQUIRES_ACTION], "requires_action"),
        ([S.AUTHORISED, S.CAPTURED], "pending"),  # one leg taken, the other not yet
        ([S.CAPTURED, S.CAPTURED], "succeeded"),
        ([S.CAPTURED, S.FAILED], "pending"),  # being unwound: not a success
        ([S.FAILED, S.VOIDED], "failed"),
        ([S.VOIDED, S.VOIDED], "cancelled"),
        ([S.REFUNDED], "refunded"),
        ([S.REFUNDED, S.VOIDED], "refunded"),
        ([S.CAPTURED, S.REFUNDED], "partially_refunded"),
        ([S.PARTIALLY_REFUNDED], "partially_refunded"),
    ],
)
def test_a_checkout_status_is_derived_from_its_legs(legs, expected):
    assert checkout_status_of([Leg(status=status) for status in legs]) == expected


@pytest.mark.django_db
def test_a_paid_checkout_writes_one_operation_per_provider_call(payer, tokenise):
    checkout = pay(payer, tokenise(SUCCEEDS))
    leg = checkout.legs.get()
    assert operations(checkout) == [
        ("authorise", "succeeded", "authorised"),
        ("capture", "succeeded", "captured"),
    ]
    authorise, capture = LegOperation.objects.filter(leg=leg)
    assert authorise.idempotency_key == f"{leg.public_id}:authorise"
    assert capture.idempotency_key == f"{leg.public_id}:capture"
    assert (capture.amount, capture.amount_moved) == (1000, 1000)
    assert capture.provider_reference == leg.provider_reference != ""
    assert (capture.merchant_id, capture.livemode) == (leg.merchant_id, False)


@pytest.mark.django_db
def test_a_declined_card_writes_the_refusal(payer, tokenise):
    checkout = pay(payer, tokenise(DECLINED))
    assert operations(checkout) == [("authorise", "failed", "failed")]
    assert LegOperation.objects.get(leg__checkout=checkout).failure_reason == "declined"


@pytest.mark.django_db
def test_a_timeout_writes_no_answer_then_the_replay(payer, tokenise):
    checkout = pay(payer, tokenise(TIMEOUT))
    assert checkout.status == "failed"
    rows = operations(checkout)
    assert rows[0] == ("authorise", "no_answer", "")
    # The replay with the same key finds the hold the lost call made, and releases it.
    assert rows == [
        ("authorise", "no_answer", ""),
        ("authorise", "succeeded", "authorised"),
        ("void", "succeeded", "cancelled"),
    ]
    assert checkout.legs.get().status == S.FAILED


@pytest.mark.django_db
def test_3ds_then_return_writes_retrieve_then_capture(payer, tokenise, client):
    checkout = pay(payer, tokenise(CHALLENGE))
    leg = checkout.legs.get()
    assert leg.status == S.REQUIRES_ACTION
    client.post(leg.action_url, {"decision": "approve"})
    checkout = services.checkout_resume(checkout=Checkout.objects.get(pk=checkout.pk))
    assert checkout.status == "succeeded"
    assert [op for op, _, _ in operations(checkout)] == ["authorise", "retrieve", "capture"]
    assert LegOperation.objects.get(leg=leg, operation="retrieve").idempotency_key == ""


@pytest.mark.django_db
def test_releasing_a_hold_writes_the_void(merchant, tokenise, django_capture_on_commit_callbacks):
    pr = on_completion(merchant)
    checkout = pay(pr.participants.first(), tokenise(SUCCEEDS))
    assert checkout.status == "authorised"
    with django_capture_on_commit_callbacks(execute=True):
        request_services.payment_request_cancel(payment_request=pr)
    checkout.refresh_from_db()
    assert checkout.status == "cancelled"
    assert checkout.legs.get().status == S.VOIDED
    assert operations(checkout)[-1] == ("void", "succeeded", "cancelled")


@pytest.mark.django_db
def test_a_lost_void_during_release_leaves_the_hold_for_the_next_run(
    merchant, tokenise, monkeypatch
):
    pr = on_completion(merchant)
    checkout = pay(pr.participants.first(), tokenise(SUCCEEDS))
    adapter_class = type(saga._adapter_of(checkout, checkout.legs.get()))

    def no_answer(self, **kwargs):
        raise ProviderTimeout("no answer")

    monkeypatch.setattr(adapter_class, "void", no_answer)
    assert services.checkouts_release(payment_request=pr, reason="test") == 0
    checkout.refresh_from_db()
    assert (checkout.status, checkout.legs.get().status) == ("authorised", S.AUTHORISED)
    assert operations(checkout)[-1] == ("void", "no_answer", "")
    monkeypatch.undo()
    assert services.checkouts_release(payment_request=pr, reason="test") == 1
    checkout.refresh_from_db()
    assert checkout.status == "cancelled"


@pytest.mark.django_db
def test_recovery_writes_its_calls_too(monkeypatch, payer, tokenise):
    class Crash(BaseException):
        pass

    def crash(*args, **kwargs):
        raise Crash

    monkeypatch.setattr(saga, "_capture_all", crash)  # held, never captured
    with pytest.raises(Crash):
        pay(payer, tokenise(SUCCEEDS))
    monkeypatch.undo()
    checkout = Checkout.objects.get(participant=payer)
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert recover_stale_checkouts() == 1
    checkout.refresh_from_db()
    assert checkout.status == "succeeded"
    assert [op for op, _, _ in operations(checkout)] == ["authorise", "retrieve", "capture"]


@pytest.mark.django_db
def test_a_refund_writes_the_refund_and_marks_the_leg(merchant, tokenise):
    pr = make_request(merchant)
    checkout = pay(pr.participants.first(), tokenise(SUCCEEDS))
    pr = request_services.payment_request_cancel(payment_request=pr)
    services.payment_request_refund(payment_request=pr)
    checkout.refresh_from_db()
    leg = checkout.legs.get()
    assert (checkout.status, leg.status, leg.amount_refunded) == ("refunded", S.REFUNDED, 1000)
    refund = LegOperation.objects.get(leg=leg, operation="refund")
    assert (refund.result, refund.amount, refund.amount_moved) == ("succeeded", 1000, 1000)
