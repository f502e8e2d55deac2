"""A payer pays their share through a checkout: reserve, authorise, capture, book."""

import pytest
from django.core import mail

from payments import services
from payments.models import Checkout, Leg
from payments.sandbox.selectors import sandbox_card_balance
from pushpay.errors import InvalidInput, StateConflict
from requests_app import services as request_services
from requests_app.models import RequestEvent
from requests_app.services import ParticipantData
from scenarios.models import OutboxMessage
from tests.factories import make_request
from tests.payments.conftest import CHALLENGE, DECLINED, INSUFFICIENT_FUNDS, SUCCEEDS, TIMEOUT


@pytest.fixture
def pr(merchant):
    return make_request(merchant)


def pay(participant, token, **kwargs):
    return services.checkout_start(participant=participant, method="card", source=token, **kwargs)


@pytest.mark.django_db
def test_a_good_card_pays_the_share_books_it_and_emails_a_receipt(
    pr, tokenise, django_capture_on_commit_callbacks
):
    payer = pr.participants.first()
    token = tokenise(SUCCEEDS)

    with django_capture_on_commit_callbacks(execute=True):
        checkout = pay(payer, token)

    assert checkout.status == Checkout.Status.SUCCEEDED
    assert checkout.amount == 1000
    leg = checkout.legs.get()
    assert (leg.status, leg.source_last4) == (Leg.Status.CAPTURED, "4242")
    payer.refresh_from_db()
    pr.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 1000)
    assert (pr.status, pr.amount_paid) == ("partially_paid", 1000)
    assert sandbox_card_balance(token=token).debited == 1000
    assert sandbox_card_balance(token=token).held == 0
    assert RequestEvent.objects.filter(type="payment_succeeded", participant=payer).exists()
    # A test-mode receipt stays in the local outbox, never in the configured email backend.
    assert mail.outbox == []
    receipt = OutboxMessage.objects.get(channel="email")
    assert (receipt.to, receipt.livemode, receipt.merchant_id) == (
        payer.email,
        False,
        pr.merchant_id,
    )
    assert "€10.00" in receipt.text
    assert checkout.public_id in receipt.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("card", "reason"),
    [(DECLINED, "declined"), (INSUFFICIENT_FUNDS, "insufficient_funds")],
)
def test_a_refused_card_charges_nothing_and_lets_the_payer_retry(pr, tokenise, card, reason):
    payer = pr.participants.first()
    bad = tokenise(card)

    failed = pay(payer, bad)

    assert (failed.status, failed.failure_reason) == ("failed", reason)
    payer.refresh_from_db()
    assert payer.status == "failed"
    assert sandbox_card_balance(token=bad).debited == 0
    assert (
        RequestEvent.objects.filter(type="payment_failed", participant=payer)
        .get()
        .payload["reason"]
        == reason
    )

    retried = pay(payer, tokenise(SUCCEEDS))
    assert retried.status == "succeeded"
    payer.refresh_from_db()
    assert payer.status == "paid"


@pytest.mark.django_db
def test_a_timeout_at_the_provider_leaves_no_hold_and_no_debit(pr, tokenise):
    payer = pr.participants.first()
    token = tokenise(TIMEOUT)

    checkout = pay(payer, token)

    assert (checkout.status, checkout.failure_reason) == ("failed", "provider_error")
    balance = sandbox_card_balance(token=token)
    assert (balance.held, balance.debited) == (0, 0)


@pytest.mark.django_db
def test_3ds_approved_then_resumed_captures_once(pr, tokenise, client):
    payer = pr.participants.first()
    token = tokenise(CHALLENGE)

    checkout = pay(payer, token, return_url=lambda co: "https://shop.example/back")
    assert checkout.status == "requires_action"
    leg = checkout.legs.get()
    assert leg.action_url

    client.post(leg.action_url, {"decision": "approve"})
    done = services.checkout_resume(checkout=checkout)
    again = services.checkout_resume(checkout=Checkout.objects.get(pk=checkout.pk))

    assert done.status == again.status == "succeeded"
    assert sandbox_card_balance(token=token).debited == 1000
    payer.refresh_from_db()
    assert payer.amount_paid == 1000


@pytest.mark.django_db
def test_3ds_refused_fails_with_authentication_failed(pr, tokenise, client):
    payer = pr.participants.first()
    token = tokenise(CHALLENGE)
    checkout = pay(payer, token)
    client.post(checkout.legs.get().action_url, {"decision": "refuse"})

    done = services.checkout_resume(checkout=checkout)

    assert (done.status, done.failure_reason) == ("failed", "authentication_failed")
    assert sandbox_card_balance(token=token).debited == 0


