"""PayPal through the merchant's own PayPal app: the REST adapter against the local stub."""

import pytest
from django.utils import timezone

from payments import services as payment_services
from payments.adapters.base import FailureReason, PaymentStatus, ProviderTimeout
from payments.adapters.paypal_rest import (
    PayPalRestAdapter,
    from_paypal_value,
    to_paypal_value,
)
from payments.adapters.sandbox_paypal import SandboxPayPalAdapter
from payments.models import Checkout, Leg, LegOperation
from payments.registry import adapter_for, payment_method_available
from payments.sandbox.paypal_models import SandboxPayPalOrder
from payments.services.recovery import STALE_AFTER, checkouts_recover_stale
from pushpay.errors import InvalidInput, StateConflict
from requests_app.models import Participant
from requests_app.services import ParticipantData
from tests.factories import make_request
from tests.payments.paypal_helpers import (
    decide_at_paypal,
    last_order,
    pay_with_paypal,
    start_paypal_payment,
)
from tests.stubs.stripe_accounts import PAYPAL_LIVE_CLIENT_ID, PAYPAL_SANDBOX_CLIENT_ID

pytestmark = pytest.mark.django_db

RETURN_URL = "http://testserver/pay/abc/return/co_1/"


def held_at_paypal(client, merchant, stub, amount=2500):
    """A PayPal payment held (on_completion: the request waits for the other payer); PayPal
    guarantees an authorization's funds for 3 days, so the request ends sooner."""
    soon = timezone.now() + timezone.timedelta(days=2)
    payment_request = make_request(
        merchant,
        total_amount=amount * 2,
        participants=[
            ParticipantData(name="Ann", email="ann@example.com", amount=amount),
            ParticipantData(name="Bob", email="bob@example.com", amount=amount),
        ],
        capture_mode="on_completion",
        deadline=soon,
        expires_at=soon,
    )
    payer = payment_request.participants.first()
    answer = pay_with_paypal(client, payer, stub)
    assert answer.status_code == 302 and "/held/" in answer.url, answer
    return payment_request, Leg.objects.get(checkout__participant=payer)


def one_share(merchant, amount=2500, currency="EUR", **extra):
    payment_request = make_request(
        merchant,
        currency=currency,
        total_amount=amount,
        participants=[ParticipantData(name="Zoé", email="zoe@example.com", amount=amount)],
        **extra,
    )
    return payment_request.participants.get()


def paypal(merchant, livemode=False) -> PayPalRestAdapter:
    adapter = adapter_for(merchant=merchant, method="paypal", livemode=livemode)
    assert isinstance(adapter, PayPalRestAdapter)
    return adapter


def authorise(adapter, amount=1200, currency="EUR", key="leg_x:authorise"):
    return adapter.authorise(
        amount=amount,
        currency=currency,
        source="paypal",
        idempotency_key=key,
        return_url=RETURN_URL,
    )


# --- the payer's way: our page, PayPal's page, back ----------------------------------------


