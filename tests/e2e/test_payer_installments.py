"""A French payer on a phone (360 px) chooses to pay in installments: they see the exact
schedule (deposit, fee, every date and amount) before paying, pay the first charge with the
sandbox card, and the receipt sums the plan up. Screenshots in French and English go to
var/screenshots/ for a person to look at."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from payments.installments.models import InstallmentPlan
from requests_app.services import ParticipantData
from tests.e2e.test_payer_journey import card_debits, fill_card
from tests.factories import make_request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 780}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
OFFER = {"count": 3, "interval_unit": "month", "deposit_amount": 20000, "fee_amount": 1000}


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def fits(page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_french_payer_chooses_the_plan_sees_the_schedule_and_pays_the_first_charge(
    page, live_server, merchant, axe_check
):
    pr = make_request(
        merchant,
        description="Séjour linguistique",
        total_amount=100000,
        participants=[
            ParticipantData(name="Zoé", email="zoe@example.com", amount=100000, language="fr")
        ],
        installments=OFFER,
    )
    payer = pr.participants.get()
    page.set_viewport_size(PHONE)

    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    offer = page.get_by_test_id("plan-offer")
    expect(offer).to_contain_text("Payer en 3 échéances")
    expect(offer).to_contain_text("Frais d\u2019échelonnement : 10,00")
    expect(page.get_by_test_id("pay-at-once-heading")).to_have_text("Ou payer en une fois")
    fits(page)
    axe_check()
    shoot(page, "installments-choice-fr-360")

    page.get_by_role("link", name="Voir l\u2019échéancier et payer en plusieurs fois").click()

    expect(page.get_by_role("heading", name="Payer en 3 échéances")).to_be_visible()
    lines = page.get_by_test_id("schedule-line")
    expect(lines).to_have_count(4)
    expect(lines.nth(0)).to_contain_text("Acompte")
    expect(lines.nth(0)).to_contain_text("Aujourd\u2019hui")
    expect(page.get_by_test_id("schedule-amount")).to_have_text(
        ["200,00\xa0€", "276,68\xa0€", "266,66\xa0€", "266,66\xa0€"]
    )
    expect(lines.nth(1)).to_contain_text("y compris les frais de 10,00")
    expect(page.get_by_test_id("plan-total")).to_have_text("1\u202f010,00\xa0€")
    fits(page)
    axe_check()
    shoot(page, "installments-schedule-fr-360")

    page.goto(page.url.split("?")[0] + "?lang=en")
    expect(page.get_by_role("heading", name="Pay in 3 installments")).to_be_visible()
    expect(page.get_by_test_id("schedule-amount").first).to_have_text("€200.00")
    fits(page)
    axe_check()
    shoot(page, "installments-schedule-en-360")
    page.goto(page.url.split("?")[0] + "?lang=fr")

    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name=re.compile("^Payer 200,00")).click()

    expect(page.get_by_role("heading", name="Paiement reçu")).to_be_visible()
    expect(page.get_by_test_id("receipt-amount")).to_have_text("200,00\xa0€")
    plan = page.get_by_test_id("receipt-plan")
    expect(plan).to_contain_text("Votre échéancier : 3 échéances")
    expect(plan).to_contain_text("y compris les frais d\u2019échelonnement de 10,00")
    expect(plan.get_by_test_id("schedule-line").first).to_contain_text("payée")
    fits(page)
    axe_check()
    shoot(page, "installments-receipt-fr-360")
    page.goto(page.url.split("?")[0] + "?lang=en")
    expect(page.get_by_test_id("receipt-plan")).to_contain_text("Your plan: 3 installments")
    fits(page)
    axe_check()
    shoot(page, "installments-receipt-en-360")

    plan_row = InstallmentPlan.objects.get(participant=payer)
    assert (plan_row.status, plan_row.amount, plan_row.fee_amount) == ("active", 101000, 1000)
    assert card_debits(payer) == 20000
    page.goto(f"{live_server.url}/pay/{payer.link_token}/?lang=fr")
    expect(page.get_by_test_id("plan-summary")).to_contain_text("Vous payez en 3 échéances.")
    expect(page.get_by_test_id("pay-button")).to_have_count(0)
    axe_check()
    shoot(page, "installments-running-fr-360")
