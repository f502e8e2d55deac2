"""Subscribed webhook endpoints: every matching event delivered once per endpoint, signed per
Standard Webhooks, retried on the shared schedule, each attempt logged; 410 and five days of
failures disable the endpoint; secrets rotate with an overlap; deliveries replay."""

import socket
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import WebhookVerificationError

from notifications import webhooks
from notifications.channels import TransportError
from notifications.dispatcher import dispatch_due, retry_policy
from notifications.models import DeliveryAttempt, Dispatch, OutboxMessage, WebhookEndpoint
from requests_app.services import payment_request_cancel
from tests.factories import make_request
from tests.notifications.receiver import receiver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick(settings):
    """Loopback receivers, retries due at once, no on-commit sweep (the test drives it)."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_RETRY_SCHEDULE = (0, 0, 0, 0, 0)
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False


def endpoint_for(merchant, url, events=("*",), livemode=False) -> WebhookEndpoint:
    return webhooks.webhook_endpoint_create(
        merchant=merchant, url=url, events=list(events), livemode=livemode
    )


def deliveries(**filters):
    return Dispatch.objects.filter(kind="webhook", **filters).order_by("id")


def drain(times: int = 1) -> None:
    for _ in range(times):
        dispatch_due(worker_id="w")


# --- Delivery and signatures --------------------------------------------------------------------


def test_every_matching_event_reaches_the_receiver_signed_and_verifiable(merchant):
    with receiver() as hook:
        everything = endpoint_for(merchant, hook.url)
        cancels = endpoint_for(merchant, hook.url + "?only=cancel", ["payment_request.cancelled"])
        payment_request = make_request(merchant)
        payment_request_cancel(payment_request=payment_request, reason="test")
        drain()

    assert deliveries(webhook_endpoint=everything).count() == 2
    assert deliveries(webhook_endpoint=cancels).count() == 1
    assert len(hook.calls) == 3
    by_endpoint = {everything.url: everything.secret, cancels.url: cancels.secret}
    seen = []
    for call, row in zip(
        sorted(hook.calls, key=lambda c: c.webhook_id),
        sorted(deliveries(), key=lambda d: d.public_id),
        strict=True,
    ):
        assert call.webhook_id == row.public_id
        payload = call.verify(by_endpoint[row.webhook_endpoint.url])
        with pytest.raises(WebhookVerificationError):  # the other endpoint's secret fails
            other = cancels if row.webhook_endpoint_id == everything.pk else everything
            call.verify(other.secret)
        assert set(payload) == {"type", "timestamp", "data"}
        assert payload["data"]["id"] == row.source_id
        assert payload["data"]["livemode"] is False
        assert payload["data"]["request"] == payment_request.public_id
        assert payload["data"]["version"] == 1
        seen.append(payload["type"])
    assert sorted(seen) == [
        "payment_request.cancelled",
        "payment_request.cancelled",
        "payment_request.created",
    ]
    assert set(deliveries().values_list("status", flat=True)) == {"sent"}


def test_the_delivery_is_written_in_the_events_transaction(merchant):
    endpoint = endpoint_for(merchant, "https://hooks.example.com/in", ["payment_request.created"])
    payment_request = make_request(merchant)
    row = deliveries().get()
    event = payment_request.events.get(type="request_created")
    assert (row.webhook_endpoint, row.event_id, row.source_id) == (
        endpoint,
        event.pk,
        event.public_id,
    )
    assert row.dedupe_key == f"webhook:{event.public_id}:{endpoint.public_id}"
    assert row.event_type == "payment_request.created" and row.status == "planned"


def test_endpoints_of_another_merchant_or_mode_or_disabled_get_nothing(merchant, other_merchant):
    endpoint_for(other_merchant, "https://hooks.example.com/other")
    endpoint_for(merchant, "https://hooks.example.com/live", livemode=True)
    off = endpoint_for(merchant, "https://hooks.example.com/off")
    webhooks.webhook_endpoint_update(endpoint=off, enabled=False)
    make_request(merchant)
    assert deliveries().count() == 0


def test_a_receiver_failing_three_times_gets_the_event_on_the_fourth_attempt(merchant):
    script = [(500, b"boom"), (502, b"bad gateway"), (503, b"\x1b[31mdown\x00"), (200, b"ok")]
    with receiver(script) as hook:
        endpoint = endpoint_for(merchant, hook.url, ["payment_request.created"])
        make_request(merchant)
        drain(4)
    row = deliveries().get()
    assert (row.status, row.attempts) == ("sent", 4)
    assert len(hook.calls) == 4
    assert {call.webhook_id for call in hook.calls} == {row.public_id}  # same id on retries
    for call in hook.calls:
        call.verify(endpoint.secret)
    attempts = list(DeliveryAttempt.objects.filter(dispatch=row).order_by("number"))
    assert [(a.number, a.status_code, a.outcome) for a in attempts] == [
        (1, 500, "retry"),
        (2, 502, "retry"),
        (3, 503, "retry"),
        (4, 200, "sent"),
    ]
    assert [a.response_excerpt for a in attempts] == ["boom", "bad gateway", "[31mdown", "ok"]
    assert all(a.started_at is not None and a.duration_ms >= 0 for a in attempts)
    assert "HTTP 500" in attempts[0].error
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.is_active  # the success healed it


def test_a_response_excerpt_is_bounded_to_one_kilobyte(merchant):
    with receiver([(500, "é".encode() * 5000)]) as hook:
        endpoint_for(merchant, hook.url, ["payment_request.created"])
        make_request(merchant)
        drain()
    attempt = DeliveryAttempt.objects.get()
    assert 0 < len(attempt.response_excerpt.encode()) <= 1024 + 3


def test_retries_follow_the_one_schedule_shared_with_scenario_steps(settings):
    settings.WEBHOOK_RETRY_SCHEDULE = (7, 11)
    assert retry_policy("webhook") == (3, (7, 11))
    assert retry_policy("email")[1] != (7, 11)


def test_retries_stop_after_the_schedule_is_spent(merchant, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = (0, 0)
    with receiver([(500, b"no")]) as hook:
        endpoint_for(merchant, hook.url, ["payment_request.created"])
        make_request(merchant)
        drain(5)
    row = deliveries().get()
    assert (row.status, row.attempts, len(hook.calls)) == ("failed", 3, 3)


def test_a_410_disables_the_endpoint_at_once_and_emails_the_contact(merchant):
    merchant.contact_email = "ops@alpha.example"
    merchant.save()
    with receiver([(410, b"gone")]) as hook:
        endpoint = endpoint_for(merchant, hook.url)
        make_request(merchant)
        drain()
        endpoint.refresh_from_db()
        assert (endpoint.is_active, endpoint.disabled_reason) == (False, "gone")
        assert deliveries().get().status == "failed"
        make_request(merchant)  # later events are no longer planned for it
        drain()
    assert len(hook.calls) == 1
    assert deliveries().count() == 1
    email = OutboxMessage.objects.get(to="ops@alpha.example")
    assert endpoint.url in email.subject and "410" in email.text
    assert f"/app/webhooks/{endpoint.public_id}/" in email.text


def test_five_days_of_failures_disable_the_endpoint_and_email_once(merchant):
    merchant.contact_email = "ops@alpha.example"
    merchant.save()
    endpoint = endpoint_for(merchant, "https://hooks.example.com/in")
    start = timezone.now()
    error = TransportError("webhook answered HTTP 500", status_code=500)

    def record(days: float, failed: bool = True) -> str:
        return webhooks.webhook_endpoint_record_attempt(
            endpoint_id=endpoint.pk, error=error if failed else None, now=start + timedelta(days)
        )

    assert record(0) == "failing"
    assert record(2) == "failing"
    assert record(3, failed=False) == "healthy"  # a success restarts the count
    assert record(4) == "failing"
    assert record(8.9) == "failing"  # 4.9 days of failures
    assert record(9.1) == "disabled"
    assert record(10) == "unchanged"
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.disabled_reason) == (False, "failing")
    alerts = Dispatch.objects.filter(kind="webhook_endpoint_disabled")
    assert alerts.count() == 1
    drain()
    email = OutboxMessage.objects.get(to="ops@alpha.example")
    assert "5 days" in email.text


def test_a_disabled_endpoint_skips_what_was_already_planned(merchant):
    with receiver() as hook:
        endpoint = endpoint_for(merchant, hook.url)
        make_request(merchant)
        webhooks.webhook_endpoint_update(endpoint=endpoint, enabled=False)
        drain()
    assert hook.calls == []
    assert deliveries().get().skip_reason == "endpoint_disabled"


# --- Secret rotation ------------------------------------------------------------------------


def test_a_rotated_secret_signs_with_both_during_the_overlap_then_alone(merchant):
    with receiver() as hook:
        endpoint = endpoint_for(merchant, hook.url, ["payment_request.created"])
        old = endpoint.secret
        endpoint = webhooks.webhook_endpoint_rotate_secret(endpoint=endpoint)
        new = endpoint.secret
        assert new != old and new.startswith("whsec_")
        make_request(merchant)
        drain()
        during = hook.calls[-1]
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        during.verify(old)  # a receiver still on the old secret accepts it
        during.verify(new)  # and one already switched too

        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
        )
        make_request(merchant)
        drain()
        after = hook.calls[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    after.verify(new)
    with pytest.raises(WebhookVerificationError):
        after.verify(old)


def test_the_overlap_is_a_setting(merchant, settings):
    settings.WEBHOOK_SECRET_OVERLAP_HOURS = 2
    endpoint = endpoint_for(merchant, "https://hooks.example.com/in")
    before = timezone.now()
    endpoint = webhooks.webhook_endpoint_rotate_secret(endpoint=endpoint)
    expires = endpoint.previous_secret_expires_at
    assert before + timedelta(hours=2) <= expires <= timezone.now() + timedelta(hours=2)


# --- Targets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://localhost/hook",
        "https://printer.local/hook",
    ],
)
def test_obviously_private_urls_are_refused_at_registration_in_production(api, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = api.post("/api/v1/webhook-endpoints", {"url": url, "events": ["*"]}, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "private_target"
    assert response.json()["error"]["field"] == "url"
    assert not WebhookEndpoint.objects.exists()


def test_metadata_is_refused_even_in_development(api):
    response = api.post(
        "/api/v1/webhook-endpoints",
        {"url": "http://169.254.169.254/latest/meta-data/", "events": ["*"]},
        format="json",
    )
    assert response.json()["error"]["code"] == "private_target"


def test_a_name_resolving_to_loopback_is_refused_at_send_time_in_production(
    merchant, settings, monkeypatch
):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    endpoint_for(merchant, "https://hooks.example.com/in", ["payment_request.created"])
    connected = []
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 443))],
    )
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connected.append(a))
    make_request(merchant)
    drain()
    row = deliveries().get()
    assert (row.status, row.attempts) == ("failed", 1)  # permanent: not retried
    assert "non-public" in row.last_error and connected == []


def test_the_first_attempt_is_nudged_on_commit(
    merchant, settings, django_capture_on_commit_callbacks
):
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = True  # the sweep is handed to the (inline) cluster
    with receiver() as hook:
        endpoint_for(merchant, hook.url, ["payment_request.created"])
        with django_capture_on_commit_callbacks(execute=True):
            make_request(merchant)
    assert len(hook.calls) == 1
    assert deliveries().get().status == "sent"


def test_repeated_event_names_are_kept_once(merchant):
    endpoint = endpoint_for(merchant, "https://hooks.example.com/in", ["participant.paid"] * 3)
    assert endpoint.events == ["participant.paid"]
