"""The payer's page when their share may be paid in installments: the choice, the exact
schedule before paying, the first charge (3-D Secure included), the summary after it."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from payments.installments.models import InstallmentPlan
from payments.models import Checkout
from payments.sandbox.selectors import sandbox_card_balance
from requests_app.services import ParticipantData
from tests.factories import make_request
from tests.payments.conftest import CHALLENGE, DECLINED, SUCCEEDS

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2030, 1, 15, 12, 0, tzinfo=PARIS)
# CentralPay's example: 1,000.00 in 3 with 200.00 down and a 10.00 fee.
OFFER = {
    "count": 3,
    "interval_unit": "month",
    "start_date": "2030-01-31",
    "deposit_amount": 20000,
    "fee_amount": 1000,
}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def make(merchant, offer=None, language="fr", **kwargs):
    pr = make_request(
        merchant,
        description="Séjour linguistique",
        total_amount=100000,
        participants=[
            ParticipantData(name="Zoé", email="zoe@example.com", amount=100000, language=language)
        ],
        installments=OFFER if offer is None else offer,
        deadline=START + timedelta(days=20),
        expires_at=START + timedelta(days=30),
        **kwargs,
    )
    return pr.participants.get()


def page(payer) -> str:
    return f"/pay/{payer.link_token}/"


def plan_page(payer) -> str:
    return f"/pay/{payer.link_token}/installments/"


def fingerprint(html: str) -> str:
    marker = 'name="schedule" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def pay_plan(client, payer, token: str, **extra):
    html = client.get(plan_page(payer)).content.decode()
    return client.post(
        plan_page(payer), {"card_token": token, "schedule": fingerprint(html), **extra}
    )


@pytest.mark.django_db
def test_the_page_offers_the_plan_beside_paying_at_once(client, merchant):
    payer = make(merchant)
    html = client.get(page(payer)).content.decode()
    assert 'data-testid="plan-offer"' in html
    assert "Payer en 3 échéances" in html
    assert "Un acompte de 200,00\xa0€ aujourd\u2019hui, puis le reste à dates fixes." in html
    assert "Frais d\u2019échelonnement : 10,00" in html
    assert f'href="{plan_page(payer)}?lang=fr"' in html
    assert 'data-testid="pay-at-once-heading"' in html
    assert 'data-testid="pay-button"' in html


@pytest.mark.django_db
def test_the_schedule_is_shown_exactly_before_paying_in_the_payers_language(client, merchant):
    payer = make(merchant)
    html = client.get(plan_page(payer)).content.decode()
    # Month ends clamp: 31 January, 28 February, 31 March.
    assert "Acompte" in html and "Aujourd\u2019hui (15 janvier 2030)" in html
    assert ">31 janvier 2030<" in html and ">28 février 2030<" in html and ">31 mars 2030<" in html
    amounts = html.split('data-testid="schedule-amount">')[1:]
    assert [a.split("<")[0] for a in amounts] == [
        "200,00\xa0€",
        "276,68\xa0€",
        "266,66\xa0€",
        "266,66\xa0€",
    ]
    assert "y compris les frais de 10,00\xa0€" in html
    assert 'data-testid="plan-total">1\u202f010,00\xa0€' in html
    assert "Payer 200,00\xa0€ maintenant et accepter l\u2019échéancier" in html
    english = client.get(plan_page(payer) + "?lang=en").content.decode()
    assert "February 28, 2030" in english or "28 February 2030" in english
    assert "Pay €200.00 now and accept the schedule" in english
    assert InstallmentPlan.objects.count() == 0 and Checkout.objects.count() == 0


@pytest.mark.django_db
def test_paying_the_first_charge_starts_the_plan_and_the_receipt_sums_it_up(
    client, merchant, tokenise
):
    payer = make(merchant)
    token = tokenise(SUCCEEDS)

    response = pay_plan(client, payer, token)

    assert response.status_code == 302 and "/receipt/" in response["Location"]
    plan = InstallmentPlan.objects.get(participant=payer)
    assert (plan.status, plan.amount, plan.fee_amount) == ("active", 101000, 1000)
    assert sandbox_card_balance(token=token).debited == 20000
    receipt = client.get(response["Location"]).content.decode()
    assert 'data-testid="receipt-plan"' in receipt
    assert "Votre échéancier : 3 échéances" in receipt
    assert "payée" in receipt and "prévue" in receipt
    assert "y compris les frais d\u2019échelonnement de 10,00" in receipt
    again = client.get(page(payer)).content.decode()
    assert 'data-testid="plan-summary"' in again
    assert 'data-testid="pay-button"' not in again  # the plan collects the rest
    assert client.get(plan_page(payer)).status_code == 302


@pytest.mark.django_db
def test_a_refused_card_keeps_the_schedule_and_says_why(client, merchant, tokenise):
    payer = make(merchant)
    response = pay_plan(client, payer, tokenise(DECLINED))
    html = response.content.decode()
    assert response.status_code == 402
    assert "Votre banque a refusé le paiement." in html
    assert 'data-testid="schedule"' in html and 'name="schedule"' in html
    assert InstallmentPlan.objects.get().status == "cancelled"
    # Paying again with a good card starts a new plan.
    assert pay_plan(client, payer, tokenise(SUCCEEDS)).status_code == 302
    assert InstallmentPlan.objects.filter(status="active").count() == 1


@pytest.mark.django_db
def test_no_card_token_is_a_field_error_and_nothing_is_started(client, merchant):
    payer = make(merchant)
    response = pay_plan(client, payer, "")
    assert response.status_code == 422
    assert "Saisissez les informations de votre carte." in response.content.decode()
    assert not InstallmentPlan.objects.exists()


@pytest.mark.django_db
def test_a_schedule_that_changed_since_it_was_shown_is_shown_again(
    client, merchant, tokenise, clock
):
    payer = make(merchant, offer={"count": 2, "interval_unit": "week"})
    seen = fingerprint(client.get(plan_page(payer)).content.decode())
    clock.shift(timedelta(days=1))  # the dates move on by a day
    token = tokenise(SUCCEEDS)
    response = client.post(plan_page(payer), {"card_token": token, "schedule": seen})
    assert response.status_code == 409
    assert "L\u2019échéancier a changé" in response.content.decode()
    assert sandbox_card_balance(token=token).debited == 0


@pytest.mark.django_db
def test_the_3d_secure_path_takes_the_first_charge_on_return(client, merchant, tokenise):
    payer = make(merchant)
    token = tokenise(CHALLENGE)

    response = pay_plan(client, payer, token)

    assert response.status_code == 302 and "lang=fr" in response["Location"]
    assert InstallmentPlan.objects.get().status == "pending"
    back = client.post(response["Location"], {"decision": "approve"})
    done = client.get(back["Location"])
    assert done.status_code == 302 and "/receipt/" in done["Location"]
    assert InstallmentPlan.objects.get().status == "active"
    assert sandbox_card_balance(token=token).debited == 20000


@pytest.mark.django_db
def test_a_refused_3d_secure_comes_back_to_the_schedule(client, merchant, tokenise):
    payer = make(merchant)
    response = pay_plan(client, payer, tokenise(CHALLENGE))
    back = client.post(response["Location"], {"decision": "refuse"})
    html = client.get(back["Location"]).content.decode()
    assert "3-D Secure" in html and 'data-testid="schedule"' in html
    assert InstallmentPlan.objects.get().status == "cancelled"


@pytest.mark.django_db
def test_pay_at_once_is_hidden_and_refused_when_the_plan_is_the_only_way(
    client, merchant, tokenise
):
    payer = make(merchant, offer={**OFFER, "pay_at_once_allowed": False})
    html = client.get(page(payer)).content.decode()
    assert 'data-testid="plan-offer"' in html
    assert 'data-testid="pay-button"' not in html and "pay-at-once-heading" not in html
    token = tokenise(SUCCEEDS)
    response = client.post(page(payer), {"card_token": token})
    assert response.status_code == 409
    assert "Cette part se paie en plusieurs fois uniquement." in response.content.decode()
    assert sandbox_card_balance(token=token).debited == 0
    plan_html = client.get(plan_page(payer)).content.decode()
    assert "Payer en une fois" not in plan_html


@pytest.mark.django_db
def test_another_participants_token_never_reaches_this_plan(client, merchant, tokenise):
    payer = make(merchant)
    other = make(merchant, offer={"count": 2, "interval_unit": "week"})
    paid = pay_plan(client, payer, tokenise(SUCCEEDS))
    checkout = Checkout.objects.get(participant=payer)
    mine = paid["Location"]
    assert client.get(mine).status_code == 200
    # The same receipt, return and cancel addresses under the other payer's token.
    theirs = mine.replace(payer.link_token, other.link_token)
    assert client.get(theirs).status_code == 404
    base = f"/pay/{other.link_token}"
    assert client.get(f"{base}/return/{checkout.public_id}/").status_code == 404
    assert client.post(f"{base}/cancel/{checkout.public_id}/").status_code == 404
    assert client.get("/pay/not-a-real-token-at-all/installments/").status_code == 404
    response = client.post(
        "/pay/not-a-real-token-at-all/installments/", {"card_token": tokenise(SUCCEEDS)}
    )
    assert response.status_code == 404
    # The other payer's page shows their own offer, not the plan the first payer runs.
    html = client.get(page(other)).content.decode()
    assert 'data-testid="plan-offer"' in html and 'data-testid="plan-summary"' not in html
    assert InstallmentPlan.objects.filter(participant=other).count() == 0


@pytest.mark.django_db
def test_no_plan_is_offered_without_an_offer_or_once_its_dates_have_passed(client, merchant, clock):
    plain = make_request(merchant).participants.first()
    assert 'data-testid="plan-offer"' not in client.get(page(plain)).content.decode()
    assert client.get(plan_page(plain)).status_code == 302
    dated = make(
        merchant,
        offer={"count": 2, "interval_unit": "week", "start_date": "2030-02-02"},
    )
    assert 'data-testid="plan-offer"' in client.get(page(dated)).content.decode()
    clock.shift(timedelta(days=19))  # 3 February: the plan's first date has passed
    html = client.get(page(dated)).content.decode()
    assert 'data-testid="plan-offer"' not in html
    assert 'data-testid="pay-button"' in html  # the share is paid at once instead


@pytest.mark.django_db
def test_the_plan_page_costs_a_bounded_number_of_queries(
    client, merchant, django_assert_max_num_queries
):
    payer = make(merchant)
    with django_assert_max_num_queries(25):
        assert client.get(plan_page(payer)).status_code == 200


@pytest.mark.django_db
def test_a_share_under_a_running_plan_cannot_be_paid_again_at_once(client, merchant, tokenise):
    payer = make(merchant)
    assert pay_plan(client, payer, tokenise(SUCCEEDS)).status_code == 302
    token = tokenise(SUCCEEDS)
    response = client.post(page(payer), {"card_token": token})
    assert response.status_code == 409
    assert sandbox_card_balance(token=token).debited == 20000  # the deposit only
    assert Checkout.objects.filter(participant=payer).count() == 1
    payer.refresh_from_db()
    assert payer.amount_paid == 20000


@pytest.mark.django_db
def test_a_second_post_of_the_same_schedule_charges_nothing_more(client, merchant, tokenise):
    payer = make(merchant)
    html = client.get(plan_page(payer)).content.decode()
    first = client.post(
        plan_page(payer), {"card_token": tokenise(SUCCEEDS), "schedule": fingerprint(html)}
    )
    assert first.status_code == 302
    token = tokenise(SUCCEEDS)
    again = client.post(plan_page(payer), {"card_token": token, "schedule": fingerprint(html)})
    assert again.status_code == 409
    assert 'data-testid="plan-unavailable"' in again.content.decode()
    assert InstallmentPlan.objects.count() == 1
    assert Checkout.objects.filter(participant=payer).count() == 1
    assert sandbox_card_balance(token=token).debited == 20000  # the same card: one deposit


@pytest.mark.django_db
def test_an_expired_request_offers_no_plan_and_charges_nothing(client, merchant, tokenise, clock):
    payer = make(merchant)
    html = client.get(plan_page(payer)).content.decode()
    clock.shift(timedelta(days=31))
    from requests_app.tasks import close_expired_requests

    close_expired_requests()
    token = tokenise(SUCCEEDS)
    response = client.post(plan_page(payer), {"card_token": token, "schedule": fingerprint(html)})
    assert response.status_code == 409
    assert client.get(plan_page(payer)).status_code == 302
    assert sandbox_card_balance(token=token).debited == 0
    assert not InstallmentPlan.objects.exists()


@pytest.mark.django_db
def test_a_live_key_never_reads_a_test_requests_plans(merchant, live_cards, client, tokenise):
    from rest_framework.test import APIClient

    from tests.factories import api_secret_for

    payer = make(merchant)
    assert pay_plan(client, payer, tokenise(SUCCEEDS)).status_code == 302
    test_api, live_api = APIClient(), APIClient()
    test_api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant, mode='test')}")
    live_api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant, mode='live')}")
    url = f"/api/v1/payment-requests/{payer.request.public_id}"
    assert test_api.get(url).json()["participants"][0]["installment_plan"]["status"] == "active"
    assert live_api.get(url).status_code == 404
    assert live_api.get("/api/v1/installment-plans").json()["results"] == []


@pytest.mark.django_db(transaction=True)
def test_two_tabs_starting_the_same_plan_take_the_deposit_once(postgres_only, merchant):
    import threading

    from django.db import connection
    from django.test import Client

    from payments.sandbox.services import sandbox_card_tokenise

    payer = make(merchant)
    seen = fingerprint(Client().get(plan_page(payer)).content.decode())
    tokens = [
        sandbox_card_tokenise(
            number=SUCCEEDS.replace(" ", ""), exp_month=12, exp_year=2040, cvc="123"
        ).token
        for _ in range(2)
    ]
    barrier = threading.Barrier(2)
    statuses = []

    def tab(token):
        try:
            barrier.wait()
            response = Client().post(plan_page(payer), {"card_token": token, "schedule": seen})
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=tab, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [302, 409]
    assert InstallmentPlan.objects.count() == 1
    assert sandbox_card_balance(token=tokens[0]).debited == 20000
    payer.refresh_from_db()
    assert payer.amount_paid == 20000


@pytest.mark.django_db
def test_a_request_with_a_smart_form_still_pays_at_once_even_when_plan_only(
    client, merchant, tokenise
):
    from smartforms.services import form_create

    form = form_create(
        merchant=merchant,
        name="Notes",
        fields=[{"key": "note", "type": "text", "label": {"en": "Note"}, "required": False}],
    )
    payer = make(merchant)
    # Made before forms and plans were kept apart at creation: the page must still work.
    payer.request.form_version = form.current_version
    payer.request.installments = {**payer.request.installments, "pay_at_once_allowed": False}
    payer.request.save(update_fields=["form_version", "installments"])
    html = client.get(page(payer)).content.decode()
    assert 'data-testid="plan-offer"' not in html and 'data-testid="pay-button"' in html
    assert client.get(plan_page(payer)).status_code == 302
    token = tokenise(SUCCEEDS)
    response = client.post(page(payer), {"card_token": token, "sf_note": "hi"})
    assert response.status_code == 302 and "/receipt/" in response["Location"]
    assert sandbox_card_balance(token=token).debited == 100000


@pytest.mark.django_db
def test_a_card_expiring_before_the_last_charge_is_flagged_before_anything_is_charged(
    client, merchant, tokenise
):
    payer = make(merchant)  # the last installment falls on 2030-03-31
    expiring = tokenise(SUCCEEDS, exp_month=2, exp_year=2030)

    flagged = pay_plan(client, payer, expiring)

    assert flagged.status_code == 200
    html = flagged.content.decode()
    assert 'data-testid="card-expires"' in html and "expire avant la dernière" in html
    assert not InstallmentPlan.objects.filter(participant=payer).exists()
    assert sandbox_card_balance(token=expiring).debited == 0

    kept = client.post(
        plan_page(payer),
        {"card_token": expiring, "keep_card": expiring, "schedule": fingerprint(html)},
    )
    assert kept.status_code == 302
    assert InstallmentPlan.objects.get(participant=payer).status == "active"
    assert sandbox_card_balance(token=expiring).debited == 20000


@pytest.mark.django_db
def test_keeping_a_card_acknowledges_only_that_card(client, merchant, tokenise):
    payer = make(merchant)
    first = tokenise(SUCCEEDS, exp_month=2, exp_year=2030)
    other = tokenise(SUCCEEDS, exp_month=1, exp_year=2030)

    response = pay_plan(client, payer, other, keep_card=first)

    assert 'data-testid="card-expires"' in response.content.decode()
    assert not InstallmentPlan.objects.filter(participant=payer).exists()


@pytest.mark.django_db
def test_a_card_valid_past_the_last_charge_is_not_flagged(client, merchant, tokenise):
    payer = make(merchant)
    response = pay_plan(client, payer, tokenise(SUCCEEDS, exp_month=4, exp_year=2030))
    assert response.status_code == 302
    assert InstallmentPlan.objects.get(participant=payer).status == "active"
