"""The card of a Stripe leg on the payer's receipt and the back office's request page: the
brand and last four digits Stripe reports on the charge (the card was typed on its page),
as the sandbox card's are shown."""

import pytest

from payments.models import Leg
from requests_app.services import ParticipantData
from tests.factories import MembershipFactory, make_request
from tests.payments.stripe_helpers import pay_by_card

pytestmark = pytest.mark.django_db

MASTERCARD = "5555555555554444"


def paid(client, merchant, stub, card):
    payment_request = make_request(
        merchant,
        total_amount=2500,
        participants=[ParticipantData(name="Zoé", email="zoe@example.com", amount=2500)],
        language="en",
    )
    answer = pay_by_card(client, payment_request.participants.get(), stub, card)
    assert answer.status_code == 302 and "/receipt/" in answer.url
    return payment_request, answer.url


def test_the_payers_receipt_names_the_card_stripe_charged(
    client, merchant, stripe_test_account, stripe_stub
):
    _request, receipt_url = paid(client, merchant, stripe_stub, MASTERCARD)

    leg = Leg.objects.get()
    assert (leg.source, leg.source_brand, leg.source_last4) == ("card", "mastercard", "4444")
    receipt = client.get(receipt_url).content.decode()
    assert "Mastercard •••• 4444" in receipt
    assert MASTERCARD not in receipt


def test_the_back_office_request_page_shows_the_card_each_participant_paid_with(
    client, merchant, stripe_test_account, stripe_stub
):
    payment_request, _receipt = paid(client, merchant, stripe_stub, MASTERCARD)
    client.force_login(MembershipFactory(merchant=merchant, role="viewer").user)

    page = client.get(f"/app/requests/{payment_request.public_id}/").content.decode()

    assert 'data-testid="participant-card"' in page and "Mastercard •••• 4444" in page


def test_a_refused_card_names_no_card_anywhere(client, merchant, stripe_test_account, stripe_stub):
    from tests.payments.stripe_helpers import DECLINED, finish_at_stripe, start_card_payment

    payment_request = make_request(
        merchant,
        total_amount=2500,
        participants=[ParticipantData(name="Zoé", email="zoe@example.com", amount=2500)],
    )
    payer = payment_request.participants.get()
    finish_at_stripe(client, stripe_stub, start_card_payment(client, payer, stripe_stub), DECLINED)
    client.force_login(MembershipFactory(merchant=merchant, role="owner").user)

    page = client.get(f"/app/requests/{payment_request.public_id}/").content.decode()

    assert 'data-testid="participant-card"' not in page
