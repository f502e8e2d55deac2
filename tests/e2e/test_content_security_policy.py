"""The pages not covered by the journeys, opened in a browser under the production CSP: the
API docs, the admin login, the lockout page and the favicon. The ``page`` fixture fails a
test on any CSP violation."""

import pytest
from playwright.sync_api import expect

from tests.factories import MembershipFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_trap_inline_script_would_be_reported(page, live_server, csp_violations):
    page.goto(f"{live_server.url}/accounts/login/")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ran = 1'; document.body.appendChild(s); }"
    )
    assert page.evaluate("() => window.ran") is None
    assert any("script-src" in text for text in csp_violations)
    csp_violations.clear()


def test_the_api_docs_render_without_inline_scripts(page, live_server):
    page.goto(f"{live_server.url}/api/v1/docs/")
    expect(page.locator(".swagger-ui .info")).to_be_visible(timeout=15000)
    page.goto(f"{live_server.url}/api/v1/redoc/")
    expect(page.locator("redoc h1, .api-info h1").first).to_be_visible(timeout=15000)


def test_the_admin_login_and_the_lockout_page_run_under_the_policy(
    page, live_server, merchant, settings
):
    settings.AXES_FAILURE_LIMIT = 2
    user = MembershipFactory(merchant=merchant).user
    page.goto(f"{live_server.url}/admin/login/")
    expect(page.locator("#id_username")).to_be_visible()
    page.goto(f"{live_server.url}/accounts/login/")
    for _ in range(2):
        page.get_by_label("Email").fill(user.username)
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("lockout-message")).to_contain_text("failed 2 times in a row")


def test_the_favicon_is_served(page, live_server):
    response = page.goto(f"{live_server.url}/favicon.ico")
    assert response.status == 200
    assert response.headers["content-type"] == "image/svg+xml"
