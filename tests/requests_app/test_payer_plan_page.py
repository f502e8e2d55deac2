"""The payer's page for an installment plan: the schedule with each state, paying a failed
installment with another card (which then replaces the plan's card), paying off early."""

import threading
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client

from payments.installments import services
from payments.models import Checkout, InstallmentPlan, SandboxLedgerEntry
from payments.sandbox.selectors import sandbox_card_balance
from requests_app.links import plan_url
from requests_app.models import RequestEvent
from tests.factories import make_request, participants
from tests.payments.conftest import CHALLENGE, DECLINED, SUCCEEDS
from tests.payments.test_installment_plans import refuse_merchant_initiated_charges

# Another good card: the sandbox's balances are per card number, not per token.
OTHER_CARD = "5555 5555 5555 4444"
PARIS = ZoneInfo("Europe/Paris")
START = datetime(2030, 1, 10, 12, 0, tzinfo=PARIS)
SECOND_DUE = datetime(2030, 2, 10, 9, 5, tzinfo=PARIS)
AFTER_FAILURE = datetime(2030, 2, 10, 15, 0, tzinfo=PARIS)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def payers(merchant, clock):
    pr = make_request(
        merchant,
        total_amount=60000,
        participants=participants(2, amount=30000),
        deadline=START + timedelta(days=200),
        expires_at=START + timedelta(days=300),
        language="fr",
    )
    return list(pr.participants.order_by("position"))


@pytest.fixture
def payer(payers):
    return payers[0]


def start(payer, token) -> InstallmentPlan:
    return services.installment_plan_start(
        participant=payer, source=token, count=3, interval_unit="month"
    )


def page(payer, plan) -> str:
    return f"/pay/{payer.link_token}/plan/{plan.public_id}/"


def fail_second(clock, monkeypatch, plan) -> object:
    refuse_merchant_initiated_charges(monkeypatch, times=1)
    clock.move_to(SECOND_DUE)
    assert services.installments_charge_due(now=SECOND_DUE, worker_id="t") == 1
    monkeypatch.undo()
    clock.move_to(AFTER_FAILURE)
    second = plan.installments.get(position=1)
    assert second.status == "failed"
    return second


def test_the_page_shows_the_schedule_with_each_state_in_french(client, payer, tokenise):
    plan = start(payer, tokenise(SUCCEEDS))

    response = client.get(page(payer, plan))

    assert response.status_code == 200
    html = response.content.decode().replace("\xa0", " ").replace("\u202f", " ")
    assert "Votre paiement en plusieurs fois" in html
    assert html.count('data-testid="installment"') == 3
    assert 'data-status="paid"' in html and html.count('data-status="scheduled"') == 2
    assert "10 février 2030" in html and "100,00 €" in html
    assert "Réglée" in html and "Prévue" in html
    assert 'data-testid="payoff"' in html  # pay off early …
    assert 'data-testid="pay-installment"' not in html  # … but nothing failed to pay
    english = client.get(page(payer, plan) + "?lang=en").content.decode()
    assert "Your installment plan" in english and "Scheduled" in english


def test_a_failed_installment_is_paid_with_another_card_which_replaces_the_plans_card(
    client, payer, tokenise, clock, monkeypatch
):
    old = tokenise(SUCCEEDS)
    plan = start(payer, old)
    second = fail_second(clock, monkeypatch, plan)
    html = client.get(page(payer, plan)).content.decode()
    assert 'data-testid="pay-installment"' in html
    assert f'name="installment" value="{second.public_id}"' in html
    new = tokenise(OTHER_CARD)

    response = client.post(
        page(payer, plan),
        {"action": "pay_installment", "installment": second.public_id, "card_token": new},
    )

    assert response.status_code == 302
    assert "paid=co_" in response.url
    second.refresh_from_db()
    plan.refresh_from_db()
    assert (second.status, second.attempts) == ("paid", 1)
    assert plan.source == new
    assert sandbox_card_balance(token=old).debited == 10000
    assert sandbox_card_balance(token=new).debited == 10000
    done = client.get(response.url).content.decode().replace("\xa0", " ")
    assert "100,00 € ont été réglés" in done
    # The third installment is charged to the new card.
    clock.move_to(datetime(2030, 3, 10, 9, 5, tzinfo=PARIS))
    services.installments_charge_due(now=datetime(2030, 3, 10, 9, 5, tzinfo=PARIS), worker_id="t")
    assert sandbox_card_balance(token=new).debited == 20000
    assert sandbox_card_balance(token=old).debited == 10000
    plan.refresh_from_db()
    assert plan.status == "completed"


