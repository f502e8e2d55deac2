"""An operator logs in, finds requests and opens one, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from requests_app import services
from tests.factories import MembershipFactory, make_request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def operator(merchant):
    return MembershipFactory(merchant=merchant).user


def log_in(page, live_server, user):
    page.goto(f"{live_server.url}/app/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Email").fill(user.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()


def test_an_operator_lists_filters_and_opens_a_request(
    page, live_server, merchant, other_merchant, operator, screenshot, axe_check
):
    dinner = make_request(merchant, reference="DINNER-1", description="Team dinner")
    services.participant_record_payment(participant=dinner.participants.first(), amount=1000)
    make_request(merchant, reference="GIFT-1", description="Farewell gift")
    make_request(other_merchant, reference="SECRET-1", description="Not yours")

    log_in(page, live_server, operator)

    table = page.get_by_test_id("request-table")
    expect(table).to_contain_text("DINNER-1")
    expect(table).to_contain_text("GIFT-1")
    expect(table).not_to_contain_text("SECRET-1")
    expect(page.get_by_test_id("current-merchant")).to_have_text("Alpha Shop")
    screenshot("backoffice-request-list")
    axe_check()

    page.get_by_label("Status").select_option("partially_paid")
    page.get_by_role("button", name="Filter").click()
    expect(table).to_contain_text("DINNER-1")
    expect(table).not_to_contain_text("GIFT-1")

    page.get_by_role("link", name="DINNER-1").click()
    expect(page.get_by_role("heading", name="DINNER-1")).to_be_visible()
    expect(page.get_by_test_id("amount-paid")).to_have_text("€10.00")
    participants = page.get_by_test_id("participant-table")
    expect(participants.locator("tbody tr")).to_have_count(3)
    expect(participants).to_contain_text("Paid")
    expect(page.get_by_test_id("timeline")).to_contain_text("Open → Partially paid")
    screenshot("backoffice-request-detail")
    axe_check()


def test_another_merchants_request_is_not_found_in_the_back_office(
    page, live_server, other_merchant, operator, axe_check
):
    theirs = make_request(other_merchant, reference="SECRET-2")
    log_in(page, live_server, operator)
    response = page.goto(f"{live_server.url}/app/requests/{theirs.public_id}/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    axe_check()


def test_a_wrong_password_shows_a_clear_message(page, live_server, operator, axe_check):
    page.goto(f"{live_server.url}/accounts/login/")
    axe_check()
    page.get_by_label("Email").fill(operator.username)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("did not match")
    axe_check()