def test_a_paypal_payment_is_approved_at_paypal_authorized_on_return_and_captured(
    client, merchant, paypal_test_account, paypal_stub
):
    payer = one_share(merchant)

    approval_url = start_paypal_payment(client, payer, paypal_stub)
    # Not booked before PayPal says the money is held: the leg waits for the payer.
    assert Checkout.objects.get().status == Checkout.Status.REQUIRES_ACTION
    assert not paypal_stub.calls("POST", "/authorize")
    receipt = decide_at_paypal(client, paypal_stub, approval_url)

    assert receipt.status_code == 302 and "/receipt/co_" in receipt.url
    checkout = Checkout.objects.get()
    leg = checkout.legs.get()
    assert (checkout.status, leg.status, leg.provider) == ("succeeded", "captured", "paypal")
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == (Participant.Status.PAID, 2500)
    order = last_order(paypal_stub)
    assert leg.provider_reference == order["id"]
    payments = order["purchase_units"][0]["payments"]
    assert payments["authorizations"][0]["status"] == "CAPTURED"
    assert payments["captures"][0]["amount"] == {"currency_code": "EUR", "value": "25.00"}
    # What the adapter asked PayPal for: an AUTHORIZE order, returning to our page.
    create = paypal_stub.calls("POST", "/v2/checkout/orders")[0]
    assert create["body"]["intent"] == "AUTHORIZE"
    unit = create["body"]["purchase_units"][0]
    assert unit["amount"] == {"currency_code": "EUR", "value": "25.00"}
    assert unit["custom_id"] == leg.public_id
    context = create["body"]["payment_source"]["paypal"]["experience_context"]
    assert context["return_url"].endswith(f"/pay/{payer.link_token}/return/{checkout.public_id}/")
    assert context["cancel_url"].endswith("?provider_cancelled=1")
    assert create["request_id"] == f"{leg.public_id}:authorise"
    [authorize] = paypal_stub.calls("POST", "/authorize")
    assert authorize["request_id"] == f"{order['id']}:authorize"
    [capture] = paypal_stub.calls("POST", "/capture")
    assert capture["request_id"] == f"{leg.public_id}:capture"
    assert capture["body"] == {
        "amount": {"currency_code": "EUR", "value": "25.00"},
        "final_capture": True,
    }
    # Only the sandbox environment (the merchant's test-mode app) was ever called.
    assert {call["environment"] for call in paypal_stub.requests} == {"sandbox"}
    assert not SandboxPayPalOrder.objects.exists()


def test_the_return_page_books_nothing_until_paypal_says_the_order_is_approved(
    client, merchant, paypal_test_account, paypal_stub
):
    payer = one_share(merchant)
    start_paypal_payment(client, payer, paypal_stub)
    checkout = Checkout.objects.get()

    # A forged return (the payer never approved at PayPal): PayPal is asked, and still waits.
    forged = client.get(
        f"/pay/{payer.link_token}/return/{checkout.public_id}/?token=X&PayerID=Y&paid=1"
    )

    assert forged.status_code == 302
    assert forged.url.startswith(paypal_stub.base_url("sandbox"))
    checkout.refresh_from_db()
    assert checkout.status == Checkout.Status.REQUIRES_ACTION
    assert not paypal_stub.calls("POST", "/authorize")
    payer.refresh_from_db()
    assert payer.amount_paid == 0


def test_cancelling_at_paypal_cancels_the_payment_and_holds_nothing(
    client, merchant, paypal_test_account, paypal_stub
):
    payer = one_share(merchant)
    approval_url = start_paypal_payment(client, payer, paypal_stub)

    back = decide_at_paypal(client, paypal_stub, approval_url, "cancel")

    assert back.status_code == 302 and "cancelled=co_" in back.url
    assert Checkout.objects.get().status == Checkout.Status.CANCELLED
    assert not paypal_stub.calls("POST", "/authorize")
    assert not paypal_stub.calls("POST", "/void")


def test_a_payer_declined_at_authorization_fails_the_leg_with_its_reason(
    client, merchant, paypal_test_account, paypal_stub
):
    payer = one_share(merchant)
    approval_url = start_paypal_payment(client, payer, paypal_stub)
    paypal_stub.fail("POST", "/authorize", "declined")

    answer = decide_at_paypal(client, paypal_stub, approval_url)

    assert answer.status_code == 402
    leg = Leg.objects.get()
    assert (leg.status, leg.failure_reason) == ("failed", FailureReason.DECLINED)
    assert "INSTRUMENT_DECLINED" in LegOperation.objects.filter(result="failed").get().message
    assert "PayPal declined the payment" in answer.content.decode()
    assert "captures" not in last_order(paypal_stub)["purchase_units"][0].get("payments", {})


