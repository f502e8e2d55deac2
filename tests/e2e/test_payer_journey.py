"""A payer opens their link in a real browser and pays with the sandbox's test cards."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from payments.sandbox.selectors import sandbox_card_balance
from requests_app import services
from requests_app.services import ParticipantData
from smartforms.services import form_create
from tests.factories import make_request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EXPIRY = f"12/{(timezone.now().year + 3) % 100:02d}"


def fill_card(page, number, *, cvc_label="CVC"):
    page.get_by_label(re.compile("Card number|Numéro de carte")).fill(number)
    page.get_by_label(re.compile("Expiry date|Date d'expiration")).fill(EXPIRY)
    page.get_by_label(cvc_label).fill("123")


def card_debits(participant):
    """What the sandbox acquirer's own ledger says it took, over every card used."""
    from payments.sandbox.models import SandboxCard

    fingerprints = set(SandboxCard.objects.values_list("fingerprint", flat=True))
    return sum(sandbox_card_balance(fingerprint=f).debited for f in fingerprints)


def test_fill_the_smart_form_and_pay_with_the_success_card(
    page, live_server, merchant, screenshot, axe_check
):
    form = form_create(
        merchant=merchant,
        name="Registration",
        fields=[
            {
                "key": "company",
                "type": "text",
                "label": {"en": "Company", "fr": "Société"},
                "required": True,
            },
            {
                "key": "terms",
                "type": "consent",
                "label": {"en": "I accept the terms"},
                "required": True,
            },
        ],
    )
    pr = make_request(merchant, form=form, description="Conference ticket")
    payer = pr.participants.first()

    page.set_viewport_size({"width": 390, "height": 844})  # payers mostly come from a phone
    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    expect(page.get_by_role("heading", name="Conference ticket")).to_be_visible()
    screenshot("payer-page-en-mobile")
    axe_check()
    page.get_by_label("Company").fill("Acme")
    page.get_by_label("I accept the terms").check()
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name=re.compile("^Pay")).click()

    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.get_by_test_id("receipt-amount")).to_have_text("€10.00")
    screenshot("payer-receipt")
    axe_check()
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("paid", 1000)
    assert card_debits(payer) == 1000


def test_declined_then_retry_with_a_good_card(page, live_server, merchant, axe_check):
    pr = make_request(merchant)
    payer = pr.participants.first()
    page.goto(f"{live_server.url}/pay/{payer.link_token}/")

    fill_card(page, "4000 0000 0000 0002")
    page.get_by_role("button", name=re.compile("^Pay")).click()
    expect(page.get_by_test_id("payment-error")).to_contain_text("declined")
    axe_check()

    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name=re.compile("^Pay")).click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    assert card_debits(payer) == 1000


def test_3ds_refused_charges_nothing_and_says_so(
    page, live_server, merchant, screenshot, axe_check
):
    pr = make_request(merchant)
    payer = pr.participants.first()
    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    fill_card(page, "4000 0000 0000 3220")
    page.get_by_role("button", name=re.compile("^Pay")).click()

    expect(page.get_by_role("heading", name="Confirm your payment")).to_be_visible()
    screenshot("sandbox-3ds")
    axe_check()
    page.get_by_role("button", name="Refuse").click()

    expect(page.get_by_test_id("payment-error")).to_contain_text("3-D Secure")
    axe_check()
    payer.refresh_from_db()
    assert (payer.status, payer.amount_paid) == ("failed", 0)
    assert card_debits(payer) == 0


def test_3ds_approved_pays(page, live_server, merchant):
    pr = make_request(merchant)
    payer = pr.participants.first()
    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    fill_card(page, "4000 0000 0000 3220")
    page.get_by_role("button", name=re.compile("^Pay")).click()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    assert card_debits(payer) == 1000


