"""Back-office pages for webhook endpoints: admins create them (the secret shown once), edit,
disable, rotate, delete and replay; viewers only read; another merchant's or the other
mode's endpoint does not exist; the delivery log's queries do not grow with its rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from merchants.models import Membership
from notifications import webhooks
from notifications.dispatcher import dispatch_due
from notifications.models import Dispatch, WebhookEndpoint
from tests.factories import MembershipFactory, make_request
from tests.notifications.receiver import receiver

pytestmark = pytest.mark.django_db
LIST_URL = "/app/webhooks/"
NEW_URL = "/app/webhooks/new/"


@pytest.fixture(autouse=True)
def quick(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_RETRY_SCHEDULE = (0,)
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False


@pytest.fixture
def admin_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role=Membership.Role.ADMIN).user)
    return client


@pytest.fixture
def viewer_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role=Membership.Role.VIEWER).user)
    return client


def endpoint_for(merchant, url="https://hooks.example.com/in", livemode=False):
    return webhooks.webhook_endpoint_create(
        merchant=merchant, url=url, events=["*"], livemode=livemode
    )


def test_an_admin_creates_an_endpoint_and_sees_its_secret_once(admin_client):
    response = admin_client.post(
        NEW_URL,
        {
            "url": "https://hooks.example.com/in",
            "description": "ERP",
            "events": ["payment_request.paid", "participant.paid"],
        },
    )
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{endpoint.public_id}/")
    assert endpoint.events == ["payment_request.paid", "participant.paid"]
    assert endpoint.livemode is False  # the session's mode
    first = admin_client.get(response["Location"]).content.decode()
    assert endpoint.secret in first
    again = admin_client.get(response["Location"]).content.decode()
    assert endpoint.secret not in again


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"url": "https://hooks.example.com/in"}, "Choose at least one event"),
        ({"url": "ftp://hooks.example.com/in", "events": ["*"]}, "https://"),
        ({"url": "https://hooks.example.com/in", "events": ["*", "participant.paid"]}, "alone"),
        ({"url": "https://hooks.example.com/in", "events": ["nope"]}, "nope"),
    ],
)
def test_a_refused_endpoint_is_shown_next_to_the_input(admin_client, data, message):
    response = admin_client.post(NEW_URL, data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_viewers_read_but_cannot_change(viewer_client, merchant):
    endpoint = endpoint_for(merchant)
    page = viewer_client.get(f"{LIST_URL}{endpoint.public_id}/").content.decode()
    assert endpoint.url in page and "Rotate secret" not in page
    assert viewer_client.get(NEW_URL).status_code == 403
    for action in ("toggle", "rotate-secret", "delete", "replay"):
        assert viewer_client.post(f"{LIST_URL}{endpoint.public_id}/{action}/").status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.is_active and not endpoint.previous_secret


def test_another_merchants_or_the_other_modes_endpoint_is_404(
    admin_client, other_merchant, merchant
):
    for endpoint in (endpoint_for(other_merchant), endpoint_for(merchant, livemode=True)):
        base = f"{LIST_URL}{endpoint.public_id}/"
        assert admin_client.get(base).status_code == 404
        assert admin_client.get(base + "edit/").status_code == 404
        assert admin_client.post(base + "toggle/").status_code == 404
        assert admin_client.post(base + "rotate-secret/").status_code == 404
        endpoint.refresh_from_db()
        assert endpoint.is_active and not endpoint.previous_secret
    assert b"hooks.example.com" not in admin_client.get(LIST_URL).content


def test_an_admin_disables_enables_rotates_edits_and_deletes(admin_client, merchant):
    endpoint = endpoint_for(merchant)
    base = f"{LIST_URL}{endpoint.public_id}/"
    admin_client.post(base + "toggle/")
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.disabled_reason) == (False, "operator")
    admin_client.post(base + "toggle/")
    endpoint.refresh_from_db()
    assert endpoint.is_active
    old = endpoint.secret
    admin_client.post(base + "rotate-secret/")
    endpoint.refresh_from_db()
    assert endpoint.previous_secret == old and endpoint.secret != old
    assert endpoint.secret in admin_client.get(base).content.decode()  # the new one, once
    response = admin_client.post(
        base + "edit/", {"url": "https://hooks.example.com/v2", "events": ["participant.paid"]}
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events) == ("https://hooks.example.com/v2", ["participant.paid"])
    admin_client.post(base + "delete/")
    assert not WebhookEndpoint.objects.exists()


def test_the_delivery_log_shows_attempts_and_replays(admin_client, merchant):
    with receiver([(500, b"receiver said no"), (500, b"again"), (200, b"ok")]) as hook:
        endpoint = endpoint_for(merchant, url=hook.url)
        make_request(merchant)
        dispatch_due(worker_id="w")
        dispatch_due(worker_id="w")
        delivery = Dispatch.objects.get(kind="webhook")
        assert delivery.status == "failed"
        base = f"{LIST_URL}{endpoint.public_id}/"
        page = admin_client.get(base).content.decode()
        assert "payment_request.created" in page and "receiver said no" in page
        assert "HTTP 500" in page

        admin_client.post(f"{base}deliveries/{delivery.public_id}/replay/")
        dispatch_due(worker_id="w")
    assert Dispatch.objects.filter(kind="webhook", status="sent", resend_of=delivery).count() == 1
    assert len(hook.calls) == 3
    since = timezone.localtime() - timezone.timedelta(hours=1)
    response = admin_client.post(base + "replay/", {"since": since.strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 302  # nothing left to replay: the event was delivered
    assert Dispatch.objects.filter(kind="webhook").count() == 2
    assert admin_client.post(base + "replay/", {"since": "soon"}).status_code == 422


def test_the_detail_page_takes_the_same_queries_for_many_deliveries(admin_client, merchant):
    endpoint = endpoint_for(merchant)
    make_request(merchant)
    url = f"{LIST_URL}{endpoint.public_id}/"

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url).status_code == 200
        return len(queries)

    count()  # the first page of a session also saves the session
    few = count()
    for _ in range(6):
        make_request(merchant)
    assert count() == few