def test_a_capture_declined_by_paypal_fails_and_captures_nothing(
    client, merchant, paypal_test_account, paypal_stub
):
    payer = one_share(merchant)
    approval_url = start_paypal_payment(client, payer, paypal_stub)
    paypal_stub.fail("POST", "/capture", "declined")

    answer = decide_at_paypal(client, paypal_stub, approval_url)

    assert answer.status_code == 402
    leg = Leg.objects.get()
    # A capture refused after the hold is the saga's provider_error, PayPal's words kept.
    assert (leg.status, leg.failure_reason) == ("failed", "provider_error")
    assert "INSTRUMENT_DECLINED" in LegOperation.objects.get(operation="capture").message
    payments = last_order(paypal_stub)["purchase_units"][0]["payments"]
    assert "captures" not in payments
    # The hold the refused capture left is released at PayPal.
    assert payments["authorizations"][0]["status"] == "VOIDED"
    payer.refresh_from_db()
    assert payer.amount_paid == 0


def test_a_held_paypal_payment_is_voided_when_the_request_is_cancelled(
    client, merchant, paypal_test_account, paypal_stub, django_capture_on_commit_callbacks
):
    from requests_app import services as request_services

    payment_request, leg = held_at_paypal(client, merchant, paypal_stub)
    assert leg.status == Leg.Status.AUTHORISED
    assert not paypal_stub.calls("POST", "/capture")

    with django_capture_on_commit_callbacks(execute=True):
        request_services.payment_request_cancel(payment_request=payment_request)

    leg.refresh_from_db()
    assert leg.status == Leg.Status.VOIDED
    [void] = paypal_stub.calls("POST", "/void")
    assert void["request_id"] == f"{leg.public_id}:void"
    payments = last_order(paypal_stub)["purchase_units"][0]["payments"]
    assert payments["authorizations"][0]["status"] == "VOIDED"


def test_refund_and_partial_refund_go_back_through_paypal(
    client, merchant, paypal_test_account, paypal_stub
):
    from payments.services import RefundLine

    payer = one_share(merchant, amount=4000)
    pay_with_paypal(client, payer, paypal_stub)
    payment_request = payer.request

    payment_services.payment_request_refund(
        payment_request=payment_request, lines=[RefundLine(participant=payer, amount=1500)]
    )
    leg = Leg.objects.get()
    assert (leg.status, leg.amount_refunded) == ("partially_refunded", 1500)
    payment_services.payment_request_refund(payment_request=payment_request)

    leg.refresh_from_db()
    payer.refresh_from_db()
    assert (leg.status, leg.amount_refunded, payer.amount_refunded) == ("refunded", 4000, 4000)
    refunds = paypal_stub.calls("POST", "/refund")
    assert [r["body"]["amount"]["value"] for r in refunds] == ["15.00", "25.00"]
    assert refunds[0]["request_id"] == f"{leg.public_id}:refund:0:1500"
    assert refunds[1]["request_id"] == f"{leg.public_id}:refund:1500:2500"
    capture = last_order(paypal_stub)["purchase_units"][0]["payments"]["captures"][0]
    assert capture["status"] == "REFUNDED"


def test_a_refund_above_what_paypal_took_is_a_conflict_not_a_payer_outcome(
    client, merchant, paypal_test_account, paypal_stub
):
    payer = one_share(merchant, amount=1000)
    pay_with_paypal(client, payer, paypal_stub)
    leg = Leg.objects.get()

    with pytest.raises(StateConflict):
        paypal(merchant).refund(
            reference=leg.provider_reference, amount=1001, idempotency_key="too-much"
        )
    with pytest.raises(StateConflict):
        paypal(merchant).capture(
            reference=leg.provider_reference, amount=1000, idempotency_key="twice"
        )


# --- lost answers and replays ------------------------------------------------------------


def test_a_capture_whose_answer_is_lost_is_learnt_from_paypal_by_recovery(
    client, merchant, paypal_test_account, paypal_stub
):
    payer = one_share(merchant)
    approval_url = start_paypal_payment(client, payer, paypal_stub)
    paypal_stub.fail("POST", "/capture", "timeout")

    answer = decide_at_paypal(client, paypal_stub, approval_url)

    # PayPal captured, but the answer never came: the leg is neither booked nor failed.
    assert answer.status_code == 202
    leg = Leg.objects.get()
    assert leg.status == Leg.Status.UNKNOWN
    assert Checkout.objects.get().status == Checkout.Status.PENDING
    # The release tried after the lost answer was refused: the money was taken.
    assert len(paypal_stub.calls("POST", "/void")) == 1
    payer.refresh_from_db()
    assert payer.amount_paid == 0

    Checkout.objects.update(updated_at=timezone.now() - STALE_AFTER * 2)
    checkouts_recover_stale()

    leg.refresh_from_db()
    payer.refresh_from_db()
    assert (leg.status, payer.amount_paid) == ("captured", 2500)
    assert Checkout.objects.get().status == Checkout.Status.SUCCEEDED
    assert len(last_order(paypal_stub)["purchase_units"][0]["payments"]["captures"]) == 1