def test_a_french_payer_authenticates_on_a_french_3ds_page(
    page, live_server, merchant, screenshot, axe_check
):
    pr = make_request(
        merchant,
        total_amount=1000,
        participants=[
            ParticipantData(name="Zoé", email="zoe@example.com", amount=1000, language="fr")
        ],
    )
    payer = pr.participants.get()
    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    fill_card(page, "4000 0000 0000 3220")
    page.get_by_role("button", name=re.compile("^Payer")).click()

    expect(page.get_by_role("heading", name="Confirmez votre paiement")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    screenshot("sandbox-3ds-fr")
    axe_check()
    page.get_by_role("button", name="Approuver").click()
    expect(page.get_by_role("heading", name="Paiement reçu")).to_be_visible()
    assert card_debits(payer) == 1000


def test_an_expired_link_shows_no_payment_form(page, live_server, merchant, axe_check):
    pr = make_request(merchant)
    services.payment_request_expire(payment_request=pr)
    payer = pr.participants.first()
    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    expect(page.get_by_test_id("state")).to_contain_text("expired")
    expect(page.get_by_role("button", name=re.compile("^Pay"))).to_have_count(0)
    expect(page.get_by_label("Card number")).to_have_count(0)
    axe_check()


def test_a_french_payer_gets_a_french_page_and_can_pay(
    page, live_server, merchant, screenshot, axe_check
):
    pr = make_request(
        merchant,
        total_amount=2500,
        description="Dîner d'équipe",
        participants=[
            ParticipantData(name="Zoé", email="zoe@example.com", amount=2500, language="fr")
        ],
        deadline=timezone.now() + timedelta(days=3),
    )
    payer = pr.participants.get()
    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    expect(page.get_by_text("Bonjour Zoé,")).to_be_visible()
    button = page.get_by_role("button", name=re.compile("^Payer"))
    expect(button).to_contain_text("25,00")
    screenshot("payer-page-fr")
    axe_check()
    fill_card(page, "4242 4242 4242 4242")
    button.click()
    expect(page.get_by_role("heading", name="Paiement reçu")).to_be_visible()


def test_a_free_amount_out_of_range_is_refused_in_the_page(page, live_server, merchant, axe_check):
    pot = make_request(
        merchant,
        amount_mode="free",
        total_amount=None,
        min_amount=500,
        max_amount=2000,
        participants=[ParticipantData(name="A", email="a@example.com")],
    )
    payer = pot.participants.get()
    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    page.get_by_label("Amount").fill("50")
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name=re.compile("^Pay")).click()
    expect(page.get_by_text("above the maximum")).to_be_visible()
    axe_check()
    page.get_by_label("Amount").fill("15")
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name=re.compile("^Pay")).click()
    expect(page.get_by_test_id("receipt-amount")).to_have_text("€15.00")


@pytest.mark.parametrize(
    ("language", "pay", "held", "explained"),
    [
        ("en", "^Pay", "Payment held", "taken when the collection is complete"),
        ("fr", "^Payer", "Paiement réservé", "débité quand la collecte sera complète"),
    ],
)
def test_a_held_share_shows_the_payment_held_on_a_phone(
    page, live_server, merchant, screenshot, axe_check, language, pay, held, explained
):
    soon = timezone.now() + timedelta(days=3)
    pr = make_request(
        merchant,
        capture_mode="on_completion",
        total_amount=2000,
        participants=[
            ParticipantData(name="Zoé", email="zoe@example.com", amount=1000, language=language),
            ParticipantData(name="Yann", email="yann@example.com", amount=1000),
        ],
        deadline=soon,
        expires_at=soon,
    )
    payer = pr.participants.get(name="Zoé")
    page.set_viewport_size({"width": 360, "height": 780})
    page.goto(f"{live_server.url}/pay/{payer.link_token}/")
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name=re.compile(pay)).click()

    expect(page.get_by_role("heading", name=held)).to_be_visible()
    expect(page.get_by_test_id("state")).to_contain_text(explained)
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_role("button", name=re.compile(pay))).to_have_count(0)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    screenshot(f"payer-held-{language}-360")
    axe_check()

    page.goto(f"{live_server.url}/pay/{payer.link_token}/")  # the payer opens the link again
    expect(page.get_by_test_id("state")).to_contain_text(explained)
    expect(page.get_by_role("button", name=re.compile(pay))).to_have_count(0)
    expect(page.get_by_label(re.compile("Card number|Numéro de carte"))).to_have_count(0)
    screenshot(f"payer-held-again-{language}-360")
    axe_check()
    assert card_debits(payer) == 0
