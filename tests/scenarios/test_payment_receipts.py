"""A scenario's receipt step states the payment it is about: the amount actually paid, how,
when (in the merchant's time zone) and the reference, never the amount still due (0)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from notifications.dispatcher import dispatch_due
from notifications.selectors import template_for_stage
from payments import services as payment_services
from requests_app.models import Participant
from scenarios.models import OutboxMessage
from tests.factories import MerchantFactory, api_secret_for
from tests.payments.conftest import SUCCEEDS
from tests.scenarios.helpers import make_scenario, step

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbox")]

PAID_AT = datetime(2026, 1, 15, 17, 30, tzinfo=UTC)  # 12:30 PM in New York, 18:30 in Paris


def _pay_with_the_default_receipt(client, tokenise, *, language: str, channel: str = "email"):
    from rest_framework.test import APIClient

    merchant = MerchantFactory(name="Maple Store", time_zone="America/New_York")
    template = template_for_stage(merchant=merchant, stage="payment_succeeded", channel=channel)
    scenario = make_scenario(
        merchant, [step("payment_succeeded", template, audience="all_participants")]
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant)}")
    response = api.post(
        "/api/v1/payment-requests",
        {
            "reference": "INV-77",
            "currency": "EUR",
            "total_amount": 1000,
            "split": "equal",
            "deadline": (PAID_AT + timedelta(days=10)).isoformat(),
            "scenario": scenario.public_id,
            "participants": [{"name": "Ann", "email": "ann@example.com", "phone": "+33612345678"}],
            "language": language,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    payer = Participant.objects.get(public_id=response.json()["participants"][0]["id"])
    payment_services.checkout_start(participant=payer, method="card", source=tokenise(SUCCEEDS))
    payer.refresh_from_db()
    assert payer.amount_due == 0  # what the old default printed
    dispatch_due(worker_id="t")
    return OutboxMessage.objects.get(channel=channel)


@time_machine.travel(PAID_AT, tick=False)
def test_the_default_receipt_step_states_the_amount_paid_the_card_the_local_date_and_reference(
    client, tokenise
):
    message = _pay_with_the_default_receipt(client, tokenise, language="en")

    for body in (message.text, message.html):
        assert "€10.00" in body
        assert "€0.00" not in body
        assert "INV-77" in body
        assert "Visa •••• 4242" in body
        assert "January 15, 2026 at 12:30" in body.replace("\u202f", " ")


@time_machine.travel(PAID_AT, tick=False)
def test_the_french_default_receipt_says_the_amount_paid_in_french(client, tokenise):
    message = _pay_with_the_default_receipt(client, tokenise, language="fr")

    text = message.text.replace("\u202f", " ").replace("\xa0", " ")
    assert "10,00 €" in text
    assert "0,00 €" not in text.replace("10,00 €", "")
    assert "15 janvier 2026 à 12:30" in text


@time_machine.travel(PAID_AT, tick=False)
def test_the_default_receipt_sms_states_the_amount_paid_and_the_local_date(client, tokenise):
    message = _pay_with_the_default_receipt(client, tokenise, language="en", channel="sms")

    assert "€10.00" in message.text
    assert "€0.00" not in message.text
    assert "January 15, 2026 at 12:30 PM" in message.text
    assert "INV-77" in message.text
