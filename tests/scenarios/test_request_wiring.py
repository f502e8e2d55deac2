"""A request that names a scenario is planned, paid, cancelled and shown with its
notifications, through the request's own API and back office."""

import pytest

from notifications.dispatcher import dispatch_due
from payments import services as payment_services
from scenarios.models import Dispatch, OutboxMessage
from tests.factories import MembershipFactory
from tests.payments.conftest import SUCCEEDS
from tests.scenarios.helpers import acceptance_steps, make_scenario, step

URL = "/api/v1/payment-requests"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbox")]


def create(api, future, scenario_id, **extra):
    body = {
        "reference": "SC-1",
        "currency": "EUR",
        "total_amount": 2000,
        "split": "equal",
        "deadline": future(10),
        "expires_at": future(40),
        "scenario": scenario_id,
        "participants": [
            {"name": "Ann", "email": "ann@example.com"},
            {"name": "Bob", "email": "bob@example.com"},
        ],
    }
    body.update(extra)
    return api.post(URL, body, format="json")


def test_naming_a_scenario_plans_its_notifications_in_the_same_request(
    api, merchant, email_template, future
):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    response = create(api, future, scenario.public_id)
    assert response.status_code == 201, response.content
    assert response.json()["scenario"] == scenario.public_id
    assert Dispatch.objects.filter(status="planned").count() == 2 * 5

    notifications = api.get(f"{URL}/{response.json()['id']}/notifications").json()["results"]
    assert len(notifications) == 10


def test_an_unknown_or_foreign_scenario_is_refused_and_nothing_is_created(
    api, other_merchant, future
):
    from notifications.services import template_create
    from scenarios.services import scenario_create

    their_template = template_create(
        merchant=other_merchant,
        name="T",
        channel="email",
        subject={"en": "Hi"},
        body_text={"en": "Hi"},
    )
    theirs = scenario_create(
        merchant=other_merchant, name="Theirs", steps=[step("request_created", their_template)]
    )
    for scenario_id in ("sc_missing", theirs.public_id):
        response = create(api, future, scenario_id)
        assert (response.status_code, response.json()["error"]["code"]) == (422, "unknown_scenario")
    assert Dispatch.objects.count() == 0


def test_paying_through_the_checkout_cancels_the_payers_reminders_and_sends_a_receipt_step(
    api, merchant, email_template, future, tokenise
):
    steps = [
        *acceptance_steps(email_template),
        step("payment_succeeded", email_template, audience="all_participants"),
    ]
    scenario = make_scenario(merchant, steps)
    data = create(api, future, scenario.public_id).json()
    from requests_app.models import Participant

    ann = Participant.objects.get(public_id=data["participants"][0]["id"])
    payment_services.checkout_start(participant=ann, method="card", source=tokenise(SUCCEEDS))

    ann_rows = Dispatch.objects.filter(participant=ann)
    # Ann paid before the dispatcher ran: even her creation notice is withdrawn
    withdrawn = ann_rows.exclude(step__trigger="payment_succeeded")
    assert set(withdrawn.values_list("status", "skip_reason")) == {("cancelled", "already_paid")}
    receipt = ann_rows.get(step__trigger="payment_succeeded")
    assert receipt.status == "planned"
    dispatch_due(worker_id="t")
    recipients = OutboxMessage.objects.order_by("to").values_list("to", flat=True)
    assert list(recipients) == ["ann@example.com", "bob@example.com"]  # receipt, notice


def test_cancelling_cancels_every_pending_reminder(api, merchant, email_template, future):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    data = create(api, future, scenario.public_id).json()
    api.post(f"{URL}/{data['id']}/cancel", {}, format="json")
    reminders = Dispatch.objects.exclude(step__trigger="request_created")
    assert set(reminders.values_list("status", flat=True)) == {"cancelled"}


def test_the_back_office_shows_the_timeline_and_an_operator_can_resend(
    client, api, merchant, email_template, future
):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    data = create(api, future, scenario.public_id).json()
    dispatch_due(worker_id="t")
    operator = MembershipFactory(merchant=merchant).user
    client.force_login(operator)

    html = client.get(f"/app/requests/{data['id']}/").content.decode()
    assert 'data-testid="timeline"' in html
    assert html.count("ann@example.com") >= 3  # contact, last notification, timeline rows
    assert 'data-testid="last-notification">email · sent' in html

    sent = Dispatch.objects.filter(status="sent").first()
    response = client.post(f"/app/requests/{data['id']}/notifications/{sent.public_id}/resend/")
    assert response.status_code == 302
    assert Dispatch.objects.filter(resend_of=sent).count() == 1


def test_viewers_cannot_resend_and_other_merchants_cannot_see(
    client, api, merchant, other_merchant, email_template, future
):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    data = create(api, future, scenario.public_id).json()
    dispatch_due(worker_id="t")
    sent = Dispatch.objects.filter(status="sent").first()
    url = f"/app/requests/{data['id']}/notifications/{sent.public_id}/resend/"

    viewer = MembershipFactory(merchant=merchant, role="viewer").user
    client.force_login(viewer)
    assert client.post(url).status_code == 403
    stranger = MembershipFactory(merchant=other_merchant).user
    client.force_login(stranger)
    assert client.post(url).status_code == 404
    assert not Dispatch.objects.filter(resend_of=sent).exists()


def test_the_built_in_receipt_steps_aside_when_the_scenario_sends_one(
    api, merchant, email_template, future, tokenise, django_capture_on_commit_callbacks
):
    from django.core import mail

    from requests_app.models import Participant

    with_receipt = make_scenario(merchant, [step("payment_succeeded", email_template)])
    without = make_scenario(merchant, acceptance_steps(email_template), name="Reminders")
    first = create(api, future, with_receipt.public_id).json()
    second = create(api, future, without.public_id, reference="SC-2").json()
    for data in (first, second):
        payer = Participant.objects.get(public_id=data["participants"][0]["id"])
        with django_capture_on_commit_callbacks(execute=True):
            payment_services.checkout_start(
                participant=payer, method="card", source=tokenise(SUCCEEDS)
            )
    # Only the second request's payer gets the built-in receipt, planned in the outbox.
    receipts = Dispatch.objects.filter(kind="receipt")
    assert [r.request.public_id for r in receipts] == [second["id"]]
    dispatch_due(worker_id="w")
    stored = OutboxMessage.objects.filter(subject__startswith="Your payment")
    assert stored.count() == 1 and mail.outbox == []


def test_one_requests_reminders_can_be_paused_and_resumed(
    api, other_api, merchant, email_template, future
):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    data = create(api, future, scenario.public_id).json()
    url = f"{URL}/{data['id']}/notifications"

    assert other_api.post(f"{url}/pause").status_code == 404
    paused = api.post(f"{url}/pause")
    assert paused.status_code == 200 and paused.json()["notifications_paused"] is True
    dispatch_due(worker_id="t")
    assert set(
        Dispatch.objects.filter(step__trigger="request_created").values_list(
            "status", "skip_reason"
        )
    ) == {("skipped", "paused")}
    assert OutboxMessage.objects.count() == 0

    assert api.post(f"{url}/resume").json()["notifications_paused"] is False
    assert Dispatch.objects.filter(status="planned").count() == 8  # the reminders still come
