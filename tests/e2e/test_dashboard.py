"""The dashboard in a real browser, in French and English, on a phone and a desktop: the
charts are drawn by the vendored Chart.js (pixels on each canvas), the figures and tables
say the same, the strict CSP holds and axe-core finds nothing."""

import pytest
from playwright.sync_api import expect

from tests.e2e.test_backoffice import log_in
from tests.e2e.test_small_screens import PHONE, fits_the_screen, speaks
from tests.factories import MembershipFactory
from tests.requests_app import test_dashboard as data

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
# The data set of the dashboard's own tests: two days, two methods, one overdue, one failure.
dataset, days = data.dataset, data.days

DESKTOP = {"width": 1280, "height": 900}
TEXT = {
    "en": {"title": "Dashboard", "from": "From", "to": "To", "collected": "€60.00"},
    "fr": {"title": "Tableau de bord", "from": "Du", "to": "Au", "collected": "60,00"},
}
CHARTS = ("chart-over-time", "chart-methods", "chart-conversion")


def drawn_pixels(page, test_id: str) -> int:
    """How many pixels of the canvas are not transparent: zero until Chart.js drew on it."""
    return page.get_by_test_id(test_id).evaluate(
        """canvas => {
            const context = canvas.getContext("2d");
            const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let count = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) count++;
            return count;
        }"""
    )


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_an_operator_reads_the_dashboard_with_its_charts(
    page, live_server, merchant, dataset, days, screenshot, axe_check, language, size
):
    page.set_viewport_size(PHONE if size == "phone" else DESKTOP)
    page.emulate_media(reduced_motion="reduce")  # the script then draws without animation
    log_in(page, live_server, MembershipFactory(merchant=merchant, role="viewer").user)
    expect(page.get_by_test_id("mode-badge")).to_be_attached()
    speaks(page, language)

    page.goto(f"{live_server.url}/app/")
    if size == "phone":
        page.get_by_role("button", name="Menu").click()
    page.get_by_test_id("nav-dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TEXT[language]["title"])
    text = TEXT[language]
    page.get_by_label(text["from"], exact=True).fill(days[0].isoformat())
    page.get_by_label(text["to"], exact=True).fill(days[1].isoformat())
    page.get_by_test_id("dashboard-form").get_by_role("button").click()

    for chart in CHARTS:
        canvas = page.get_by_test_id(chart)
        expect(canvas).to_have_attribute("data-drawn", "true")
        expect(canvas).to_have_attribute("role", "img")
        assert canvas.get_attribute("aria-label")
    for chart in CHARTS:
        assert drawn_pixels(page, chart) > 500, f"{chart} is blank"
    expect(page.get_by_test_id("figure-collected")).to_contain_text(text["collected"])
    expect(page.get_by_test_id("figure-paid")).to_contain_text("2")
    page.get_by_test_id("over-time-table-toggle").click()
    expect(page.get_by_test_id("table-over-time").locator("tbody tr")).to_have_count(2)
    if size == "phone":
        fits_the_screen(page)
    screenshot(f"dashboard-{size}-{language}")
    axe_check()
