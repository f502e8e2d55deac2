"""Cashback: a merchant's rule credits a share of each captured card or PayPal payment to
the payer's wallet (once per checkout), takes it back on refund, and tells the holder."""

import pytest

from notifications.dispatcher import dispatch_due
from notifications.models import Dispatch
from payments import services
from payments.services import LegRequest
from payments.wallet import services as wallet_services
from payments.wallet.models import CashbackGrant, Wallet
from requests_app.events import event_react
from requests_app.models import RequestEvent
from scenarios.models import OutboxMessage
from tests.factories import make_request, participants
from tests.payments.conftest import SUCCEEDS


def pay_by_card(merchant, tokenise, on_commit, amount=8000, language="fr"):
    pr = make_request(
        merchant,
        total_amount=amount,
        participants=participants(1, amount=amount),
        language=language,
    )
    payer = pr.participants.get()
    with on_commit(execute=True):
        checkout = services.checkout_start(participant=payer, method="card", source=tokenise())
    assert checkout.status == "succeeded"
    return pr, payer, checkout


def wallet_of(payer):
    wallet = Wallet.objects.get(holder_email=payer.email.lower())
    assert wallet_services.wallet_consistency_errors(wallet=wallet) == []
    return wallet


@pytest.mark.django_db
def test_cashback_is_credited_when_a_card_payment_is_captured(
    merchant, tokenise, django_capture_on_commit_callbacks
):
    wallet_services.cashback_rule_set(merchant=merchant, rate_bps=250, cap=150)

    _pr, payer, checkout = pay_by_card(merchant, tokenise, django_capture_on_commit_callbacks)

    wallet = wallet_of(payer)
    # 2.5 % of 80.00 is 2.00, capped at 1.50.
    assert (wallet.balance, wallet.livemode, wallet.currency) == (150, False, "EUR")
    credit = wallet.transactions.get()
    assert (credit.kind, credit.source, credit.reference) == (
        "credit",
        "cashback",
        checkout.public_id,
    )
    assert sorted(credit.postings.values_list("account", "amount")) == [
        ("available", 150),
        ("cashback", -150),
    ]
    # The reaction runs again (the sweep): nothing is credited twice.
    event = RequestEvent.objects.get(type="payment_succeeded")
    from payments.wallet.reactions import _credit_cashback

    _credit_cashback(event)
    assert wallet_of(payer).balance == 150
    assert CashbackGrant.objects.count() == 1


@pytest.mark.django_db
def test_no_rule_no_cashback_and_wallet_legs_earn_nothing(
    merchant, tokenise, django_capture_on_commit_callbacks
):
    pay_by_card(merchant, tokenise, django_capture_on_commit_callbacks)
    assert not Wallet.objects.exists()

    wallet_services.cashback_rule_set(merchant=merchant, rate_bps=1000)
    services.payment_method_enable(merchant=merchant, method="wallet")
    pr = make_request(merchant, total_amount=8000, participants=participants(1, amount=8000))
    payer = pr.participants.get()
    wallet = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email=payer.email
    )
    wallet_services.wallet_credit(wallet=wallet, amount=5000)
    with django_capture_on_commit_callbacks(execute=True):
        checkout = services.checkout_open(
            participant=payer,
            legs=[
                LegRequest(method="wallet", source=wallet.public_id, amount=5000),
                LegRequest(method="card", source=tokenise(SUCCEEDS), amount=3000),
            ],
        )
    assert checkout.status == "succeeded"
    # 10 % of the card's 30.00 only: money spent from the wallet earns no cashback.
    assert wallet_of(payer).balance == 300


@pytest.mark.django_db
def test_cashback_is_reversed_on_refund(merchant, tokenise, django_capture_on_commit_callbacks):
    wallet_services.cashback_rule_set(merchant=merchant, rate_bps=500)
    pr, payer, _checkout = pay_by_card(merchant, tokenise, django_capture_on_commit_callbacks)
    assert wallet_of(payer).balance == 400

    with django_capture_on_commit_callbacks(execute=True):
        services.payment_request_refund(
            payment_request=pr, lines=[services.RefundLine(payer, 2000)]
        )
    assert wallet_of(payer).balance == 300  # a quarter refunded: a quarter taken back

    with django_capture_on_commit_callbacks(execute=True):
        services.payment_request_refund(payment_request=pr)
    wallet = wallet_of(payer)
    assert wallet.balance == 0
    assert list(wallet.transactions.values_list("kind", flat=True)) == [
        "credit",
        "reversal",
        "reversal",
    ]
    for event in RequestEvent.objects.filter(type="payment_refunded"):
        event_react(event_pk=event.pk)
    grant = CashbackGrant.objects.get()
    assert (grant.amount, grant.amount_reversed, grant.amount_unrecovered) == (400, 400, 0)


@pytest.mark.django_db
def test_a_reversal_never_takes_the_wallet_below_zero(
    merchant, tokenise, django_capture_on_commit_callbacks
):
    wallet_services.cashback_rule_set(merchant=merchant, rate_bps=500)
    pr, payer, _checkout = pay_by_card(merchant, tokenise, django_capture_on_commit_callbacks)
    wallet = wallet_of(payer)
    wallet_services.wallet_adjust(wallet=wallet, amount=-300, reason="Spent in shop")

    with django_capture_on_commit_callbacks(execute=True):
        services.payment_request_refund(payment_request=pr)

    assert wallet_of(payer).balance == 0
    grant = CashbackGrant.objects.get()
    assert (grant.amount_reversed, grant.amount_unrecovered) == (100, 300)


@pytest.mark.django_db
def test_the_holder_is_told_of_cashback_by_email_in_french(
    merchant, tokenise, django_capture_on_commit_callbacks
):
    wallet_services.cashback_rule_set(merchant=merchant, rate_bps=500, valid_days=30)
    _pr, payer, _checkout = pay_by_card(merchant, tokenise, django_capture_on_commit_callbacks)

    notice = Dispatch.objects.get(kind="cashback_credited")
    assert (notice.recipient, notice.language) == (payer.email.lower(), "fr")
    dispatch_due(worker_id="w")

    notice.refresh_from_db()
    assert notice.status == "sent"
    message = OutboxMessage.objects.get(subject__contains="cashback")
    normalised = message.subject.replace("\u202f", " ").replace("\xa0", " ")
    assert normalised == f"{merchant.name} a crédité 4,00 € de cashback sur votre cagnotte"
    assert "Votre solde" in message.text and "jusqu\u2019au" in message.text


@pytest.mark.django_db
def test_a_goodwill_credit_sends_no_cashback_notice(merchant):
    wallet = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email="ann@example.com"
    )
    wallet_services.wallet_credit(wallet=wallet, amount=100, reason="Sorry for the delay")
    assert not Dispatch.objects.filter(kind="cashback_credited").exists()


@pytest.mark.django_db
def test_cashback_goes_to_the_payers_phone_wallet_when_they_have_one(
    merchant, tokenise, django_capture_on_commit_callbacks
):
    from requests_app.services import ParticipantData

    wallet_services.cashback_rule_set(merchant=merchant, rate_bps=100)
    phone_wallet = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_phone="+33612345678"
    )
    pr = make_request(
        merchant,
        total_amount=5000,
        participants=[
            ParticipantData(name="Ann", email="ann@example.com", phone="+33612345678", amount=5000)
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.checkout_start(participant=pr.participants.get(), method="card", source=tokenise())

    phone_wallet.refresh_from_db()
    assert phone_wallet.balance == 50
    assert Wallet.objects.count() == 1
