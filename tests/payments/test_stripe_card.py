"""Cards through the merchant's own Stripe account: the real SDK against the local stub."""

import pytest
from django.utils import timezone

from payments import services as payment_services
from payments.adapters.base import FailureReason, PaymentStatus, ProviderTimeout
from payments.adapters.stripe_card import (
    StripeCardAdapter,
    from_stripe_amount,
    to_stripe_amount,
)
from payments.models import Checkout, Leg, LegOperation
from payments.registry import adapter_for
from payments.sandbox.models import SandboxAuthorisation
from payments.services.recovery import STALE_AFTER, checkouts_recover_stale
from pushpay.errors import InvalidInput, StateConflict
from requests_app.models import Participant
from requests_app.services import ParticipantData
from tests.factories import make_request
from tests.payments.conftest import STRIPE_TEST_KEY
from tests.payments.stripe_helpers import (
    DECLINED,
    INSUFFICIENT,
    VISA,
    back_from_stripe,
    finish_at_stripe,
    intent_of,
    last_session,
    pay_by_card,
    start_card_payment,
)

pytestmark = pytest.mark.django_db


def one_share(merchant, amount=2500, currency="EUR", **extra):
    payment_request = make_request(
        merchant,
        currency=currency,
        total_amount=amount,
        participants=[ParticipantData(name="Zoé", email="zoe@example.com", amount=amount)],
        **extra,
    )
    return payment_request.participants.get()


def stripe(merchant) -> StripeCardAdapter:
    adapter = adapter_for(merchant=merchant, method="card", livemode=False)
    assert isinstance(adapter, StripeCardAdapter)
    return adapter


# --- the payer's way: our page, Stripe's page, back ------------------------------------------


def test_a_card_payment_goes_through_stripe_checkout_and_is_booked_on_return(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = one_share(merchant)

    page = client.get(f"/pay/{payer.link_token}/").content.decode()
    checkout_url = start_card_payment(client, payer, stripe_stub)
    session = last_session(stripe_stub)
    # Not booked before the payer authorised at Stripe: the leg waits for them.
    assert Checkout.objects.get().status == Checkout.Status.REQUIRES_ACTION
    receipt = finish_at_stripe(client, stripe_stub, checkout_url)

    # Our page has no card input at all: Stripe collects the card.
    assert "sandbox-tokenize.js" not in page and 'name="card_token"' not in page
    assert "cc-number" not in page and "Card number" not in page
    assert receipt.status_code == 302 and "/receipt/co_" in receipt.url
    checkout = Checkout.objects.get()
    leg = checkout.legs.get()
    assert (checkout.status, leg.status, leg.provider) == ("succeeded", "captured", "stripe")
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == (Participant.Status.PAID, 2500)
    intent = intent_of(stripe_stub)
    assert leg.provider_reference == intent["id"]
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 2500)
    # What the adapter asked Stripe for: a Checkout Session holding the card, in cents.
    create = stripe_stub.calls("POST", "checkout/sessions")[0]
    assert create["params"]["mode"] == "payment"
    assert create["params"]["payment_intent_data"]["capture_method"] == "manual"
    price = create["params"]["line_items"][0]["price_data"]
    assert (price["currency"], price["unit_amount"]) == ("eur", "2500")
    assert create["idempotency_key"] == f"{leg.public_id}:authorise"
    assert session["success_url"].endswith(f"/pay/{payer.link_token}/return/{checkout.public_id}/")
    capture = stripe_stub.calls("POST", "payment_intents")[0]
    assert capture["path"].endswith("/capture")
    assert capture["idempotency_key"] == f"{leg.public_id}:capture"
    assert capture["params"] == {
        "amount_to_capture": "2500",
        "expand": ["latest_charge.balance_transaction"],
    }
    # Every call carried this merchant's own key, and no sandbox was touched.
    assert {call["api_key"] for call in stripe_stub.requests} == {STRIPE_TEST_KEY}
    assert not SandboxAuthorisation.objects.exists()


