"""An operator credits a wallet and reads its ledger in a real browser; the pages pass axe."""

import pytest
from playwright.sync_api import expect

from payments.wallet import services as wallet_services
from tests.e2e.test_backoffice import log_in
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_admin_credits_a_wallet_and_reads_its_ledger(page, live_server, merchant, axe_check):
    operator = MembershipFactory(merchant=merchant, role="admin").user
    wallet = wallet_services.wallet_create(
        merchant=merchant, livemode=False, holder_email="ann@example.com"
    )
    log_in(page, live_server, operator)

    page.goto(f"{live_server.url}/app/wallets/")
    expect(page.get_by_test_id("wallet-table")).to_contain_text("ann@example.com")
    axe_check()
    page.get_by_role("link", name="ann@example.com").click()
    page.get_by_label("Amount (EUR)").first.fill("12.50")
    page.get_by_label("Reason", exact=True).fill("Welcome gift")
    page.get_by_role("button", name="Credit", exact=True).click()

    expect(page.get_by_test_id("wallet-balance")).to_have_text("€12.50")
    expect(page.get_by_test_id("ledger-table")).to_contain_text("Welcome gift")
    axe_check()
    wallet.refresh_from_db()
    assert wallet.balance == 1250
