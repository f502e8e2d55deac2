"""The payer's "Cancel this payment": a checkout still waiting for them releases every hold;
one that went further is left alone."""

import pytest

from payments import services
from payments.models import Checkout
from payments.sandbox import vouchers
from payments.services import LegRequest
from tests.factories import make_request, participants
from tests.payments.conftest import SUCCEEDS

FIFTY = "1000000050"


@pytest.fixture
def payer(merchant):
    services.payment_method_enable(merchant=merchant, method="holiday_voucher")
    services.payment_method_enable(merchant=merchant, method="paypal")
    pr = make_request(merchant, total_amount=8000, participants=participants(1, amount=8000))
    return pr.participants.get()


def held(merchant):
    return vouchers.voucher_balance(merchant=merchant, number=FIFTY).held


@pytest.mark.django_db
def test_a_waiting_checkout_is_cancelled_and_its_voucher_hold_released(merchant, payer):
    checkout = services.checkout_open(
        participant=payer,
        legs=[
            LegRequest(method="holiday_voucher", source=FIFTY, amount=5000),
            LegRequest(method="paypal", source="paypal", amount=3000),
        ],
        return_url=lambda co: "http://testserver/back/",
    )
    assert checkout.status == "requires_action" and held(merchant) == 5000

    cancelled = services.checkout_abandon(checkout=checkout)

    assert (cancelled.status, cancelled.failure_reason) == ("cancelled", "payer_cancelled")
    assert {leg.status for leg in cancelled.legs.all()} == {"voided"}
    assert held(merchant) == 0
    # Twice is the same as once.
    assert services.checkout_abandon(checkout=cancelled).status == "cancelled"


@pytest.mark.django_db
def test_a_paid_checkout_is_left_alone(merchant, payer, tokenise):
    checkout = services.checkout_open(
        participant=payer,
        legs=[
            LegRequest(method="holiday_voucher", source=FIFTY, amount=5000),
            LegRequest(method="card", source=tokenise(SUCCEEDS), amount=3000),
        ],
    )
    assert checkout.status == "succeeded"
    assert services.checkout_abandon(checkout=checkout).status == "succeeded"
    assert Checkout.objects.get().status == "succeeded"