def test_no_card_number_reaches_our_server_or_our_books(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = one_share(merchant)
    pay_by_card(client, payer, stripe_stub)

    leg = Leg.objects.get()
    assert leg.source == "card"
    texts = [leg.source, leg.provider_reference, leg.action_url]
    for operation in LegOperation.objects.all():
        texts += [operation.message, operation.provider_reference, operation.operation_reference]
    assert not any(VISA in text or VISA[-8:] in text for text in texts)
    # Nor does the adapter ever send card data to Stripe's API: only the hosted page saw it.
    assert not any(VISA in call["raw"] for call in stripe_stub.requests)


def test_the_return_page_books_nothing_until_stripe_says_the_card_is_held(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = one_share(merchant)
    start_card_payment(client, payer, stripe_stub)
    checkout = Checkout.objects.get()

    # A forged return (the payer never paid at Stripe): Stripe is asked, and still waits.
    forged = client.get(f"/pay/{payer.link_token}/return/{checkout.public_id}/?paid=1")

    assert forged.status_code == 302 and forged.url.startswith(stripe_stub.base_url)
    checkout.refresh_from_db()
    assert checkout.status == Checkout.Status.REQUIRES_ACTION
    payer.refresh_from_db()
    assert payer.amount_paid == 0


def test_a_declined_card_fails_the_payment_with_its_reason_and_closes_the_stripe_page(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = one_share(merchant)
    checkout_url = start_card_payment(client, payer, stripe_stub)

    status, _page = finish_at_stripe(client, stripe_stub, checkout_url, DECLINED)
    answer = back_from_stripe(client, stripe_stub)

    assert status == 402
    assert answer.status_code == 402
    assert "Your bank declined the payment. Nothing was charged." in answer.content.decode()
    checkout = Checkout.objects.get()
    leg = checkout.legs.get()
    assert (checkout.status, leg.status, leg.failure_reason) == ("failed", "failed", "declined")
    # The session is expired: a second try on Stripe's page can no longer hold money.
    assert last_session(stripe_stub)["status"] == "expired"
    assert stripe_stub.complete(checkout_url.split("?")[0], VISA)[0] == 410


def test_insufficient_funds_is_reported_as_such(client, merchant, stripe_test_account, stripe_stub):
    payer = one_share(merchant)
    checkout_url = start_card_payment(client, payer, stripe_stub)
    finish_at_stripe(client, stripe_stub, checkout_url, INSUFFICIENT)
    back_from_stripe(client, stripe_stub)

    assert Leg.objects.get().failure_reason == FailureReason.INSUFFICIENT_FUNDS


def test_back_from_stripe_without_paying_cancels_the_payment_and_expires_the_session(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = one_share(merchant)
    start_card_payment(client, payer, stripe_stub)

    answer = back_from_stripe(client, stripe_stub)

    assert answer.status_code == 302 and "cancelled=co_" in answer.url
    page = client.get(answer.url.removeprefix("http://testserver")).content.decode()
    assert "You cancelled this payment. Nothing was charged." in page
    assert Checkout.objects.get().status == Checkout.Status.CANCELLED
    assert last_session(stripe_stub)["status"] == "expired"


# --- capture, void, refund ------------------------------------------------------------------


def authorised_at_stripe(client, merchant, stub, amount=2500):
    """A card held at Stripe (on_completion: the request waits for the other payers)."""
    soon = timezone.now() + timezone.timedelta(days=3)
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
    answer = pay_by_card(client, payer, stub)
    assert answer.status_code == 302 and "/held/" in answer.url, answer
    return payment_request, Leg.objects.get(checkout__participant=payer)


def test_a_held_card_is_captured_only_once_the_collection_completes(
    client, merchant, stripe_test_account, stripe_stub
):
    payment_request, leg = authorised_at_stripe(client, merchant, stripe_stub)
    intent = intent_of(stripe_stub)
    assert (leg.status, intent["status"], intent["amount_capturable"]) == (
        "authorised",
        "requires_capture",
        2500,
    )
    assert not stripe_stub.calls("POST", "payment_intents")

    second = payment_request.participants.exclude(pk=leg.checkout.participant_id).get()
    pay_by_card(client, second, stripe_stub)

    assert {leg.status for leg in Leg.objects.all()} == {"captured"}
    captures = [c for c in stripe_stub.calls("POST", "payment_intents") if "capture" in c["path"]]
    assert len(captures) == 2


def test_cancelling_the_request_voids_the_hold_at_stripe(
    client, merchant, stripe_test_account, stripe_stub, django_capture_on_commit_callbacks
):
    from requests_app import services as request_services

    payment_request, leg = authorised_at_stripe(client, merchant, stripe_stub)

    with django_capture_on_commit_callbacks(execute=True):
        request_services.payment_request_cancel(payment_request=payment_request)

    leg.refresh_from_db()
    assert leg.status == Leg.Status.VOIDED
    intent = intent_of(stripe_stub)
    assert (intent["status"], intent["amount_capturable"]) == ("canceled", 0)
    cancel = [c for c in stripe_stub.calls("POST", "payment_intents") if "cancel" in c["path"]]
    assert cancel[0]["idempotency_key"] == f"{leg.public_id}:void"


def test_refund_and_partial_refund_go_back_through_stripe(
    client, merchant, stripe_test_account, stripe_stub
):
    from payments.services import RefundLine

    payer = one_share(merchant, amount=4000)
    pay_by_card(client, payer, stripe_stub)
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
    refunds = stripe_stub.calls("POST", "refunds")
    assert [r["params"]["amount"] for r in refunds] == ["1500", "2500"]
    assert refunds[0]["idempotency_key"] == f"{leg.public_id}:refund:0:1500"
    assert refunds[1]["idempotency_key"] == f"{leg.public_id}:refund:1500:2500"
    charge = stripe_stub.account(STRIPE_TEST_KEY).charges[intent_of(stripe_stub)["latest_charge"]]
    assert (charge["amount_refunded"], charge["refunded"]) == (4000, True)
    operations = LegOperation.objects.filter(operation="refund", result="succeeded")
    assert all(op.operation_reference.startswith("re_") for op in operations)


def test_a_refund_above_what_stripe_holds_is_a_conflict_not_a_payer_outcome(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = one_share(merchant, amount=1000)
    pay_by_card(client, payer, stripe_stub)
    leg = Leg.objects.get()

    with pytest.raises(StateConflict):
        stripe(merchant).refund(
            reference=leg.provider_reference, amount=1001, idempotency_key="too-much"
        )
    with pytest.raises(StateConflict):
        stripe(merchant).capture(
            reference=leg.provider_reference, amount=1000, idempotency_key="twice"
        )


# --- lost answers and replays ------------------------------------------------------------------


def test_a_capture_whose_answer_is_lost_is_learnt_from_stripe_by_recovery(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = one_share(merchant)
    checkout_url = start_card_payment(client, payer, stripe_stub)
    stripe_stub.fail("POST", "payment_intents", "timeout")

    answer = finish_at_stripe(client, stripe_stub, checkout_url)

    # Stripe captured, but the answer never came: the leg is not booked, not failed either.
    assert answer.status_code == 202, (
        answer.status_code,
        answer.get("Location"),
        list(Leg.objects.values_list("status", flat=True)),
    )
    assert "Your payment is being confirmed" in answer.content.decode()
    intent = intent_of(stripe_stub)
    assert intent["status"] == "succeeded"
    leg = Leg.objects.get()
    assert leg.status == Leg.Status.UNKNOWN
    assert Checkout.objects.get().status == Checkout.Status.PENDING
    # The release tried after the lost answer was refused by Stripe: the money was taken.
    cancels = [c for c in stripe_stub.calls("POST") if c["path"].endswith("/cancel")]
    assert len(cancels) == 1 and intent_of(stripe_stub)["status"] == "succeeded"
    payer.refresh_from_db()
    assert payer.amount_paid == 0
    assert LegOperation.objects.filter(operation="capture", result="no_answer").exists()

    Checkout.objects.update(updated_at=timezone.now() - STALE_AFTER * 2)
    checkouts_recover_stale()

    leg.refresh_from_db()
    payer.refresh_from_db()
    assert (leg.status, payer.amount_paid) == ("captured", 2500)
    assert Checkout.objects.get().status == Checkout.Status.SUCCEEDED
    # Exactly one capture at Stripe: the replay used the same key.
    assert intent_of(stripe_stub)["amount_received"] == 2500


def test_an_authorisation_timeout_is_replayed_with_the_same_key_and_released(
    merchant, stripe_test_account, stripe_stub
):
    adapter = stripe(merchant)
    stripe_stub.fail("POST", "checkout/sessions", "timeout")

    with pytest.raises(ProviderTimeout):
        adapter.authorise(
            amount=1200,
            currency="EUR",
            source="card",
            idempotency_key="leg_x:authorise",
            return_url="http://testserver/return/",
        )
    replay = adapter.authorise(
        amount=1200,
        currency="EUR",
        source="card",
        idempotency_key="leg_x:authorise",
        return_url="http://testserver/return/",
    )

    sessions = stripe_stub.account(STRIPE_TEST_KEY).sessions
    assert len(sessions) == 1  # the replay created nothing new
    assert replay.provider_reference == next(iter(sessions))
    assert replay.status == PaymentStatus.REQUIRES_ACTION
    released = adapter.void(reference=replay.provider_reference, idempotency_key="leg_x:void")
    assert released.status == PaymentStatus.CANCELLED
    assert sessions[replay.provider_reference]["status"] == "expired"


def test_a_stripe_500_is_no_answer_and_the_same_key_with_other_parameters_is_refused(
    merchant, stripe_test_account, stripe_stub
):
    adapter = stripe(merchant)
    stripe_stub.fail("POST", "checkout/sessions", "500")

    with pytest.raises(ProviderTimeout):
        adapter.authorise(
            amount=1200,
            currency="EUR",
            source="card",
            idempotency_key="k1",
            return_url="http://testserver/r/",
        )
    with pytest.raises(ProviderTimeout):  # Stripe replays a 500 under its key
        adapter.authorise(
            amount=1200,
            currency="EUR",
            source="card",
            idempotency_key="k1",
            return_url="http://testserver/r/",
        )
    adapter.authorise(
        amount=1200,
        currency="EUR",
        source="card",
        idempotency_key="k2",
        return_url="http://testserver/r/",
    )
    with pytest.raises(StateConflict) as reused:
        adapter.authorise(
            amount=9999,
            currency="EUR",
            source="card",
            idempotency_key="k2",
            return_url="http://testserver/r/",
        )
    assert reused.value.code == "idempotency_key_reused"
    assert len(stripe_stub.account(STRIPE_TEST_KEY).sessions) == 1


def test_an_idempotent_replay_of_a_capture_captures_once(
    client, merchant, stripe_test_account, stripe_stub
):
    _payment_request, leg = authorised_at_stripe(client, merchant, stripe_stub)
    adapter = stripe(merchant)

    first = adapter.capture(reference=leg.provider_reference, amount=2500, idempotency_key="c1")
    again = adapter.capture(reference=leg.provider_reference, amount=2500, idempotency_key="c1")

    assert first == again and first.status == PaymentStatus.CAPTURED and first.amount == 2500
    assert first.operation_reference.startswith("ch_")
    assert intent_of(stripe_stub)["amount_received"] == 2500


# --- amounts and currencies ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "sent"),
    [
        (2500, "EUR", 2500),  # 25.00 EUR: cents
        (1999, "USD", 1999),
        (5000, "JPY", 5000),  # ¥5,000: JPY has no minor unit, at ISO and at Stripe
        (120, "KRW", 120),
        (1500, "ISK", 150000),  # Stripe takes ISK with two decimals
        (12340, "KWD", 12340),  # three decimals, the last one 0
    ],
)
def test_amounts_map_exactly_to_stripe_minor_units(amount, currency, sent):
    assert to_stripe_amount(amount, currency) == sent
    assert from_stripe_amount(sent, currency) == amount


def test_an_amount_stripe_cannot_express_is_refused_not_rounded():
    with pytest.raises(InvalidInput):
        to_stripe_amount(12345, "KWD")


def test_a_yen_payment_is_sent_as_yen_and_booked_in_yen(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = one_share(merchant, amount=5000, currency="JPY")
    pay_by_card(client, payer, stripe_stub)

    price = stripe_stub.calls("POST", "checkout/sessions")[0]["params"]["line_items"][0]
    assert (price["price_data"]["currency"], price["price_data"]["unit_amount"]) == ("jpy", "5000")
    payer.refresh_from_db()
    assert payer.amount_paid == 5000
    assert intent_of(stripe_stub)["amount_received"] == 5000


# --- which adapter serves whom --------------------------------------------------------------


def test_without_stripe_test_keys_test_mode_cards_stay_on_the_sandbox(merchant, stripe_stub):
    adapter = adapter_for(merchant=merchant, method="card", livemode=False)
    assert adapter.is_sandbox


def test_a_sandbox_hold_made_before_stripe_keys_were_entered_is_released_at_the_sandbox(
    client, merchant, stripe_stub, tokenise, django_capture_on_commit_callbacks
):
    from payments.services.credentials import provider_credentials_save
    from requests_app import services as request_services

    soon = timezone.now() + timezone.timedelta(days=3)
    payment_request = make_request(
        merchant, capture_mode="on_completion", deadline=soon, expires_at=soon
    )
    payer = payment_request.participants.first()
    client.post(f"/pay/{payer.link_token}/", {"card_token": tokenise()})
    leg = Leg.objects.get()
    assert (leg.status, leg.provider) == ("authorised", "sandbox")
    provider_credentials_save(merchant=merchant, livemode=False, secret_key=STRIPE_TEST_KEY)

    with django_capture_on_commit_callbacks(execute=True):
        request_services.payment_request_cancel(payment_request=payment_request)

    leg.refresh_from_db()
    assert leg.status == Leg.Status.VOIDED
    assert SandboxAuthorisation.objects.get().status == "cancelled"
    assert stripe_stub.requests == []


def test_one_merchants_stripe_key_never_serves_another(
    client, merchant, other_merchant, stripe_test_account, stripe_stub
):
    payer = one_share(merchant)
    pay_by_card(client, payer, stripe_stub)
    leg = Leg.objects.get()

    assert adapter_for(merchant=other_merchant, method="card", livemode=False).is_sandbox
    # Even handed the reference, another account's key finds nothing at Stripe.
    from payments.services.credentials import provider_credentials_save

    provider_credentials_save(
        merchant=other_merchant, livemode=False, secret_key="sk_test_51BetaShopTestKey0000000"
    )
    with pytest.raises(StateConflict):
        stripe(other_merchant).retrieve(reference=leg.provider_reference)
