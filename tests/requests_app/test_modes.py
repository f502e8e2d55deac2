"""A test key and a live key of one merchant see two separate books: another mode's object is
a 404, exactly like another merchant's, and every API object says which mode it lives in."""

import pytest
from rest_framework.test import APIClient

from requests_app import services as request_services
from requests_app.models import PaymentRequest
from scenarios import services as scenario_services
from tests.factories import api_secret_for, make_request

pytestmark = pytest.mark.django_db

URL = "/api/v1/payment-requests"


def client_with(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def test_api(merchant):
    return client_with(api_secret_for(merchant, mode="test"))


@pytest.fixture
def live_api(merchant, live_cards):
    return client_with(api_secret_for(merchant, mode="live"))


@pytest.fixture
def live_request(merchant, live_cards):
    return make_request(merchant, reference="LIVE-1", livemode=True)


@pytest.fixture
def test_request(merchant):
    return make_request(merchant, reference="TEST-1")


def assert_not_found(response):
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"


def every_call_on(api, payment_request):
    url = f"{URL}/{payment_request.public_id}"
    participant = payment_request.participants.first().public_id
    return [
        api.get(url),
        api.patch(url, {"description": "changed"}, format="json"),
        api.post(f"{url}/cancel", {}, format="json"),
        api.post(f"{url}/refund", {}, format="json"),
        api.post(
            f"{url}/participants",
            {"name": "Eve", "email": "e@example.com", "amount": 5},
            format="json",
        ),
        api.delete(f"{url}/participants/{participant}"),
        api.get(f"{url}/participants/{participant}/qr"),
        api.get(f"{url}/notifications"),
        api.post(f"{url}/notifications/pause", {}, format="json"),
    ]


def test_the_same_calls_with_the_right_key_reach_the_request(live_api, live_request):
    # Proves the URLs below exist, so the 404s of the other mode mean "not yours".
    statuses = [response.status_code for response in every_call_on(live_api, live_request)]
    assert 404 not in statuses, statuses


def test_a_test_key_never_reads_lists_changes_or_refunds_a_live_request(test_api, live_request):
    for response in every_call_on(test_api, live_request):
        assert_not_found(response)
    assert test_api.get(URL).json()["results"] == []
    assert test_api.get(URL, {"reference": "LIVE-1"}).json()["results"] == []
    live_request.refresh_from_db()
    assert (live_request.status, live_request.description) == ("open", "")
    assert not live_request.notifications_paused
    assert live_request.participants.count() == 3


def test_a_live_key_never_reads_lists_changes_or_refunds_a_test_request(live_api, test_request):
    for response in every_call_on(live_api, test_request):
        assert_not_found(response)
    assert live_api.get(URL).json()["results"] == []
    test_request.refresh_from_db()
    assert (test_request.status, test_request.participants.count()) == ("open", 3)


def test_each_key_lists_only_its_own_mode(test_api, live_api, test_request, live_request):
    assert [r["id"] for r in test_api.get(URL).json()["results"]] == [test_request.public_id]
    assert [r["id"] for r in live_api.get(URL).json()["results"]] == [live_request.public_id]


def test_a_refund_with_a_test_key_cannot_touch_a_cancelled_live_request(test_api, live_request):
    request_services.payment_request_cancel(payment_request=live_request)
    assert_not_found(test_api.post(f"{URL}/{live_request.public_id}/refund", {}, format="json"))


def test_every_created_object_takes_the_mode_of_the_key(live_api, live_cards):
    body = {
        "reference": "LIVE-2",
        "currency": "EUR",
        "total_amount": 2000,
        "participants": [{"name": "Ann", "email": "a@example.com", "amount": 2000}],
    }
    created = live_api.post(URL, body, format="json")
    assert created.status_code == 201, created.content
    payment_request = PaymentRequest.objects.get(public_id=created.json()["id"])
    added = live_api.post(
        f"{URL}/{payment_request.public_id}/participants",
        {"name": "Ben", "email": "b@example.com", "amount": 500},
        format="json",
    )

    assert payment_request.livemode is True
    assert all(p.livemode for p in payment_request.participants.all())
    assert added.json()["livemode"] is True
    assert all(e.livemode for e in payment_request.events.all())
    assert payment_request.events.exists()


def test_a_body_cannot_choose_its_mode(test_api):
    body = {
        "reference": "SNEAKY",
        "currency": "EUR",
        "total_amount": 100,
        "participants": [{"name": "Ann", "email": "a@example.com", "amount": 100}],
        "livemode": True,
    }
    response = test_api.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "livemode"
    assert not PaymentRequest.objects.exists()


def test_one_reference_may_exist_once_in_each_mode(test_api, live_api, test_request):
    body = {
        "reference": "TEST-1",
        "currency": "EUR",
        "total_amount": 100,
        "participants": [{"name": "Ann", "email": "a@example.com", "amount": 100}],
    }
    assert live_api.post(URL, body, format="json").status_code == 201
    duplicate = test_api.post(URL, body, format="json")
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "duplicate_reference"


def test_an_idempotency_key_of_one_mode_does_not_replay_in_the_other(test_api, live_api):
    body = {
        "reference": "SAME-KEY",
        "currency": "EUR",
        "total_amount": 100,
        "participants": [{"name": "Ann", "email": "a@example.com", "amount": 100}],
    }
    headers = {"HTTP_IDEMPOTENCY_KEY": "order-42"}
    first = test_api.post(URL, body, format="json", **headers)
    other_mode = live_api.post(URL, body, format="json", **headers)
    replay = test_api.post(URL, body, format="json", **headers)

    assert first.status_code == other_mode.status_code == 201
    assert first.json()["id"] != other_mode.json()["id"]
    assert (first.json()["livemode"], other_mode.json()["livemode"]) == (False, True)
    assert replay.json()["id"] == first.json()["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"


def objects_in(body) -> list[dict]:
    """Every JSON object of a response that stands for a product object (it has an id)."""
    found = []
    if isinstance(body, dict):
        if "id" in body and "created_at" in body:
            found.append(body)
        for value in body.values():
            found.extend(objects_in(value))
    elif isinstance(body, list):
        for value in body:
            found.extend(objects_in(value))
    return found


@pytest.mark.parametrize("mode", ["test", "live"])
def test_every_object_the_api_returns_carries_its_livemode(merchant, live_cards, mode, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    api = client_with(api_secret_for(merchant, mode=mode))
    livemode = mode == "live"
    endpoint = api.post(
        "/api/v1/webhook-endpoints",
        {"url": "https://hooks.example.com/x", "events": ["*"]},
        format="json",
    )
    template = api.post(
        "/api/v1/templates",
        {"name": "Hi", "channel": "email", "subject": {"en": "Hi"}, "body_text": {"en": "Hello"}},
        format="json",
    )
    scenario = api.post(
        "/api/v1/scenarios",
        {
            "name": "S",
            "steps": [
                {
                    "trigger": "request_created",
                    "audience": "all_participants",
                    "channel": "email",
                    "template": template.json()["id"],
                }
            ],
        },
        format="json",
    )
    form = api.post(
        "/api/v1/forms",
        {"name": "F", "fields": [{"key": "size", "type": "text", "label": {"en": "Size"}}]},
        format="json",
    )
    created = api.post(
        URL,
        {
            "reference": f"R-{mode}",
            "currency": "EUR",
            "total_amount": 100,
            "participants": [{"name": "Ann", "email": "a@example.com", "amount": 100}],
            "scenario": scenario.json()["id"],
        },
        format="json",
    )
    request_id = created.json()["id"]
    responses = [
        endpoint,
        template,
        scenario,
        form,
        created,
        api.get(URL),
        api.get(f"{URL}/{request_id}"),
        api.get(f"{URL}/{request_id}/notifications"),
        api.get("/api/v1/webhook-endpoints"),
        api.get("/api/v1/templates"),
        api.get(f"/api/v1/templates/{template.json()['id']}"),
        api.get("/api/v1/scenarios"),
        api.get(f"/api/v1/scenarios/{scenario.json()['id']}"),
        api.get("/api/v1/forms"),
        api.get(f"/api/v1/forms/{form.json()['id']}"),
    ]
    seen = 0
    for response in responses:
        assert response.status_code in (200, 201), response.content
        for obj in objects_in(response.json()):
            assert obj.get("livemode") is livemode, (response.request["PATH_INFO"], obj)
            seen += 1
    assert seen >= 15


def test_webhook_endpoints_belong_to_one_mode(test_api, live_api, merchant):
    live_endpoint = scenario_services.webhook_endpoint_create(
        merchant=merchant, url="https://hooks.example.com/live", livemode=True
    )
    test_ids = [e["id"] for e in test_api.get("/api/v1/webhook-endpoints").json()["results"]]
    live_ids = [e["id"] for e in live_api.get("/api/v1/webhook-endpoints").json()["results"]]
    assert test_ids == [] and live_ids == [live_endpoint.public_id]


def test_a_refund_naming_a_live_participant_on_a_test_request_is_refused(
    test_api, test_request, live_request
):
    live_payer = live_request.participants.first().public_id
    response = test_api.post(
        f"{URL}/{test_request.public_id}/refund",
        {"participants": [{"id": live_payer, "amount": 100}]},
        format="json",
    )
    assert response.status_code == 422, response.content
    assert (response.json()["error"]["code"], response.json()["error"]["field"]) == (
        "unknown_participant",
        "participants[0].id",
    )