def test_a_refused_other_card_changes_nothing_and_costs_no_retry(
    client, payer, tokenise, clock, monkeypatch
):
    old = tokenise(SUCCEEDS)
    plan = start(payer, old)
    second = fail_second(clock, monkeypatch, plan)
    failures = RequestEvent.objects.filter(type="installment_failed").count()

    response = client.post(
        page(payer, plan),
        {
            "action": "pay_installment",
            "installment": second.public_id,
            "card_token": tokenise(DECLINED),
        },
    )

    assert response.status_code == 402
    assert "Votre banque a refusé le paiement" in response.content.decode()
    retry_at = second.next_attempt_at
    second.refresh_from_db()
    plan.refresh_from_db()
    assert (second.status, second.attempts, second.next_attempt_at) == ("failed", 1, retry_at)
    assert plan.source == old
    assert RequestEvent.objects.filter(type="installment_failed").count() == failures
    # The automatic retry still comes, with the plan's own card.
    services.installments_charge_due(now=retry_at + timedelta(minutes=5), worker_id="t")
    second.refresh_from_db()
    assert second.status == "paid"
    assert sandbox_card_balance(token=old).debited == 20000


def test_paying_a_failed_installment_through_3d_secure_comes_back_to_the_plan(
    client, payer, tokenise, clock, monkeypatch
):
    plan = start(payer, tokenise(SUCCEEDS))
    second = fail_second(clock, monkeypatch, plan)
    new = tokenise(CHALLENGE)

    challenge = client.post(
        page(payer, plan),
        {"action": "pay_installment", "installment": second.public_id, "card_token": new},
    )
    assert challenge.status_code == 302 and "/sandbox/" in challenge.url
    plan.refresh_from_db()
    assert plan.source != new  # not before the charge went through
    back = client.post(challenge.url, {"decision": "approve"})
    assert f"/plan/{plan.public_id}/return/" in back.url
    final = client.get(back.url)

    assert final.status_code == 302 and "paid=co_" in final.url
    second.refresh_from_db()
    plan.refresh_from_db()
    assert second.status == "paid"
    assert plan.source == new
    assert sandbox_card_balance(token=new).debited == 10000


def test_the_charging_job_leaves_an_installment_the_payer_is_paying_alone(
    client, payer, tokenise, clock, monkeypatch
):
    plan = start(payer, tokenise(SUCCEEDS))
    second = fail_second(clock, monkeypatch, plan)
    client.post(
        page(payer, plan),
        {
            "action": "pay_installment",
            "installment": second.public_id,
            "card_token": tokenise(CHALLENGE),
        },
    )
    retry = datetime(2030, 2, 11, 9, 5, tzinfo=PARIS)
    assert services.installments_charge_due(now=retry, worker_id="t") == 0  # 3-D Secure waits
    second.refresh_from_db()
    assert (second.status, second.leased_by) == ("processing", "payer")
    # The payer never answers: the checkout is released and the installment goes back.
    Checkout.objects.filter(installment=second.public_id).update(status="cancelled")
    services.installments_charge_due(now=retry + timedelta(hours=1), worker_id="t")
    second.refresh_from_db()
    assert second.status in ("failed", "paid")
    assert second.leased_by != "payer"


