"""Cards that expire: the sandbox refuses them with ``expired_card``, the adapter tells
whether a card lasts until a date, and a plan's payer is warned when it will not."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation

from payments.adapters.base import FailureReason, PaymentStatus
from payments.installments import services
from payments.installments.selectors import card_expires_before
from requests_app.models import RequestEvent
from requests_app.payer_views import failure_message
from tests.factories import make_request, participants

from .conftest import SUCCEEDS

pytestmark = pytest.mark.django_db

EXPIRED_BY_ISSUER = "4000 0000 0000 0069"
PARIS = ZoneInfo("Europe/Paris")
START = datetime(2030, 1, 10, 12, 0, tzinfo=PARIS)


def authorise(card, token, key="k-1"):
    return card.authorise(amount=1000, currency="EUR", source=token, idempotency_key=key)


def test_the_documented_expired_card_tokenises_and_is_refused_for_expiry(card, tokenise):
    token = tokenise(EXPIRED_BY_ISSUER)

    result = authorise(card, token)

    assert result.status == PaymentStatus.FAILED
    assert result.failure_reason == FailureReason.EXPIRED_CARD == "expired_card"
    assert result.message == "The card has expired."


def test_a_token_whose_card_expired_since_is_refused_for_expiry_not_declined(card, tokenise):
    with time_machine.travel(START, tick=False):
        token = tokenise(SUCCEEDS, exp_month=1, exp_year=2030)
        assert authorise(card, token).status == PaymentStatus.AUTHORISED
    with time_machine.travel(datetime(2030, 1, 31, 23, 0, tzinfo=PARIS), tick=False):
        assert authorise(card, token, "k-2").status == PaymentStatus.AUTHORISED  # its month
    with time_machine.travel(datetime(2030, 2, 10, 12, 0, tzinfo=PARIS), tick=False):
        refused = authorise(card, token, "k-3")
    assert refused.failure_reason == FailureReason.EXPIRED_CARD


def test_the_adapter_says_whether_a_card_lasts_until_a_date(card, tokenise, merchant):
    with time_machine.travel(START, tick=False):
        token = tokenise(SUCCEEDS, exp_month=3, exp_year=2030)

    assert card.expires_before(token, date(2030, 3, 31)) is False  # good through March
    assert card.expires_before(token, date(2030, 4, 1)) is True
    assert card.expires_before("tok_unknown", date(2099, 1, 1)) is False
    ask = {"merchant": merchant, "livemode": False, "source": token}
    assert card_expires_before(**ask, day=date(2031, 1, 1)) is True
    assert card_expires_before(**ask, day=date(2030, 2, 1)) is False
    # A method that cannot tell, an unknown method or no card at all is never flagged.
    assert card_expires_before(**ask, day=date(2031, 1, 1), method="wallet") is False
    assert card_expires_before(**ask, day=date(2031, 1, 1), method="nope") is False
    assert card_expires_before(**{**ask, "source": ""}, day=date(2031, 1, 1)) is False


def test_the_payer_reads_why_in_their_language():
    with translation.override("fr"):
        assert failure_message("expired_card") == (
            "Cette carte a expiré. Rien n'a été débité ; utilisez une autre carte."
        )
    with translation.override("en"):
        assert "has expired" in failure_message("expired_card")


@pytest.fixture
def payer(merchant):
    with time_machine.travel(START, tick=False):
        pr = make_request(
            merchant,
            total_amount=30000,
            participants=participants(1, amount=30000),
            deadline=START + timedelta(days=200),
            expires_at=START + timedelta(days=300),
            language="fr",
        )
    return pr.participants.get()


def plan_with(payer, token):
    with time_machine.travel(START, tick=False):
        return services.installment_plan_start(
            participant=payer, source=token, count=3, interval_unit="month"
        )


def test_a_charge_refused_for_expiry_takes_the_failure_path(payer, tokenise):
    with time_machine.travel(START, tick=False):
        token = tokenise(SUCCEEDS, exp_month=1, exp_year=2030)
    plan = plan_with(payer, token)
    moment = datetime(2030, 2, 10, 9, 5, tzinfo=PARIS)

    with time_machine.travel(moment, tick=False):
        assert services.installments_charge_due(now=moment, worker_id="t") == 1

    second = plan.installments.get(position=1)
    assert (second.status, second.failure_reason) == ("failed", "expired_card")
    failure = RequestEvent.objects.get(type="installment_failed")
    assert failure.payload["reason"] == "expired_card"
    assert failure.payload["retry_at"].startswith("2030-02-11T09:00")


@pytest.mark.parametrize(("exp_year", "flagged"), [(2030, True), (2040, False)])
def test_the_plan_page_flags_a_card_that_expires_before_the_last_installment(
    client, payer, tokenise, exp_year, flagged
):
    with time_machine.travel(START, tick=False):
        plan = plan_with(payer, tokenise(SUCCEEDS, exp_month=2, exp_year=exp_year))
        html = client.get(f"/pay/{payer.link_token}/plan/{plan.public_id}/").content.decode()

    assert ('data-testid="card-expiry"' in html) is flagged
    if flagged:
        assert "visa •••• 4242" in html and "expire avant votre dernière échéance" in html
