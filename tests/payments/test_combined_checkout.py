"""One share paid with several methods: every leg is held before any is taken, and a payer is
never partially debited (a refusal anywhere releases or gives back every other leg)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from payments import services
from payments.adapters.base import ProviderTimeout
from payments.adapters.sandbox_card import SandboxCardAdapter
from payments.models import Checkout, Leg
from payments.sandbox import vouchers
from payments.sandbox.selectors import sandbox_card_balance
from payments.services import LegRequest, saga
from payments.tasks import recover_stale_checkouts
from pushpay.errors import InvalidInput
from tests.factories import make_request, participants
from tests.payments.conftest import CHALLENGE, DECLINED, SUCCEEDS

FIFTY = "1000000050"


@pytest.fixture
def payer(merchant):
    services.payment_method_enable(merchant=merchant, method="holiday_voucher")
    pr = make_request(merchant, total_amount=8000, participants=participants(1, amount=8000))
    return pr.participants.get()


def voucher_state(merchant):
    return vouchers.voucher_balance(merchant=merchant, number=FIFTY)


def combined(payer, card_token, voucher=5000, card=3000, **kwargs):
    return services.checkout_open(
        participant=payer,
        legs=[
            LegRequest(method="card", source=card_token, amount=card),
            LegRequest(method="holiday_voucher", source=FIFTY, amount=voucher),
        ],
        **kwargs,
    )


@pytest.mark.django_db
def test_vouchers_and_a_card_pay_an_80_share(merchant, payer, tokenise):
    token = tokenise(SUCCEEDS)
    checkout = combined(payer, token)
    assert checkout.status == "succeeded"
    legs = list(checkout.legs.all())
    # Vouchers authorise in place, so they go first whatever order the payer gave.
    assert [(leg.method, leg.amount, leg.status) for leg in legs] == [
        ("holiday_voucher", 5000, "captured"),
        ("card", 3000, "captured"),
    ]
    assert (voucher_state(merchant).available, voucher_state(merchant).spent) == (0, 5000)
    assert sandbox_card_balance(token=token).debited == 3000
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 8000)


@pytest.mark.django_db
def test_a_declined_card_releases_the_vouchers_and_paying_again_works(merchant, payer, tokenise):
    checkout = combined(payer, tokenise(DECLINED))
    assert (checkout.status, checkout.failure_reason) == ("failed", "declined")
    assert {leg.method: leg.status for leg in checkout.legs.all()} == {
        "holiday_voucher": "voided",
        "card": "failed",
    }
    assert (voucher_state(merchant).available, voucher_state(merchant).held) == (5000, 0)
    payer.refresh_from_db()
    assert payer.amount_paid == 0

    again = combined(payer, tokenise(SUCCEEDS))
    assert again.status == "succeeded"
    assert voucher_state(merchant).spent == 5000


@pytest.mark.django_db
def test_3ds_on_the_card_keeps_the_vouchers_held_until_the_payer_is_back(
    merchant, payer, tokenise, client
):
    checkout = combined(payer, tokenise(CHALLENGE))
    assert checkout.status == "requires_action"
    assert voucher_state(merchant).held == 5000
    card_leg = checkout.legs.get(method="card")
    client.post(card_leg.action_url, {"decision": "approve"})
    done = services.checkout_resume(checkout=Checkout.objects.get(pk=checkout.pk))
    assert done.status == "succeeded"
    assert voucher_state(merchant).spent == 5000


@pytest.mark.django_db
def test_3ds_refused_releases_the_vouchers(merchant, payer, tokenise, client):
    checkout = combined(payer, tokenise(CHALLENGE))
    client.post(checkout.legs.get(method="card").action_url, {"decision": "refuse"})
    done = services.checkout_resume(checkout=Checkout.objects.get(pk=checkout.pk))
    assert (done.status, done.failure_reason) == ("failed", "authentication_failed")
    assert (voucher_state(merchant).available, voucher_state(merchant).held) == (5000, 0)


@pytest.mark.django_db
def test_a_payer_who_leaves_during_3ds_has_every_hold_released(merchant, payer, tokenise):
    token = tokenise(CHALLENGE)
    checkout = combined(payer, token)
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        assert services.checkouts_release_abandoned() == 1
    checkout.refresh_from_db()
    assert checkout.status == "cancelled"
    assert voucher_state(merchant).held == 0
    assert sandbox_card_balance(token=token).held == 0


@pytest.mark.django_db
def test_a_capture_refused_after_the_vouchers_were_taken_gives_them_back(
    merchant, payer, tokenise, monkeypatch
):
    def refuse(self, **kwargs):
        raise ProviderTimeout("no answer")

    monkeypatch.setattr(SandboxCardAdapter, "capture", refuse)
    token = tokenise(SUCCEEDS)
    checkout = combined(payer, token)
    assert checkout.status == "refunded"  # taken, then given back: nothing kept
    assert {leg.method: leg.status for leg in checkout.legs.all()} == {
        "holiday_voucher": "refunded",
        "card": "failed",
    }
    state = voucher_state(merchant)
    assert (state.available, state.held, state.spent) == (5000, 0, 0)
    assert sandbox_card_balance(token=token).held == 0
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("failed", 0)


@pytest.mark.django_db
def test_a_crash_between_two_captures_is_finished_by_recovery_once(
    merchant, payer, tokenise, monkeypatch
):
    class Crash(BaseException):
        pass

    real_capture = saga._capture
    calls = []

    def capture_then_die(adapter, leg):
        calls.append(leg.method)
        if len(calls) == 2:
            raise Crash
        return real_capture(adapter, leg)

    monkeypatch.setattr(saga, "_capture", capture_then_die)
    token = tokenise(SUCCEEDS)
    with pytest.raises(Crash):
        combined(payer, token)
    monkeypatch.undo()
    checkout = Checkout.objects.get(participant=payer)
    assert checkout.status == "pending"
    assert voucher_state(merchant).spent == 5000  # the first leg is taken …
    assert sandbox_card_balance(token=token).held == 3000  # … the second only held

    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert recover_stale_checkouts() == 1
        assert recover_stale_checkouts() == 0  # a second run changes nothing
    checkout.refresh_from_db()
    assert checkout.status == "succeeded"
    assert sandbox_card_balance(token=token).debited == 3000
    assert voucher_state(merchant).spent == 5000
    payer.refresh_from_db()
    assert payer.amount_paid == 8000


@pytest.mark.parametrize(
    ("legs", "code"),
    [
        ([("card", 3000), ("holiday_voucher", 4000)], "legs_do_not_sum"),
        ([("card", 5000), ("holiday_voucher", 5000)], "legs_do_not_sum"),
        ([("card", 4000), ("card", 4000)], "duplicate_payment_method"),
        ([("card", 8000), ("holiday_voucher", None)], "required"),
        ([("card", 8000), ("holiday_voucher", 0)], "amount_not_positive"),
        ([("card", 8000), ("holiday_voucher", -5)], "amount_not_positive"),
        ([("card", 10**15), ("holiday_voucher", 5000)], "amount_too_large"),
    ],
)
@pytest.mark.django_db
def test_amounts_that_do_not_settle_the_share_are_refused_before_anything_moves(
    merchant, payer, tokenise, legs, code
):
    token = tokenise(SUCCEEDS)
    sources = {"card": token, "holiday_voucher": FIFTY}
    with pytest.raises(InvalidInput) as exc:
        services.checkout_open(
            participant=payer,
            legs=[LegRequest(method=m, source=sources[m], amount=a) for m, a in legs],
        )
    assert exc.value.code == code
    assert not Checkout.objects.exists()
    assert voucher_state(merchant).available == 5000


@pytest.mark.django_db
def test_the_merchant_s_combination_rules_are_enforced(merchant, payer, tokenise):
    token = tokenise(SUCCEEDS)
    services.payment_method_configure(
        merchant=merchant, method="holiday_voucher", combinable_with=["paypal"]
    )
    with pytest.raises(InvalidInput) as exc:
        combined(payer, token)
    assert exc.value.code == "combination_not_allowed"

    services.payment_method_configure(
        merchant=merchant, method="holiday_voucher", any_combination=True
    )
    services.payment_method_configure(merchant=merchant, method="card", min_leg_amount=5000)
    with pytest.raises(InvalidInput) as exc:
        combined(payer, token)
    assert exc.value.code == "leg_below_minimum"
    assert "€50.00" in exc.value.message

    services.payment_method_configure(merchant=merchant, method="card", min_leg_amount=0)
    services.payment_settings_update(merchant=merchant, max_methods_per_payment=1)
    with pytest.raises(InvalidInput) as exc:
        combined(payer, token)
    assert exc.value.code == "too_many_methods"
    assert not Checkout.objects.exists()

    services.payment_settings_update(merchant=merchant, max_methods_per_payment=2)
    assert combined(payer, token).status == "succeeded"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"method": "card", "combinable_with": ["nope"]}, "method"),
        ({"method": "card", "combinable_with": ["card"]}, "combinable_with"),
        ({"method": "card", "combinable_with": "holiday_voucher"}, "combinable_with"),
        ({"method": "card", "min_leg_amount": -1}, "min_leg_amount"),
        ({"method": "card", "min_leg_amount": True}, "min_leg_amount"),
        ({"method": "nope"}, "method"),
    ],
)
@pytest.mark.django_db
def test_bad_combination_rules_are_refused(merchant, kwargs, field):
    with pytest.raises(InvalidInput) as exc:
        services.payment_method_configure(merchant=merchant, **kwargs)
    assert exc.value.field == field


@pytest.mark.parametrize("value", [0, 6, True, "3"])
@pytest.mark.django_db
def test_the_methods_limit_stays_between_one_and_five(merchant, value):
    with pytest.raises(InvalidInput):
        services.payment_settings_update(merchant=merchant, max_methods_per_payment=value)


@pytest.mark.django_db
def test_configuring_rules_does_not_switch_a_method_on(merchant):
    row = services.payment_method_configure(merchant=merchant, method="paypal", min_leg_amount=100)
    assert row.enabled is False
    row = services.payment_method_configure(merchant=merchant, method="card", min_leg_amount=100)
    assert row.enabled is True


@pytest.mark.django_db
def test_on_completion_holds_every_leg_until_the_collection_is_held(merchant, tokenise):
    services.payment_method_enable(merchant=merchant, method="holiday_voucher")
    pr = make_request(
        merchant,
        total_amount=16000,
        participants=participants(2, amount=8000),
        capture_mode="on_completion",
        deadline=timezone.now() + timedelta(days=3),
        expires_at=timezone.now() + timedelta(days=5),
    )
    first, second = pr.participants.order_by("id")
    held = combined(first, tokenise(SUCCEEDS))
    assert held.status == "authorised"
    assert {leg.status for leg in held.legs.all()} == {Leg.Status.AUTHORISED}
    assert voucher_state(merchant).held == 5000

    assert services.checkout_start(participant=second, method="card", source=tokenise()).status == (
        "succeeded"
    )
    held.refresh_from_db()
    assert held.status == "succeeded"
    assert voucher_state(merchant).spent == 5000