@pytest.mark.django_db
def test_a_payer_who_leaves_3ds_and_starts_again_pays_once(pr, tokenise, client):
    payer = pr.participants.first()
    first_card = tokenise(CHALLENGE)
    abandoned = pay(payer, first_card)
    other_card = tokenise(SUCCEEDS)

    done = pay(payer, other_card)

    assert done.status == "succeeded"
    abandoned.refresh_from_db()
    assert (abandoned.status, abandoned.failure_reason) == ("cancelled", "abandoned")
    # Approving the old challenge now takes nothing
    client.post(abandoned.legs.get().action_url, {"decision": "approve"})
    assert services.checkout_resume(checkout=abandoned).status == "cancelled"
    assert sandbox_card_balance(token=first_card).debited == 0
    assert sandbox_card_balance(token=other_card).debited == 1000


@pytest.mark.django_db
def test_an_authorised_share_blocks_a_second_payment_of_it(merchant, tokenise):
    from datetime import timedelta

    from django.utils import timezone

    pr = make_request(
        merchant,
        capture_mode="on_completion",
        deadline=timezone.now() + timedelta(days=2),
        expires_at=timezone.now() + timedelta(days=5),
    )
    payer = pr.participants.first()
    assert pay(payer, tokenise(SUCCEEDS)).status == "authorised"
    other_card = tokenise("5555555555554444")

    with pytest.raises(StateConflict) as refused:
        pay(payer, other_card)

    assert refused.value.code == "payment_in_progress"
    assert sandbox_card_balance(token=other_card).held == 0


@pytest.mark.django_db
def test_abandoned_3ds_reservations_are_released_by_the_job(merchant, tokenise):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from payments.tasks import release_abandoned_checkouts

    pot = make_request(
        merchant,
        amount_mode="free",
        total_amount=1000,
        participants=[ParticipantData(name=n, email=f"{n}@example.com") for n in "ab"],
    )
    a, b = pot.participants.all()
    pay(a, tokenise(CHALLENGE), amount=1000)  # a walks away at the 3-D Secure page
    with pytest.raises(InvalidInput):
        pay(b, tokenise(SUCCEEDS), amount=1000)

    assert release_abandoned_checkouts() == 0  # too early to call it abandoned
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        assert release_abandoned_checkouts() == 1
        assert pay(b, tokenise(SUCCEEDS), amount=1000).status == "succeeded"


@pytest.mark.django_db
def test_paying_again_after_success_is_refused_and_charges_nothing(pr, tokenise):
    payer = pr.participants.first()
    token = tokenise(SUCCEEDS)
    pay(payer, token)
    with pytest.raises(StateConflict) as refused:
        pay(payer, token)
    assert refused.value.code == "payment_not_expected"
    assert sandbox_card_balance(token=token).debited == 1000


@pytest.mark.django_db
def test_a_tampered_token_fails_cleanly(pr):
    payer = pr.participants.first()
    checkout = pay(payer, "tok_forged0000000000000000")
    assert (checkout.status, checkout.failure_reason) == ("failed", "not_accepted")
    payer.refresh_from_db()
    assert payer.amount_paid == 0


@pytest.mark.django_db
def test_a_method_the_request_does_not_allow_is_refused(merchant, tokenise):
    from payments.services import payment_method_disable

    pr = make_request(merchant)
    payment_method_disable(merchant=merchant, method="card")
    with pytest.raises(InvalidInput) as refused:
        pay(pr.participants.first(), tokenise(SUCCEEDS))
    assert refused.value.code == "payment_method_not_allowed"
    assert Checkout.objects.count() == 0


@pytest.mark.django_db
def test_free_amounts_respect_the_target_including_payments_in_flight(merchant, tokenise):
    pot = make_request(
        merchant,
        amount_mode="free",
        total_amount=3000,
        min_amount=100,
        participants=[ParticipantData(name=n, email=f"{n}@example.com") for n in "abc"],
    )
    a, b, c = pot.participants.all()
    pay(a, tokenise(CHALLENGE), amount=2000)  # 20.00 held, waiting for 3-D Secure

    with pytest.raises(InvalidInput) as refused:
        pay(b, tokenise(SUCCEEDS), amount=1500)
    assert refused.value.code == "amount_above_remaining"

    assert pay(b, tokenise(SUCCEEDS), amount=1000).status == "succeeded"
    with pytest.raises(InvalidInput):
        pay(c, tokenise(SUCCEEDS), amount=50)  # below the minimum


@pytest.mark.django_db
def test_a_request_cancelled_during_3ds_refunds_the_payer(pr, tokenise, client):
    payer = pr.participants.first()
    token = tokenise(CHALLENGE)
    checkout = pay(payer, token)
    client.post(checkout.legs.get().action_url, {"decision": "approve"})
    request_services.payment_request_cancel(payment_request=pr)

    done = services.checkout_resume(checkout=checkout)

    assert done.status == "refunded"
    balance = sandbox_card_balance(token=token)
    assert (balance.held, balance.debited) == (0, 0)
