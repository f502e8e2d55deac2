"""The back office's mode toggle: every page shows which mode it is in, and shows and acts on
that mode's objects only (the other mode's request is a 404, like another merchant's)."""

import pytest

from scenarios.models import OutboxMessage
from tests.factories import MembershipFactory, make_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant).user)
    return client


@pytest.fixture
def both(merchant, live_cards):
    return make_request(merchant, reference="TEST-REQ"), make_request(
        merchant, reference="LIVE-REQ", livemode=True
    )


def test_the_back_office_starts_in_test_mode_and_says_so(operator_client, both):
    html = operator_client.get("/app/").content.decode()

    assert 'data-testid="test-mode-banner"' in html
    assert ">Test mode<" in html and "Switch to live" in html
    assert "TEST-REQ" in html and "LIVE-REQ" not in html


def test_switching_to_live_shows_only_live_requests(operator_client, both):
    test_request, live_request = both

    response = operator_client.post("/app/mode/", {"mode": "live"})
    html = operator_client.get("/app/").content.decode()

    assert response.status_code == 302
    assert ">Live mode<" in html and 'data-testid="test-mode-banner"' not in html
    assert "LIVE-REQ" in html and "TEST-REQ" not in html
    assert operator_client.get(f"/app/requests/{test_request.public_id}/").status_code == 404
    assert operator_client.get(f"/app/requests/{live_request.public_id}/").status_code == 200


def test_in_test_mode_a_live_request_is_not_found_on_any_page(operator_client, both):
    _, live_request = both
    participant = live_request.participants.first()
    base = f"/app/requests/{live_request.public_id}"

    for url in (
        f"{base}/",
        f"{base}/export.csv",
        f"{base}/participants/{participant.public_id}/qr.png",
    ):
        assert operator_client.get(url).status_code == 404, url


def test_the_toggle_refuses_anything_but_test_or_live(operator_client, both):
    assert operator_client.post("/app/mode/", {"mode": "prod"}).status_code == 400
    assert operator_client.post("/app/mode/", {}).status_code == 400
    assert "LIVE-REQ" not in operator_client.get("/app/").content.decode()


def test_the_toggle_needs_a_login(client):
    response = client.post("/app/mode/", {"mode": "live"})
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_the_outbox_page_shows_the_current_modes_messages(operator_client, merchant):
    OutboxMessage.objects.create(merchant=merchant, channel="sms", to="+33600000001", text="T")
    OutboxMessage.objects.create(
        merchant=merchant, channel="sms", to="+33600000002", text="L", livemode=True
    )

    test_page = operator_client.get("/app/outbox/").content.decode()
    operator_client.post("/app/mode/", {"mode": "live"})
    live_page = operator_client.get("/app/outbox/").content.decode()

    assert "+33600000001" in test_page and "+33600000002" not in test_page
    assert "+33600000002" in live_page and "+33600000001" not in live_page
