"""What the payer page costs the database: it is the hottest public route, so the reads it
makes are pinned here, and the one read that replaces five must answer exactly what the
ordinary reads would."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from payments import services as payment_services
from payments.adapters.accounts import configured_modes
from payments.credentials_models import ProviderCredential
from payments.selectors import payer_page_participant, payment_methods_enabled
from requests_app.selectors import participant_by_link_token
from requests_app.services import ParticipantData
from tests.factories import make_request
from tests.payments.conftest import DECLINED, SUCCEEDS

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2030, 1, 15, 12, 0, tzinfo=PARIS)
OFFER = {"count": 3, "interval_unit": "month", "start_date": "2030-01-31"}


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def make(merchant, **kwargs):
    pr = make_request(
        merchant,
        total_amount=30000,
        participants=[ParticipantData(name="Zoé", email="zoe@example.com", amount=30000)],
        deadline=START + timedelta(days=20),
        expires_at=START + timedelta(days=30),
        **kwargs,
    )
    return pr.participants.get()


def url(payer) -> str:
    return f"/pay/{payer.link_token}/"


def fingerprint(html: str) -> str:
    marker = 'name="schedule" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_an_unpaid_payer_with_cards_and_paypal_costs_one_query(
    client, merchant, clock, django_assert_num_queries
):
    payment_services.payment_method_enable(merchant=merchant, method="paypal")
    payer = make(merchant)
    with django_assert_num_queries(1):  # the participant, its request, merchant and methods
        response = client.get(url(payer))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-method="card"' in html and 'data-method="paypal"' in html


def test_a_failed_payment_adds_no_read(
    client, merchant, clock, tokenise, django_assert_num_queries
):
    payer = make(merchant)
    client.post(url(payer), {"card_token": tokenise(DECLINED)})
    with django_assert_num_queries(1):  # a failed checkout is not shown: nothing to read
        assert client.get(url(payer)).status_code == 200


def test_an_offered_plan_adds_no_read(client, merchant, clock, django_assert_num_queries):
    payer = make(merchant, installments=OFFER)
    with django_assert_num_queries(1):
        html = client.get(url(payer)).content.decode()
    assert 'data-testid="plan-offer"' in html


def test_a_payer_with_a_running_plan_reads_its_checkouts_and_plan(
    client, merchant, clock, tokenise, django_assert_num_queries
):
    payer = make(merchant, installments=OFFER)
    plan_page = f"/pay/{payer.link_token}/installments/"
    schedule = fingerprint(client.get(plan_page).content.decode())
    client.post(plan_page, {"card_token": tokenise(SUCCEEDS), "schedule": schedule})
    # The participant; its shown checkouts (the first charge); the plan; its installments.
    with django_assert_num_queries(4):
        html = client.get(url(payer)).content.decode()
    assert 'data-testid="plan-summary"' in html


def test_a_method_switched_off_is_gone_from_the_next_page_and_refused(
    client, merchant, clock, tokenise
):
    payment_services.payment_method_enable(merchant=merchant, method="paypal")
    payer = make(merchant)
    assert 'data-method="paypal"' in client.get(url(payer)).content.decode()
    payment_services.payment_method_disable(merchant=merchant, method="paypal")
    assert 'data-method="paypal"' not in client.get(url(payer)).content.decode()
    response = client.post(url(payer), {"methods": ["paypal"]})
    assert response.status_code == 422
    assert payer.checkouts.count() == 0


def test_the_one_read_answers_what_the_ordinary_reads_would(merchant, clock):
    payment_services.payment_method_enable(merchant=merchant, method="paypal")
    payer = make(merchant, installments=OFFER)
    payment_services.payment_method_disable(merchant=merchant, method="card")
    # An account in live mode only: test-mode cards stay with the sandbox.
    ProviderCredential.objects.create(
        merchant=merchant, provider="paypal", livemode=True, secret_key_encrypted="x"
    )
    page = payer_page_participant(token=payer.link_token)
    ordinary = participant_by_link_token(token=payer.link_token)
    for mine, theirs in [
        (page.participant, ordinary),
        (page.participant.request, ordinary.request),
        (page.participant.request.merchant, ordinary.request.merchant),
    ]:
        assert type(mine) is type(theirs) and mine.pk == theirs.pk
        for field in type(mine)._meta.concrete_fields:
            assert getattr(mine, field.attname) == getattr(theirs, field.attname), field.name
        assert not mine._state.adding
    kept = page.participant.request.merchant
    assert payment_methods_enabled(merchant=kept) == payment_methods_enabled(
        merchant=ordinary.request.merchant
    )
    assert payment_methods_enabled(merchant=kept) == ["paypal"]
    for provider in ("stripe", "paypal"):
        fresh = ordinary.request.merchant
        assert configured_modes(kept, provider) == configured_modes(fresh, provider)
    assert configured_modes(kept, "paypal") == frozenset({True})
    assert (page.has_shown_checkouts, page.has_plan) == (False, False)


def test_an_unknown_link_is_not_found(client, merchant):
    assert payer_page_participant(token="nope") is None
    assert client.get("/pay/nope/").status_code == 404
