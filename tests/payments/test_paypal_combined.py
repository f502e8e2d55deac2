"""PayPal at the merchant's own PayPal app and a card at its own Stripe account in one
payment, both real providers' APIs (local stubs): all or nothing."""

import pytest

from payments.models import Checkout, Leg
from payments.sandbox.paypal_models import SandboxPayPalOrder
from requests_app.services import ParticipantData
from tests.factories import make_request
from tests.payments.paypal_helpers import last_order, path_of
from tests.payments.stripe_helpers import DECLINED, back_from_stripe, finish_at_stripe, intent_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def payer(merchant, paypal_test_account, stripe_test_account):
    payment_request = make_request(
        merchant,
        total_amount=8000,
        participants=[ParticipantData(name="Zoé", email="zoe@example.com", amount=8000)],
    )
    return payment_request.participants.get()


def paypal_then_stripe(client, payer, paypal_stub, stripe_stub):
    """Pay 50 with PayPal and 30 by card: approve at PayPal, land on Stripe Checkout."""
    response = client.post(
        f"/pay/{payer.link_token}/",
        {"methods": ["paypal", "card"], "amount_paypal": "50", "amount_card": "30"},
    )
    assert response.status_code == 302
    assert response.url.startswith(f"{paypal_stub.base_url('sandbox')}/checkoutnow")
    status, back = paypal_stub.decide(response.url)
    assert status == 303
    to_stripe = client.get(path_of(back))
    assert to_stripe.status_code == 302, to_stripe
    assert to_stripe.url.startswith(f"{stripe_stub.base_url}/pay/cs_")
    return to_stripe.url


def test_a_card_declined_after_paypal_authorised_voids_paypal_and_captures_nothing(
    client, payer, paypal_stub, stripe_stub
):
    checkout_url = paypal_then_stripe(client, payer, paypal_stub, stripe_stub)
    authorization = last_order(paypal_stub)["purchase_units"][0]["payments"]["authorizations"][0]
    assert (authorization["status"], authorization["amount"]["value"]) == ("CREATED", "50.00")

    finish_at_stripe(client, stripe_stub, checkout_url, DECLINED)
    answer = back_from_stripe(client, stripe_stub)

    assert answer.status_code == 402
    checkout = Checkout.objects.get()
    legs = {leg.method: leg for leg in checkout.legs.all()}
    assert checkout.status == Checkout.Status.FAILED
    assert (legs["card"].status, legs["card"].failure_reason) == ("failed", "declined")
    assert legs["paypal"].provider == "paypal"
    assert legs["paypal"].status in (Leg.Status.VOIDED, Leg.Status.FAILED)
    payments = last_order(paypal_stub)["purchase_units"][0]["payments"]
    assert payments["authorizations"][0]["status"] == "VOIDED"
    assert "captures" not in payments
    [void] = paypal_stub.calls("POST", "/void")
    assert void["request_id"] == f"{legs['paypal'].public_id}:void"
    assert intent_of(stripe_stub)["amount_received"] == 0
    assert not paypal_stub.calls("POST", "/capture")
    assert not [c for c in stripe_stub.calls("POST") if c["path"].endswith("/capture")]
    assert not SandboxPayPalOrder.objects.exists()
    payer.refresh_from_db()
    assert payer.amount_paid == 0


def test_both_held_are_captured_together(client, payer, paypal_stub, stripe_stub):
    checkout_url = paypal_then_stripe(client, payer, paypal_stub, stripe_stub)

    receipt = finish_at_stripe(client, stripe_stub, checkout_url)

    assert receipt.status_code == 302 and "/receipt/" in receipt.url
    assert {leg.status for leg in Leg.objects.all()} == {"captured"}
    captures = last_order(paypal_stub)["purchase_units"][0]["payments"]["captures"]
    assert [c["amount"]["value"] for c in captures] == ["50.00"]
    assert intent_of(stripe_stub)["amount_received"] == 3000
    payer.refresh_from_db()
    assert payer.amount_paid == 8000
