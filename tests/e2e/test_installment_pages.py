"""Installment plans in a real browser: the payer's plan page on a phone (French and
English), paying a failed installment with another card; the operator's week of charges
and the plan page. Every page passes axe-core."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from payments.installments import services
from payments.models import Installment
from payments.sandbox.selectors import sandbox_card_balance
from payments.sandbox.services import sandbox_card_tokenise
from requests_app.links import plan_url
from tests.e2e.test_backoffice import log_in
from tests.e2e.test_payer_journey import fill_card
from tests.factories import MembershipFactory, make_request, participants
from tests.payments.test_installment_plans import refuse_merchant_initiated_charges

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 780}


@pytest.fixture
def failed_plan(merchant, monkeypatch):
    """A three-month plan whose second charge was just refused."""
    payment_request = make_request(
        merchant,
        reference="CAMP-2030",
        description="Summer camp",
        total_amount=30000,
        participants=participants(1, amount=30000),
        expires_at=timezone.now() + timedelta(days=300),
        language="fr",
    )
    payer = payment_request.participants.get()
    card = sandbox_card_tokenise(number="4242424242424242", exp_month=12, exp_year=2040, cvc="123")
    plan = services.installment_plan_start(
        participant=payer, source=card.token, count=3, interval_unit="month"
    )
    second = plan.installments.get(position=1)
    refuse_merchant_initiated_charges(monkeypatch, times=1)
    services.installments_charge_due(now=second.next_attempt_at + timedelta(minutes=5))
    monkeypatch.undo()
    second.refresh_from_db()
    assert second.status == "failed"
    return plan


@pytest.mark.parametrize(
    ("language", "heading", "pay", "done"),
    [
        ("fr", "Votre paiement en plusieurs fois", "Payer 100,00", "ont été réglés"),
        ("en", "Your installment plan", "Pay €100.00", "was paid"),
    ],
)
def test_the_payer_pays_a_failed_installment_with_another_card_on_a_phone(
    page, live_server, failed_plan, screenshot, axe_check, language, heading, pay, done
):
    payer = failed_plan.participant
    page.set_viewport_size(PHONE)

    page.goto(f"{plan_url(payer, failed_plan.public_id)}?lang={language}")

    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_test_id("installment")).to_have_count(3)
    expect(page.get_by_test_id("pay-installment")).to_contain_text(pay)
    screenshot(f"payer-plan-failed-{language}-360")
    axe_check()
    fill_card(page, "5555 5555 5555 4444")
    page.get_by_test_id("pay-installment").click()

    expect(page.get_by_test_id("notice")).to_contain_text(done)
    expect(page.get_by_test_id("pay-installment")).to_have_count(0)
    screenshot(f"payer-plan-paid-{language}-360")
    axe_check()
    failed_plan.refresh_from_db()
    assert failed_plan.installments.get(position=1).status == "paid"
    assert sandbox_card_balance(token=failed_plan.source).debited == 10000  # the new card


def test_an_operator_reads_the_week_and_cancels_a_plan(
    page, live_server, merchant, failed_plan, screenshot, axe_check
):
    operator = MembershipFactory(merchant=merchant, role="admin").user
    # The failed installment's retry is brought into this week for the list to show it.
    Installment.objects.filter(plan=failed_plan, position=1).update(
        next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    log_in(page, live_server, operator)

    page.goto(f"{live_server.url}/app/installments/due/")
    expect(page.get_by_test_id("due-row")).to_have_count(1)
    expect(page.get_by_test_id("due-table")).to_contain_text("CAMP-2030")
    screenshot("backoffice-installments-due")
    axe_check()

    page.get_by_role("link", name=failed_plan.public_id).click()
    expect(page.get_by_test_id("installment-row")).to_have_count(3)
    screenshot("backoffice-installment-plan")
    axe_check()
    page.get_by_label("I confirm: cancel this plan").check()
    page.get_by_role("button", name="Cancel the plan").click()
    expect(page.get_by_role("alert").or_(page.get_by_role("status")).first).to_contain_text(
        "The plan is cancelled"
    )
    axe_check()
    failed_plan.refresh_from_db()
    assert failed_plan.status == "cancelled"

    page.goto(f"{live_server.url}/app/requests/{failed_plan.request.public_id}/")
    expect(page.get_by_test_id("installment-plan")).to_contain_text("Cancelled")
    axe_check()
