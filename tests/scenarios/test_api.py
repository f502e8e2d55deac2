import pytest

from notifications import services as template_services
from notifications.dispatcher import dispatch_due
from notifications.models import MessageTemplate
from scenarios import services
from scenarios.models import Dispatch, Scenario
from tests.factories import make_request
from tests.scenarios.helpers import acceptance_steps, make_scenario, step

URL = "/api/v1/scenarios"

pytestmark = pytest.mark.usefixtures("outbox")


def error_of(response) -> dict:
    return response.json()["error"]


def body(template, **overrides) -> dict:
    data = {"name": "Standard", "steps": acceptance_steps(template)}
    data.update(overrides)
    return data


def test_creating_a_scenario_returns_its_steps_in_seconds(api, email_template):
    response = api.post(URL, body(email_template), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["id"].startswith("sc_") and data["version"] == 1
    assert [
        (s["trigger"], s["offset"], s["repeat_every"], s["repeat_max"]) for s in data["steps"]
    ] == [
        ("request_created", 0, None, None),
        ("before_deadline", 172800, None, None),
        ("after_deadline", 86400, 259200, 3),
    ]
    assert data["steps"][0]["template"] == email_template.public_id
    assert api.get(f"{URL}/{data['id']}").json() == data


def test_the_same_idempotency_key_replays_the_first_response(api, email_template):
    first = api.post(URL, body(email_template), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    second = api.post(URL, body(email_template), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Scenario.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"trigger": "on_monday"}, "unknown_trigger", "steps[0].trigger"),
        ({"audience": "everyone"}, "unknown_audience", "steps[0].audience"),
        ({"channel": "fax"}, "unknown_channel", "steps[0].channel"),
        ({"offset": "-P2D"}, "offset_out_of_range", "steps[0].offset"),
        ({"offset": "P400D"}, "offset_out_of_range", "steps[0].offset"),
        ({"offset": "P1M"}, "invalid_duration", "steps[0].offset"),
        ({"repeat_every": "P3D"}, "repeat_max_required", "steps[0].repeat_max"),
        ({"repeat_every": "PT5M", "repeat_max": 3}, "repeat_out_of_range", "steps[0].repeat_every"),
        ({"repeat_every": "P1D", "repeat_max": 1}, "repeat_out_of_range", "steps[0].repeat_max"),
        ({"repeat_max": 3}, "repeat_every_required", "steps[0].repeat_every"),
        ({"template": "tp_doesnotexist"}, "template_not_found", "steps[0].template"),
        ({"channel": "sms"}, "template_channel_mismatch", "steps[0].template"),
        ({"channel": "webhook"}, "not_allowed_for_webhook", "steps[0].template"),
        ({"colour": "red"}, "unknown_field", "steps[0].colour"),
        ({"conditions": {"language": "de"}}, "invalid_choice", "steps[0].conditions.language"),
        (
            {"conditions": {"min_amount": 10**30}},
            "amount_too_large",
            "steps[0].conditions.min_amount",
        ),
        (
            {"quiet_hours": {"start": "25:00", "end": "08:00"}},
            "invalid_time",
            "steps[0].quiet_hours.start",
        ),
    ],
)
def test_invalid_steps_are_refused_with_a_code_and_the_field(
    api, email_template, change, code, field
):
    steps = [{**step("before_deadline", email_template, offset="P2D"), **change}]
    response = api.post(URL, body(email_template, steps=steps), format="json")
    assert response.status_code in (400, 422)
    assert (error_of(response)["code"], error_of(response)["field"]) == (code, field)
    assert Scenario.objects.count() == 0


def test_a_template_of_another_merchant_is_not_found(api, other_merchant):
    foreign = template_services.template_create(
        merchant=other_merchant,
        name="Theirs",
        channel="email",
        subject={"en": "Hi"},
        body_text={"en": "Hi"},
    )
    response = api.post(URL, body(foreign), format="json")
    assert response.status_code == 422
    assert error_of(response)["code"] == "template_not_found"
    assert error_of(response)["field"] == "steps[0].template"


def test_a_step_without_template_uses_the_installed_default(api, merchant):
    MessageTemplate.objects.filter(
        merchant=merchant
    ).delete()  # start from a merchant who removed the shipped ones
    template_services.template_install_defaults(merchant=merchant, stages=["overdue_reminder"])
    steps = [{"trigger": "after_deadline", "audience": "unpaid_participants", "channel": "sms"}]
    response = api.post(URL, {"name": "Defaults", "steps": steps}, format="json")
    assert response.status_code == 201, response.json()
    response = api.post(
        URL,
        {"name": "No default", "steps": [dict(steps[0], trigger="request_created")]},
        format="json",
    )
    assert error_of(response)["code"] == "template_required"


def test_editing_a_scenario_in_use_creates_a_version_and_requests_keep_theirs(
    api, merchant, email_template
):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    # not in use yet: edited in place
    response = api.patch(
        f"{URL}/{scenario.public_id}",
        {"steps": acceptance_steps(email_template)[:2]},
        format="json",
    )
    assert response.json()["version"] == 1 and len(response.json()["steps"]) == 2
    payment_request = make_request(merchant)
    services.dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)
    planned = Dispatch.objects.count()

    response = api.patch(
        f"{URL}/{scenario.public_id}",
        {"name": "Gentler", "steps": acceptance_steps(email_template)[:1]},
        format="json",
    )
    assert response.status_code == 200
    assert (response.json()["version"], response.json()["name"]) == (2, "Gentler")
    assert len(response.json()["steps"]) == 1
    # the request follows version 1: a replan changes nothing
    assert services.dispatches_replan_for_request(payment_request=payment_request) == 0
    assert Dispatch.objects.filter(status="planned").count() == planned


