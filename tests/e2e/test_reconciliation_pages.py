"""The reconciliation pages an operator opens from a phone, in English and French, at 360 px:
the request's statement (vouchers + card, the card refunded) and the daily CSV list, each in
the visitor's language, fitting the screen and passing axe-core."""

import pytest
from playwright.sync_api import expect

from payments import services
from payments.services import LegRequest
from tests.e2e.test_backoffice import log_in
from tests.e2e.test_small_screens import PHONE, fits_the_screen, speaks
from tests.factories import MembershipFactory, make_request, participants
from tests.payments.conftest import SUCCEEDS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXT = {
    "en": {"title": "Reconciliation", "net": "€48.08", "voucher": "Holiday vouchers"},
    "fr": {"title": "Rapprochement", "net": "48,08", "voucher": "Chèques-Vacances"},
}


@pytest.fixture
def refunded_combined_payment(merchant, tokenise):
    services.payment_method_enable(merchant=merchant, method="holiday_voucher")
    services.fee_rule_set(merchant=merchant, method="card", fixed_fee=25, percent_bp=140)
    services.fee_rule_set(merchant=merchant, method="holiday_voucher", fixed_fee=0, percent_bp=250)
    payment_request = make_request(
        merchant,
        reference="SKI-TRIP-2026",
        total_amount=8000,
        participants=participants(1, amount=8000),
    )
    participant = payment_request.participants.get()
    services.checkout_open(
        participant=participant,
        legs=[
            LegRequest(method="holiday_voucher", source="1000000050", amount=5000),
            LegRequest(method="card", source=tokenise(SUCCEEDS), amount=3000),
        ],
    )
    services.payment_request_refund(
        payment_request=payment_request, lines=[services.RefundLine(participant, 3000)]
    )
    return payment_request


@pytest.mark.parametrize("language", ["en", "fr"])
def test_an_operator_reads_a_reconciliation_on_a_phone(
    page, live_server, merchant, refunded_combined_payment, screenshot, axe_check, language
):
    page.set_viewport_size(PHONE)
    log_in(page, live_server, MembershipFactory(merchant=merchant, role="viewer").user)
    expect(page.get_by_test_id("mode-badge")).to_be_attached()
    speaks(page, language)
    public_id = refunded_combined_payment.public_id

    page.goto(f"{live_server.url}/app/requests/{public_id}/")
    page.get_by_test_id("reconciliation-link").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text(TEXT[language]["title"])
    expect(page.locator("html")).to_have_attribute("lang", language)
    lines = page.get_by_test_id("reconciliation-lines")
    expect(lines).to_contain_text(TEXT[language]["voucher"])
    expect(lines.locator("[data-status=refunded]")).to_have_count(1)
    # 50.00 - 1.25 on the vouchers, 30.00 - 30.00 refunded - 0.67 on the card: 48.08.
    expect(page.get_by_test_id("total-net")).to_contain_text(TEXT[language]["net"])
    fits_the_screen(page)
    screenshot(f"reconciliation-{language}-360")
    axe_check()

    with page.expect_download() as download:
        page.get_by_test_id("reconciliation-csv").click()
    assert download.value.suggested_filename == f"{public_id}-reconciliation.csv"


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_daily_reconciliations_list_on_a_phone(
    page, live_server, merchant, refunded_combined_payment, screenshot, axe_check, language
):
    from django.utils import timezone

    services.daily_reconciliation_build(merchant=merchant, livemode=False, day=timezone.localdate())
    page.set_viewport_size(PHONE)
    log_in(page, live_server, MembershipFactory(merchant=merchant, role="viewer").user)
    expect(page.get_by_test_id("mode-badge")).to_be_attached()
    speaks(page, language)

    page.goto(f"{live_server.url}/app/reconciliations/")

    expect(page.get_by_test_id("daily-reconciliations").locator("tbody tr")).to_have_count(1)
    expect(page.locator("html")).to_have_attribute("lang", language)
    fits_the_screen(page)
    screenshot(f"daily-reconciliations-{language}-360")
    axe_check()
