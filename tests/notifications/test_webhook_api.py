"""The webhook endpoint and delivery API: create (events required, the secret once), read,
change, rotate, delete; the delivery log with its filters and attempts; replays. Another
merchant's or the other mode's objects are 404; malformed bodies 400."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from notifications import webhooks
from notifications.dispatcher import dispatch_due
from notifications.models import DeliveryAttempt, Dispatch, WebhookEndpoint
from tests.factories import api_secret_for, make_request
from tests.notifications.receiver import receiver
from tests.scenarios.helpers import make_scenario, step

pytestmark = pytest.mark.django_db
URL = "/api/v1/webhook-endpoints"


@pytest.fixture(autouse=True)
def quick(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_RETRY_SCHEDULE = (0,)
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False


@pytest.fixture
def live_api(merchant, live_cards) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret_for(merchant, mode='live')}")
    return client


def error(response) -> dict:
    return response.json()["error"]


def create(api, **body):
    return api.post(
        URL, {"url": "https://hooks.example.com/in", "events": ["*"], **body}, format="json"
    )


# --- Endpoints ------------------------------------------------------------------------------


def test_creating_an_endpoint_shows_its_secret_once(api):
    response = create(api, events=["payment_request.paid", "participant.paid"], description="ERP")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["payment_request.paid", "participant.paid"]
    assert (body["enabled"], body["livemode"], body["description"]) == (True, False, "ERP")
    again = api.get(f"{URL}/{body['id']}").json()
    assert "secret" not in again and again["id"] == body["id"]
    assert "secret" not in api.get(URL).json()["results"][0]


@pytest.mark.parametrize(
    ("events", "code", "field"),
    [
        (None, "required", "events"),
        ([], "required", "events"),
        (["payment_request.paid", "payment.done"], "unknown_event_type", "events[1]"),
        (["*", "payment_request.paid"], "invalid_events", "events"),
        (["request_created"], "unknown_event_type", "events[0]"),  # internal names are not it
        (["x"] * 101, "too_many", "events"),
    ],
)
def test_events_are_required_and_must_be_catalogue_names(api, events, code, field):
    body = {"url": "https://hooks.example.com/in"}
    if events is not None:
        body["events"] = events
    response = api.post(URL, body, format="json")
    assert response.status_code in (400, 422), response.content
    assert (error(response)["code"], error(response)["field"]) == (code, field)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([{"url": "https://hooks.example.com/in"}], "not_an_object"),
        (
            {"url": "https://hooks.example.com/in", "events": ["*"], "secret": "mine"},
            "unknown_field",
        ),
        ("not json at all", "parse_error"),
    ],
)
def test_malformed_bodies_are_400(api, body, code):
    if isinstance(body, str):
        response = api.post(URL, body, content_type="application/json")
    else:
        response = api.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert error(response)["code"] == code


def test_a_huge_url_or_description_is_refused(api):
    assert error(create(api, url="https://example.com/" + "a" * 600))["field"] == "url"
    assert error(create(api, description="d" * 201))["field"] == "description"
    assert error(create(api, events="payment_request.paid"))["field"] == "events"


def test_an_endpoint_can_be_changed_disabled_and_enabled(api):
    endpoint_id = create(api).json()["id"]
    response = api.patch(
        f"{URL}/{endpoint_id}",
        {"events": ["payment_request.cancelled"], "description": "new", "enabled": False},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["events"], body["enabled"], body["disabled_reason"]) == (
        ["payment_request.cancelled"],
        False,
        "operator",
    )
    body = api.patch(f"{URL}/{endpoint_id}", {"enabled": True}, format="json").json()
    assert (body["enabled"], body["disabled_reason"], body["disabled_at"]) == (True, "", None)
    refused = api.patch(f"{URL}/{endpoint_id}", {"url": "ftp://x"}, format="json")
    assert error(refused)["code"] == "invalid_url"
    assert api.patch(f"{URL}/{endpoint_id}", {"colour": 1}, format="json").status_code == 400
    assert api.patch(f"{URL}/{endpoint_id}", {"enabled": "maybe"}, format="json").status_code == 422


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_one_signing(api):
    created = create(api).json()
    response = api.post(f"{URL}/{created['id']}/rotate-secret")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["secret"] != created["secret"] and body["secret"].startswith("whsec_")
    assert body["previous_secret_expires_at"] is not None
    endpoint = WebhookEndpoint.objects.get(public_id=created["id"])
    assert endpoint.signing_secrets(timezone.now()) == [body["secret"], created["secret"]]
    later = timezone.now() + timedelta(hours=25)
    assert endpoint.signing_secrets(later) == [body["secret"]]


def test_deleting_an_endpoint_removes_its_log_unless_a_scenario_step_uses_it(api, merchant):
    endpoint_id = create(api).json()["id"]
    make_request(merchant)
    assert Dispatch.objects.filter(kind="webhook").count() == 1
    assert api.delete(f"{URL}/{endpoint_id}").status_code == 204
    assert not Dispatch.objects.filter(kind="webhook").exists()
    assert api.get(f"{URL}/{endpoint_id}").status_code == 404

    used_id = create(api).json()["id"]
    make_scenario(
        merchant, [step("request_created", None, audience="merchant", webhook_endpoint=used_id)]
    )
    response = api.delete(f"{URL}/{used_id}")
    assert response.status_code == 409 and error(response)["code"] == "endpoint_in_use"


def test_another_merchants_endpoint_is_404_everywhere(api, other_api):
    endpoint_id = create(api).json()["id"]
    assert other_api.get(URL).json()["results"] == []
    assert other_api.get(f"{URL}/{endpoint_id}").status_code == 404
    assert (
        other_api.patch(f"{URL}/{endpoint_id}", {"enabled": False}, format="json").status_code
        == 404
    )
    assert other_api.delete(f"{URL}/{endpoint_id}").status_code == 404
    assert other_api.post(f"{URL}/{endpoint_id}/rotate-secret").status_code == 404
    since = {"since": timezone.now().isoformat()}
    assert other_api.post(f"{URL}/{endpoint_id}/replay", since, format="json").status_code == 404
    assert other_api.get(f"/api/v1/webhook-deliveries?endpoint={endpoint_id}").status_code == 404
    assert WebhookEndpoint.objects.get(public_id=endpoint_id).is_active


def test_the_other_modes_endpoint_and_delivery_are_404(api, live_api, merchant):
    live_id = create(live_api).json()["id"]
    assert WebhookEndpoint.objects.get(public_id=live_id).livemode is True
    make_request(merchant, livemode=True)
    delivery = Dispatch.objects.get(kind="webhook")
    assert delivery.livemode is True
    assert api.get(f"{URL}/{live_id}").status_code == 404
    assert api.get(f"/api/v1/webhook-deliveries/{delivery.public_id}").status_code == 404
    assert api.post(f"/api/v1/webhook-deliveries/{delivery.public_id}/replay").status_code == 404
    assert api.get("/api/v1/webhook-deliveries").json()["results"] == []
    assert live_api.get(f"/api/v1/webhook-deliveries/{delivery.public_id}").status_code == 200


# --- Deliveries -----------------------------------------------------------------------------


def test_the_delivery_log_lists_filters_and_shows_attempts(api, merchant):
    with receiver([(500, b"nope"), (200, b"thanks")]) as hook:
        endpoint_id = api.post(
            URL, {"url": hook.url, "events": ["payment_request.created"]}, format="json"
        ).json()["id"]
        other_id = create(api, events=["payment_request.cancelled"]).json()["id"]
        make_request(merchant)
        dispatch_due(worker_id="w")
        make_request(merchant)
        dispatch_due(worker_id="w")
        dispatch_due(worker_id="w")
    listed = api.get(f"/api/v1/webhook-deliveries?endpoint={endpoint_id}").json()["results"]
    assert len(listed) == 2
    assert {d["status"] for d in listed} == {"succeeded"}
    assert all(
        d["endpoint"] == endpoint_id and d["event_type"] == "payment_request.created"
        for d in listed
    )
    first = listed[-1]  # newest first: the first request's delivery comes last
    assert first["attempt_count"] == 2 and first["webhook_id"] == first["id"]
    detail = api.get(f"/api/v1/webhook-deliveries/{first['id']}").json()
    assert [(a["number"], a["status_code"], a["response_excerpt"]) for a in detail["attempts"]] == [
        (1, 500, "nope"),
        (2, 200, "thanks"),
    ]
    assert detail["attempts"][0]["error"] and detail["attempts"][0]["duration_ms"] >= 0
    assert api.get(f"/api/v1/webhook-deliveries?endpoint={other_id}").json()["results"] == []
    by_type = api.get("/api/v1/webhook-deliveries?type=payment_request.cancelled").json()
    assert by_type["results"] == []
    assert len(api.get("/api/v1/webhook-deliveries?status=succeeded").json()["results"]) == 2
    assert api.get("/api/v1/webhook-deliveries?status=failed").json()["results"] == []
    page = api.get("/api/v1/webhook-deliveries?limit=1").json()
    assert len(page["results"]) == 1 and page["next"]
    bad = api.get("/api/v1/webhook-deliveries?status=done")
    assert bad.status_code == 400 and error(bad)["field"] == "status"
    bad = api.get("/api/v1/webhook-deliveries?type=payment.x")
    assert bad.status_code == 422 and error(bad)["code"] == "unknown_event_type"
    assert api.get("/api/v1/webhook-deliveries?endpoint=we_nope").status_code == 404


def test_listing_deliveries_takes_the_same_queries_for_many(api, merchant):
    create(api)
    make_request(merchant)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/v1/webhook-deliveries?limit=100").status_code == 200
        return len(queries)

    few = count()
    for _ in range(5):
        make_request(merchant)
    Dispatch.objects.filter(kind="webhook").update(resend_of=Dispatch.objects.first())
    assert count() == few


def test_a_failed_delivery_replays_with_the_same_webhook_id(api, merchant):
    with receiver([(500, b"down"), (500, b"down"), (200, b"ok")]) as hook:
        endpoint_id = api.post(URL, {"url": hook.url, "events": ["*"]}, format="json").json()["id"]
        make_request(merchant)
        dispatch_due(worker_id="w")
        dispatch_due(worker_id="w")
        original = Dispatch.objects.get(kind="webhook")
        assert original.status == "failed"

        response = api.post(f"/api/v1/webhook-deliveries/{original.public_id}/replay")
        assert response.status_code == 201, response.content
        copy = response.json()
        assert copy["id"] != original.public_id and copy["replay_of"] == original.public_id
        assert copy["webhook_id"] == original.public_id and copy["status"] == "pending"
        pending = api.post(f"/api/v1/webhook-deliveries/{original.public_id}/replay")
        assert pending.status_code == 409 and error(pending)["code"] == "delivery_pending"
        dispatch_due(worker_id="w")
    assert [call.webhook_id for call in hook.calls] == [original.public_id] * 3
    assert api.get(f"/api/v1/webhook-deliveries/{copy['id']}").json()["status"] == "succeeded"
    api.patch(f"{URL}/{endpoint_id}", {"enabled": False}, format="json")
    refused = api.post(f"/api/v1/webhook-deliveries/{original.public_id}/replay")
    assert refused.status_code == 409 and error(refused)["code"] == "endpoint_disabled"


def test_replaying_since_a_date_resends_each_failed_event_once(api, merchant):
    with receiver([(500, b"down")]) as hook:
        endpoint_id = api.post(URL, {"url": hook.url, "events": ["*"]}, format="json").json()["id"]
        before = timezone.now()
        for _ in range(3):
            make_request(merchant)
        dispatch_due(worker_id="w")
        dispatch_due(worker_id="w")
        assert set(Dispatch.objects.filter(kind="webhook").values_list("status", flat=True)) == {
            "failed"
        }
        old = Dispatch.objects.filter(kind="webhook").order_by("id").first()
        Dispatch.objects.filter(pk=old.pk).update(created_at=before - timedelta(days=2))
        hook.script[:] = [(200, b"ok")]

        since = {"since": (before - timedelta(seconds=1)).isoformat()}
        response = api.post(f"{URL}/{endpoint_id}/replay", since, format="json")
        assert response.status_code == 200, response.content
        assert response.json() == {"replayed": 2, "skipped": 0}
        again = api.post(f"{URL}/{endpoint_id}/replay", since, format="json").json()
        assert again == {"replayed": 0, "skipped": 2}  # still on their way: not twice
        dispatch_due(worker_id="w")
        assert api.post(f"{URL}/{endpoint_id}/replay", since, format="json").json()["replayed"] == 0
    assert Dispatch.objects.filter(kind="webhook", status="sent").count() == 2
    assert (
        api.post(f"{URL}/{endpoint_id}/replay", {"since": "yesterday"}, format="json").status_code
        == 422
    )
    assert api.post(f"{URL}/{endpoint_id}/replay", {}, format="json").status_code == 422
    api.patch(f"{URL}/{endpoint_id}", {"enabled": False}, format="json")
    refused = api.post(f"{URL}/{endpoint_id}/replay", since, format="json")
    assert refused.status_code == 409 and error(refused)["code"] == "endpoint_disabled"


def test_a_replay_of_an_event_past_retention_is_refused(api, merchant):
    create(api)
    make_request(merchant)
    delivery = Dispatch.objects.get(kind="webhook")
    Dispatch.objects.filter(pk=delivery.pk).update(status="failed")
    from requests_app.models import RequestEvent

    RequestEvent.objects.filter(pk=delivery.event_id).delete()
    response = api.post(f"/api/v1/webhook-deliveries/{delivery.public_id}/replay")
    assert response.status_code == 409 and error(response)["code"] == "event_expired"


def test_scenario_webhook_steps_still_reference_endpoints(api, merchant):
    with receiver() as hook:
        endpoint = webhooks.webhook_endpoint_create(merchant=merchant, url=hook.url)
        assert endpoint.events == []  # only for the step: no subscription deliveries
        make_scenario(
            merchant,
            [
                step(
                    "request_created",
                    None,
                    audience="merchant",
                    webhook_endpoint=endpoint.public_id,
                )
            ],
        )
        from scenarios import services as scenario_services
        from scenarios.models import Scenario

        payment_request = make_request(merchant)
        scenario_services.dispatches_plan_for_request(
            payment_request=payment_request, scenario=Scenario.objects.get(merchant=merchant)
        )
        dispatch_due(worker_id="w")
    assert len(hook.calls) == 1 and not Dispatch.objects.filter(kind="webhook").exists()
    hook.calls[0].verify(endpoint.secret)
    assert DeliveryAttempt.objects.get().status_code == 200