def test_two_posts_for_the_same_failed_installment_charge_it_once(
    client, payer, tokenise, clock, monkeypatch
):
    plan = start(payer, tokenise(SUCCEEDS))
    second = fail_second(clock, monkeypatch, plan)
    new = tokenise(OTHER_CARD)
    post = {"action": "pay_installment", "installment": second.public_id, "card_token": new}

    first = client.post(page(payer, plan), post)
    again = client.post(page(payer, plan), post)

    assert first.status_code == 302
    assert again.status_code == 409
    assert "n'attend plus de paiement" in unescape(again.content.decode())
    assert sandbox_card_balance(token=new).debited == 10000
    assert Checkout.objects.filter(installment=second.public_id, status="succeeded").count() == 1


def test_a_paid_or_unknown_installment_cannot_be_paid(client, payer, tokenise):
    plan = start(payer, tokenise(SUCCEEDS))
    first, third = plan.installments.get(position=0), plan.installments.get(position=2)
    new = tokenise(OTHER_CARD)

    for installment, status in ((first.public_id, 409), (third.public_id, 409), ("in_nope", 422)):
        response = client.post(
            page(payer, plan),
            {"action": "pay_installment", "installment": installment, "card_token": new},
        )
        assert response.status_code == status, installment
    assert sandbox_card_balance(token=new).debited == 0
    refused = client.post(
        page(payer, plan), {"action": "pay_installment", "installment": third.public_id}
    )
    assert refused.status_code == 422
    assert "Saisissez les informations de votre carte" in refused.content.decode()
    assert client.post(page(payer, plan), {"action": "nonsense"}).status_code == 422


def test_another_payers_link_or_plan_is_a_404(client, payers, tokenise, other_merchant):
    mine, theirs = payers
    plan = start(mine, tokenise(SUCCEEDS))
    their_plan = start(theirs, tokenise(SUCCEEDS))

    assert client.get(page(theirs, plan)).status_code == 404
    assert client.get(f"/pay/{mine.link_token}/plan/{their_plan.public_id}/").status_code == 404
    assert client.get(f"/pay/{mine.link_token}/plan/ip_unknown/").status_code == 404
    assert client.get(f"/pay/{mine.link_token}/plan/{'x' * 300}/").status_code == 404
    assert client.get(f"/pay/not-a-token/plan/{plan.public_id}/").status_code == 404
    post = client.post(
        page(theirs, plan), {"action": "payoff", "confirmed": "1", "amount": "20000"}
    )
    assert post.status_code == 404
    checkout = Checkout.objects.get(installment=plan.installments.get(position=0).public_id)
    other_return = (
        f"/pay/{theirs.link_token}/plan/{their_plan.public_id}/return/{checkout.public_id}/"
    )
    assert client.get(other_return).status_code == 404


@pytest.mark.parametrize("end", ["cancelled", "completed"])
def test_a_finished_plan_shows_its_state_and_no_pay_button(client, payer, tokenise, end):
    token = tokenise(SUCCEEDS)
    plan = start(payer, token)
    if end == "cancelled":
        services.installment_plan_cancel(plan=plan)
    else:
        services.installment_plan_pay_off(plan=plan)

    response = client.get(page(payer, plan))

    html = response.content.decode()
    assert f'data-status="{end}"' in html
    assert 'data-testid="payoff"' not in html and 'data-testid="pay-installment"' not in html
    debited = sandbox_card_balance(token=token).debited
    post = client.post(page(payer, plan), {"action": "payoff", "confirmed": "1", "amount": "0"})
    assert post.status_code in (409, 200)
    assert sandbox_card_balance(token=token).debited == debited


