"""PayPal (the sandbox, test mode) and a card at the merchant's own Stripe test account in
one payment: all or nothing."""

import pytest

from payments import services as payment_services
from payments.models import Checkout, Leg
from payments.sandbox.paypal_models import SandboxPayPalOrder
from requests_app.services import ParticipantData
from tests.factories import make_request
from tests.payments.stripe_helpers import DECLINED, back_from_stripe, finish_at_stripe, intent_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def payer(merchant):
    payment_services.payment_method_enable(merchant=merchant, method="paypal")
    payment_request = make_request(
        merchant,
        total_amount=8000,
        participants=[ParticipantData(name="Zoé", email="zoe@example.com", amount=8000)],
    )
    return payment_request.participants.get()


def paypal_then_stripe(client, payer, stub):
    """Pay 50 with PayPal and 30 by card: approve at PayPal, land on Stripe Checkout."""
    response = client.post(
        f"/pay/{payer.link_token}/",
        {"methods": ["paypal", "card"], "amount_paypal": "50", "amount_card": "30"},
    )
    assert response.status_code == 302 and "/sandbox/paypal/" in response.url
    back = client.post(response.url.split("?")[0], {"decision": "approve"})
    to_stripe = client.get(back.url)
    assert to_stripe.status_code == 302 and to_stripe.url.startswith(f"{stub.base_url}/pay/cs_")
    return to_stripe.url


def test_a_card_declined_after_paypal_authorised_voids_paypal_and_captures_nothing(
    client, merchant, payer, stripe_test_account, stripe_stub
):
    checkout_url = paypal_then_stripe(client, payer, stripe_stub)
    order = SandboxPayPalOrder.objects.get()
    assert order.status == SandboxPayPalOrder.Status.COMPLETED  # PayPal holds 50.00

    finish_at_stripe(client, stripe_stub, checkout_url, DECLINED)
    answer = back_from_stripe(client, stripe_stub)

    assert answer.status_code == 402
    checkout = Checkout.objects.get()
    legs = {leg.method: leg for leg in checkout.legs.all()}
    assert checkout.status == Checkout.Status.FAILED
    assert (legs["card"].status, legs["card"].failure_reason) == ("failed", "declined")
    assert legs["paypal"].status in (Leg.Status.VOIDED, Leg.Status.FAILED)
    order.refresh_from_db()
    assert order.status == SandboxPayPalOrder.Status.VOIDED
    assert order.amount_captured == 0
    assert intent_of(stripe_stub)["amount_received"] == 0
    assert not stripe_stub.calls("POST", "refunds")
    assert not [c for c in stripe_stub.calls("POST") if c["path"].endswith("/capture")]
    payer.refresh_from_db()
    assert payer.amount_paid == 0


def test_both_held_are_captured_together(client, merchant, payer, stripe_test_account, stripe_stub):
    checkout_url = paypal_then_stripe(client, payer, stripe_stub)

    receipt = finish_at_stripe(client, stripe_stub, checkout_url)

    assert receipt.status_code == 302 and "/receipt/" in receipt.url
    assert {leg.status for leg in Leg.objects.all()} == {"captured"}
    assert SandboxPayPalOrder.objects.get().amount_captured == 5000
    assert intent_of(stripe_stub)["amount_received"] == 3000
    payer.refresh_from_db()
    assert payer.amount_paid == 8000