def test_pause_and_resume(api, merchant, email_template):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    assert api.post(f"{URL}/{scenario.public_id}/pause").json()["is_paused"] is True
    assert api.post(f"{URL}/{scenario.public_id}/resume").json()["is_paused"] is False


def test_scenarios_of_another_merchant_are_not_found(api, other_api, merchant, email_template):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    path = f"{URL}/{scenario.public_id}"
    assert other_api.get(path).status_code == 404
    assert other_api.patch(path, {"name": "x"}, format="json").status_code == 404
    assert other_api.post(f"{path}/pause").status_code == 404
    assert other_api.get(URL).json()["results"] == []
    assert len(api.get(URL).json()["results"]) == 1


@pytest.fixture
def sent_request(merchant, email_template):
    scenario = make_scenario(merchant, acceptance_steps(email_template)[:1])
    payment_request = make_request(merchant)
    services.dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)
    dispatch_due(worker_id="w")
    return payment_request


def test_notifications_of_another_merchant_are_not_found(api, other_api, sent_request):
    path = f"/api/v1/payment-requests/{sent_request.public_id}/notifications"
    assert len(api.get(path).json()["results"]) == 3
    assert other_api.get(path).status_code == 404
    dispatch = Dispatch.objects.first()
    resend = f"{path}/{dispatch.public_id}/resend"
    assert other_api.post(resend).status_code == 404
    assert api.post(f"{path}/nt_unknown/resend").status_code == 404


def test_resending_creates_a_new_notification_due_now(api, sent_request):
    original = Dispatch.objects.order_by("id").first()
    path = f"/api/v1/payment-requests/{sent_request.public_id}/notifications"
    response = api.post(f"{path}/{original.public_id}/resend", HTTP_IDEMPOTENCY_KEY="r1")
    assert response.status_code == 201
    data = response.json()
    assert (data["status"], data["resend_of"], data["recipient"]) == (
        "planned",
        original.public_id,
        original.recipient,
    )
    again = api.post(f"{path}/{original.public_id}/resend", HTTP_IDEMPOTENCY_KEY="r1")
    assert again.json()["id"] == data["id"]
    dispatch_due(worker_id="w")
    assert Dispatch.objects.get(public_id=data["id"]).status == "sent"
    assert len(api.get(path).json()["results"]) == 4


def test_the_outbox_lists_this_merchants_messages_only(api, other_api, sent_request):
    messages = api.get("/api/v1/outbox").json()["results"]
    assert len(messages) == 3
    assert {m["subject"] for m in messages} == {f"Pay {sent_request.reference}"}
    assert all(m["html"].startswith("<p>Hello Payer") for m in messages)
    assert other_api.get("/api/v1/outbox").json()["results"] == []


def test_the_outbox_is_not_there_when_providers_are_used(api, settings):
    settings.TEST_MODE_REAL_CHANNELS = True
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    settings.SMS_BACKEND = "twilio"
    response = api.get("/api/v1/outbox")
    assert response.status_code == 404
    assert error_of(response)["code"] == "outbox_disabled"


def test_webhook_endpoints_show_their_secret_once(api, other_api):
    response = api.post(
        "/api/v1/webhook-endpoints",
        {"url": "https://hooks.example.com/in", "events": ["*"]},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["secret"].startswith("whsec_")
    listed = api.get("/api/v1/webhook-endpoints").json()["results"]
    assert len(listed) == 1 and "secret" not in listed[0]
    assert other_api.get("/api/v1/webhook-endpoints").json()["results"] == []
    refused = api.post(
        "/api/v1/webhook-endpoints", {"url": "ftp://x", "events": ["*"]}, format="json"
    )
    assert error_of(refused)["code"] == "invalid_url"


def test_a_webhook_step_needs_an_endpoint_of_the_same_merchant(api, other_merchant):
    foreign = services.webhook_endpoint_create(
        merchant=other_merchant, url="https://hooks.example.com/in"
    )
    steps = [
        {
            "trigger": "payment_failed",
            "audience": "merchant",
            "channel": "webhook",
            "webhook_endpoint": foreign.public_id,
        }
    ]
    response = api.post(URL, {"name": "Hooks", "steps": steps}, format="json")
    assert error_of(response)["code"] == "webhook_endpoint_not_found"


@pytest.mark.django_db
def test_a_paid_request_lists_its_receipt_as_a_notification_without_a_step(
    api, merchant, django_capture_on_commit_callbacks
):
    from payments import services as payment_services
    from payments.sandbox.services import sandbox_card_tokenise
    from tests.factories import make_request

    pr = make_request(merchant)
    token = sandbox_card_tokenise(
        number="4242424242424242", exp_month=12, exp_year=2040, cvc="123"
    ).token
    payment_services.checkout_start(
        participant=pr.participants.first(), method="card", source=token
    )

    response = api.get(f"/api/v1/payment-requests/{pr.public_id}/notifications")

    assert response.status_code == 200
    rows = response.json()["results"]
    receipt = next(row for row in rows if row["kind"] == "receipt")
    assert receipt["step"] is None
