"""An admin registers a webhook endpoint (the secret shown once), watches a delivery fail in
the log with its attempts, replays it once the receiver is back, and rotates the secret; in
English and in French, each page passing axe-core."""

import pytest
from playwright.sync_api import expect

from notifications.dispatcher import dispatch_due
from notifications.models import Dispatch, WebhookEndpoint
from tests.e2e.test_backoffice import log_in
from tests.e2e.test_small_screens import speaks
from tests.factories import MembershipFactory, MerchantFactory, make_request
from tests.notifications.receiver import receiver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXT = {
    "en": {
        "main": "Main",
        "list": "Webhook endpoints",
        "new": "New endpoint",
        "create": "Create endpoint",
        "all": "All events (*)",
        "secret": "copy it now",
        "failed": "Failed",
        "succeeded": "Succeeded",
        "replay": "Replay",
        "rotate": "Rotate secret",
        "overlap": "the previous secret also signs",
    },
    "fr": {
        "main": "Principal",
        "list": "Points de réception webhook",
        "new": "Nouveau point de réception",
        "create": "Créer le point de réception",
        "all": "Tous les événements (*)",
        "secret": "copiez-le maintenant",
        "failed": "Échoué",
        "succeeded": "Réussi",
        "replay": "Renvoyer",
        "rotate": "Renouveler le secret",
        "overlap": "ancien secret signe aussi",
    },
}


@pytest.fixture(autouse=True)
def quick(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_RETRY_SCHEDULE = (0,)
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False


@pytest.fixture
def merchant(db):
    return MerchantFactory(name="Alpha Shop")


@pytest.fixture
def admin(merchant):
    return MembershipFactory(merchant=merchant, role="admin").user


@pytest.mark.parametrize("language", ["en", "fr"])
def test_an_admin_registers_an_endpoint_and_replays_a_failed_delivery(
    page, live_server, merchant, admin, screenshot, axe_check, language
):
    from merchants.models import OperatorPreference

    text = TEXT[language]
    OperatorPreference.objects.create(user=admin, language=language)
    log_in(page, live_server, admin)
    speaks(page, language)
    with receiver([(503, b"maintenance until 14:00"), (503, b"still down"), (200, b"ok")]) as hook:
        nav = page.get_by_role("navigation", name=text["main"])
        nav.get_by_role("button", name="Configuration").click()
        nav.get_by_role("link", name=text["list"]).click()
        expect(page.get_by_role("heading", name=text["list"])).to_be_visible()
        axe_check()
        page.get_by_role("link", name=text["new"]).click()
        page.get_by_label("URL").fill(hook.url)
        page.get_by_label(text["all"]).check()
        axe_check()
        screenshot(f"webhooks-new-{language}")
        page.get_by_role("button", name=text["create"]).click()

        endpoint = WebhookEndpoint.objects.get()
        secret_box = page.get_by_test_id("webhook-secret")
        expect(secret_box).to_contain_text(text["secret"])
        expect(secret_box).to_contain_text(endpoint.secret)
        axe_check()
        screenshot(f"webhooks-secret-{language}")

        make_request(merchant, reference="DINNER-1")
        dispatch_due(worker_id="e2e")
        dispatch_due(worker_id="e2e")
        page.reload()
        expect(page.get_by_test_id("webhook-secret")).to_have_count(0)  # shown once only
        log = page.get_by_test_id("webhook-deliveries")
        expect(log).to_contain_text("payment_request.created")
        expect(log).to_contain_text(text["failed"])
        log.locator("summary").first.click()
        expect(log).to_contain_text("maintenance until 14:00")
        axe_check()
        screenshot(f"webhooks-log-{language}")

        log.get_by_role("button", name=text["replay"]).click()
        dispatch_due(worker_id="e2e")
        page.reload()
        expect(page.get_by_test_id("webhook-deliveries")).to_contain_text(text["succeeded"])
        page.get_by_test_id("webhook-rotate").click()
        expect(page.get_by_text(text["overlap"])).to_be_visible()
        axe_check()
        screenshot(f"webhooks-replayed-{language}")
    delivered = Dispatch.objects.get(kind="webhook", status="sent")
    assert hook.calls[-1].webhook_id == delivered.resend_of.public_id
    hook.calls[-1].verify(endpoint.secret)
