"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Playwright's sync API runs an event loop in the test thread, which makes Django think it is
in async code; the ORM calls in these tests are plain sync calls, so that guard is lifted.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium package is not installed")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


# Redoc's "powered by" logo is hard-wired to its CDN: the policy blocks it (no third party
# learns who reads our docs) and Redoc hides the broken image. Nothing else is excused.
EXPECTED_BLOCKS = ("https://cdn.redoc.ly/redoc/logo-mini.svg",)


@pytest.fixture
def csp_violations():
    return []


@pytest.fixture
def page(browser, csp_violations):
    """Every page a browser test opens runs under the production Content-Security-Policy; a
    violation (an inline script, a foreign asset) fails the test that caused it."""
    # Reduced motion turns Bootstrap's colour transitions off, so axe reads a hovered or
    # focused button's final colours rather than a frame halfway through.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, reduced_motion="reduce")
    page = context.new_page()
    page.on(
        "console",
        lambda message: (
            csp_violations.append(message.text)
            if "Content Security Policy" in message.text
            and not any(url in message.text for url in EXPECTED_BLOCKS)
            else None
        ),
    )
    yield page
    context.close()
    assert csp_violations == [], "\n".join(csp_violations)


@pytest.fixture
def screenshot(page):
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str, target=None) -> Path:
        path = ARTIFACTS / f"{name}.png"
        (target or page).screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(autouse=True)
def public_base_url(settings, live_server):
    """Links the product builds (payment links, 3-D Secure pages) must point at the server
    the browser talks to."""
    settings.PUBLIC_BASE_URL = live_server.url


@pytest.fixture
def axe_check(page):
    """Run axe-core on the page as it stands and fail on any violation, naming each one."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check(context=None) -> None:
        results = axe.run(page, context=context)
        violations = results.response["violations"]
        assert not violations, f"on {page.url}:\n" + "\n".join(
            f"{v['id']}: {v['help']}\n"
            + "\n".join(
                f"  {' '.join(map(str, n['target']))}: {n.get('failureSummary', '')}"
                for n in v["nodes"][:5]
            )
            for v in violations
        )

    return check