def test_an_order_creation_timeout_is_replayed_with_the_same_request_id_and_released(
    merchant, paypal_test_account, paypal_stub
):
    adapter = paypal(merchant)
    paypal_stub.fail("POST", "/v2/checkout/orders", "timeout")

    with pytest.raises(ProviderTimeout):
        authorise(adapter)
    replay = authorise(adapter)

    orders = paypal_stub.app(PAYPAL_SANDBOX_CLIENT_ID).orders
    assert len(orders) == 1  # the replay created nothing new
    assert replay.provider_reference == next(iter(orders))
    assert replay.status == PaymentStatus.REQUIRES_ACTION
    assert replay.action_url.startswith(f"{paypal_stub.base_url('sandbox')}/checkoutnow?token=")
    released = adapter.void(reference=replay.provider_reference, idempotency_key="leg_x:void")
    assert (released.status, released.amount) == (PaymentStatus.CANCELLED, 0)


@pytest.mark.parametrize("kind", ["500", "connection"])
def test_a_paypal_5xx_or_a_dropped_connection_is_no_answer(
    merchant, paypal_test_account, paypal_stub, kind
):
    paypal_stub.fail("POST", "/v2/checkout/orders", kind)

    with pytest.raises(ProviderTimeout):
        authorise(paypal(merchant), key=f"leg_{kind}:authorise")


def test_an_idempotent_replay_of_a_capture_captures_once(
    client, merchant, paypal_test_account, paypal_stub
):
    _request, leg = held_at_paypal(client, merchant, paypal_stub)
    adapter = paypal(merchant)

    first = adapter.capture(reference=leg.provider_reference, amount=2500, idempotency_key="c-1")
    again = adapter.capture(reference=leg.provider_reference, amount=2500, idempotency_key="c-1")

    assert (first.status, again.status) == (PaymentStatus.CAPTURED, PaymentStatus.CAPTURED)
    assert first.operation_reference == again.operation_reference
    assert len(last_order(paypal_stub)["purchase_units"][0]["payments"]["captures"]) == 1


def test_a_revoked_token_is_fetched_again_once_and_the_call_goes_through(
    merchant, paypal_test_account, paypal_stub
):
    adapter = paypal(merchant)
    authorise(adapter, key="leg_a:authorise")
    paypal_stub.fail("POST", "/v2/checkout/orders", "401")

    result = authorise(adapter, key="leg_b:authorise")

    assert result.status == PaymentStatus.REQUIRES_ACTION
    # One token for the first call, a second after PayPal refused the first.
    assert len(paypal_stub.calls("POST", "/v1/oauth2/token")) == 2


def test_the_token_is_fetched_once_and_reused_until_it_expires(
    merchant, paypal_test_account, paypal_stub
):
    adapter = paypal(merchant)
    for n in range(3):
        authorise(adapter, key=f"leg_{n}:authorise")

    assert len(paypal_stub.calls("POST", "/v1/oauth2/token")) == 1


# --- amounts and currencies --------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "sent"),
    [
        (2500, "EUR", "25.00"),
        (5, "USD", "0.05"),
        (123456, "GBP", "1234.56"),
        (1500, "JPY", "1500"),
        (1500, "HUF", "1500"),
        (9900, "TWD", "99"),
    ],
)
def test_amounts_map_exactly_to_paypal_values(amount, currency, sent):
    assert to_paypal_value(amount, currency) == sent
    assert from_paypal_value(sent, currency) == amount


