"""The built-in receipt (no scenario receipt step) states what the payer paid: the amount,
each method, the date in the merchant's time zone and the reference."""

from datetime import UTC, datetime

import pytest
import time_machine

from notifications.dispatcher import dispatch_due
from payments import services
from scenarios.models import OutboxMessage
from tests.factories import MerchantFactory, make_request, participants
from tests.payments.conftest import SUCCEEDS

PAID_AT = datetime(2026, 1, 15, 17, 30, tzinfo=UTC)  # 12:30 PM in New York, 18:30 in Paris


@pytest.mark.django_db
@time_machine.travel(PAID_AT, tick=False)
def test_the_built_in_receipt_shows_the_amount_the_card_the_merchants_local_date_and_reference(
    settings, tokenise
):
    settings.TIME_ZONE = "Europe/Paris"  # the server's zone must not leak into the receipt
    merchant = MerchantFactory(name="Maple Store", time_zone="America/New_York")
    payment_request = make_request(
        merchant, total_amount=1000, participants=participants(1, amount=1000)
    )
    checkout = services.checkout_start(
        participant=payment_request.participants.get(), method="card", source=tokenise(SUCCEEDS)
    )

    dispatch_due(worker_id="w")

    receipt = OutboxMessage.objects.get(channel="email")
    for body in (receipt.text, receipt.html):
        assert "€10.00" in body
        assert payment_request.reference in body
        assert checkout.public_id in body
        assert "Visa •••• 4242" in body
        assert "January 15, 2026 at 12:30" in body.replace("\u202f", " ")
        assert "18:30" not in body