def test_paying_off_asks_for_confirmation_then_charges_exactly_what_is_left_once(
    client, payer, tokenise
):
    token = tokenise(SUCCEEDS)
    plan = start(payer, token)

    asked = client.post(page(payer, plan), {"action": "payoff"})
    assert asked.status_code == 200
    html = asked.content.decode().replace("\xa0", " ")
    assert 'data-testid="payoff-confirm"' in html and "200,00 €" in html
    assert sandbox_card_balance(token=token).debited == 10000  # nothing yet

    stale = client.post(page(payer, plan), {"action": "payoff", "confirmed": "1", "amount": "100"})
    assert stale.status_code == 409
    assert sandbox_card_balance(token=token).debited == 10000

    done = client.post(page(payer, plan), {"action": "payoff", "confirmed": "1", "amount": "20000"})
    assert done.status_code == 302
    again = client.post(
        page(payer, plan), {"action": "payoff", "confirmed": "1", "amount": "20000"}
    )
    assert again.status_code in (200, 409)
    assert sandbox_card_balance(token=token).debited == 30000
    plan.refresh_from_db()
    assert plan.status == "completed"


def test_a_defaulted_plan_links_to_paying_the_balance(client, payer, tokenise, clock, monkeypatch):
    plan = start(payer, tokenise(SUCCEEDS))
    refuse_merchant_initiated_charges(monkeypatch, times=10)
    for moment in (SECOND_DUE, *(SECOND_DUE + timedelta(days=d) for d in (1, 3, 7))):
        clock.move_to(moment)
        services.installments_charge_due(now=moment, worker_id="t")
    plan.refresh_from_db()
    assert plan.status == "defaulted"

    html = client.get(page(payer, plan)).content.decode()

    assert 'data-status="defaulted"' in html
    assert f'href="/pay/{payer.link_token}/?lang=fr"' in html
    assert 'data-testid="payoff"' not in html


def test_the_failure_notice_link_is_the_plan_page(payer, tokenise, settings):
    plan = start(payer, tokenise(SUCCEEDS))
    assert plan_url(payer, plan.public_id) == (
        f"{settings.PUBLIC_BASE_URL}/pay/{payer.link_token}/plan/{plan.public_id}/"
    )


def test_the_plan_page_reads_in_a_bounded_number_of_queries(
    client, payer, tokenise, django_assert_max_num_queries
):
    plan = start(payer, tokenise(SUCCEEDS))
    with django_assert_max_num_queries(14):
        assert client.get(page(payer, plan)).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_tabs_paying_the_same_failed_installment_charge_once(
    postgres_only, merchant, monkeypatch
):
    from payments.sandbox.services import sandbox_card_tokenise

    def card(number=SUCCEEDS):
        return sandbox_card_tokenise(
            number=number.replace(" ", ""), exp_month=12, exp_year=2040, cvc="123"
        ).token

    with time_machine.travel(START, tick=False) as clock:
        pr = make_request(
            merchant,
            total_amount=30000,
            participants=participants(1, amount=30000),
            deadline=START + timedelta(days=200),
            expires_at=START + timedelta(days=300),
        )
        payer = pr.participants.get()
        plan = start(payer, card())
        second = fail_second(clock, monkeypatch, plan)
        tokens = [card(OTHER_CARD), card(OTHER_CARD)]  # one card, tokenised in two tabs
        barrier = threading.Barrier(2)
        statuses = []

        def tab(token):
            try:
                barrier.wait()
                response = Client().post(
                    page(payer, plan),
                    {
                        "action": "pay_installment",
                        "installment": second.public_id,
                        "card_token": token,
                    },
                )
                statuses.append(response.status_code)
            except Exception as exc:  # shown by the assertion below
                statuses.append(repr(exc))
            finally:
                connection.close()

        threads = [threading.Thread(target=tab, args=(t,)) for t in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(statuses) == [302, 409]
    assert sandbox_card_balance(token=tokens[0]).debited == 10000
    assert SandboxLedgerEntry.objects.filter(kind="capture", amount=10000).count() == 2