@pytest.mark.parametrize(
    ("amount", "currency"), [(1, "TWD"), (12345, "TWD"), (1000, "KWD"), (1000, "XOF")]
)
def test_an_amount_or_currency_paypal_cannot_take_is_refused_before_any_call(
    merchant, paypal_test_account, paypal_stub, amount, currency
):
    result = authorise(paypal(merchant), amount=amount, currency=currency)

    assert (result.status, result.failure_reason) == ("failed", FailureReason.NOT_ACCEPTED)
    assert not paypal_stub.calls("POST", "/v2/checkout/orders")


def test_a_yen_payment_is_sent_without_decimals_and_booked_in_yen(
    client, merchant, paypal_test_account, paypal_stub
):
    payer = one_share(merchant, amount=1500, currency="JPY")

    pay_with_paypal(client, payer, paypal_stub)

    create = paypal_stub.calls("POST", "/v2/checkout/orders")[0]
    assert create["body"]["purchase_units"][0]["amount"] == {
        "currency_code": "JPY",
        "value": "1500",
    }
    leg = Leg.objects.get()
    assert (leg.status, leg.amount, leg.currency) == ("captured", 1500, "JPY")


# --- which adapter serves PayPal -----------------------------------------------------------


def test_without_a_paypal_app_test_mode_stays_on_the_sandbox_and_live_offers_no_paypal(
    merchant, paypal_stub
):
    assert isinstance(
        adapter_for(merchant=merchant, method="paypal", livemode=False), SandboxPayPalAdapter
    )
    assert not payment_method_available(merchant=merchant, method="paypal", livemode=True)
    with pytest.raises(InvalidInput) as refused:
        adapter_for(merchant=merchant, method="paypal", livemode=True)
    assert refused.value.code == "payment_method_unavailable"


def test_a_live_payment_goes_to_paypal_live_never_to_a_sandbox(
    client, merchant, paypal_live_account, paypal_stub
):
    payer = one_share(merchant, livemode=True)

    receipt = pay_with_paypal(client, payer, paypal_stub, environment="live")

    assert receipt.status_code == 302 and "/receipt/" in receipt.url
    leg = Leg.objects.get()
    assert (leg.livemode, leg.provider, leg.status) == (True, "paypal", "captured")
    assert {call["environment"] for call in paypal_stub.requests} == {"live"}
    assert last_order(paypal_stub, PAYPAL_LIVE_CLIENT_ID, "live")["id"] == leg.provider_reference
    assert not SandboxPayPalOrder.objects.exists()
    # The live app's test-mode counterpart is absent: test mode is still the sandbox.
    assert isinstance(
        adapter_for(merchant=merchant, method="paypal", livemode=False), SandboxPayPalAdapter
    )


def test_a_sandbox_app_saved_as_live_credentials_is_refused_by_paypal_live(merchant, paypal_stub):
    from payments.services.credentials import provider_credentials_save
    from tests.stubs.stripe_accounts import PAYPAL_SANDBOX_SECRET

    provider_credentials_save(
        merchant=merchant,
        livemode=True,
        provider="paypal",
        client_id=PAYPAL_SANDBOX_CLIENT_ID,
        secret_key=PAYPAL_SANDBOX_SECRET,
    )

    result = authorise(paypal(merchant, livemode=True))

    assert (result.status, result.failure_reason) == ("failed", FailureReason.PROVIDER_ERROR)
    assert not paypal_stub.app(PAYPAL_SANDBOX_CLIENT_ID).orders
    assert not paypal_stub.calls("POST", "/v2/checkout/orders")


def test_one_merchants_paypal_app_never_serves_another(
    merchant, other_merchant, paypal_test_account, paypal_stub
):
    assert isinstance(
        adapter_for(merchant=other_merchant, method="paypal", livemode=False),
        SandboxPayPalAdapter,
    )
    result = authorise(paypal(merchant))
    # Another merchant naming this merchant's order reaches nothing of it.
    other = adapter_for(merchant=other_merchant, method="paypal", livemode=False)
    with pytest.raises(Exception) as refused:
        other.retrieve(reference=result.provider_reference)
    assert not isinstance(refused.value, AssertionError)
