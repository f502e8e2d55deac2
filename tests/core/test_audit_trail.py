"""The audit trail: each change of a configuration object or a request is recorded once, with
who made it (operator, API key, payer or system), when, and its fields before -> after; the
secrets are never copied; a merchant only ever sees its own trail; the page's filters take
any input without a server error, within a fixed number of queries; nothing can edit it."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEntry
from merchants import services as merchant_services
from merchants.models import ApiKey, Membership
from notifications.models import WebhookEndpoint
from requests_app.models import Participant, PaymentRequest
from scenarios import services as scenario_services
from tests.factories import MembershipFactory, make_request
from tests.scenarios.helpers import make_scenario, step

AUDIT = "/app/audit/"


def entries(merchant, **filters) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(merchant=merchant, **filters).order_by("id"))


def last(merchant, **filters) -> AuditEntry:
    found = entries(merchant, **filters)
    assert found, f"no entry for {filters}"
    return found[-1]


@pytest.fixture
def owner(merchant):
    return MembershipFactory(merchant=merchant, role="owner").user


@pytest.fixture
def operator(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def scenario(merchant, email_template):
    return make_scenario(merchant, [step("request_created", email_template)], name="Standard")


# --- What is recorded ------------------------------------------------------------------------


def test_an_operator_editing_a_scenario_is_recorded_with_steps_before_and_after(
    operator, owner, merchant, scenario, email_template
):
    steps = [
        step("request_created", email_template),
        step("before_deadline", email_template, offset="P2D"),
    ]
    response = operator.post(
        f"/app/scenarios/{scenario.public_id}/edit/",
        {"name": "Gentle", "steps_json": json.dumps(steps)},
    )
    assert response.status_code == 302, response.content[:500]

    entry = last(merchant, object_kind="scenario", object_id=scenario.public_id)
    assert entry.action == "changed"
    assert entry.actor_kind == "operator"
    assert entry.actor_user == owner
    assert entry.actor_label == owner.email
    assert entry.changes["name"] == ["Standard", "Gentle"]
    before, after = entry.changes["steps"]
    assert len(before) == 1 and len(after) == 2
    assert "before_deadline" in after[1] and email_template.public_id in after[1]


def test_creating_a_scenario_records_its_steps_and_the_system_as_actor(merchant, email_template):
    created = make_scenario(merchant, [step("request_created", email_template)], name="New")
    entry = last(merchant, object_kind="scenario", object_id=created.public_id)
    assert entry.action == "created"
    assert (entry.actor_kind, entry.actor_label) == ("system", "system")
    assert entry.changes["name"] == [None, "New"]
    assert entry.changes["steps"][0] is None
    assert "request_created" in entry.changes["steps"][1][0]


def test_pausing_a_scenario_in_the_back_office_is_recorded(operator, merchant, scenario):
    operator.post(f"/app/scenarios/{scenario.public_id}/pause/")
    entry = last(merchant, object_kind="scenario", object_id=scenario.public_id)
    assert entry.changes == {"is_paused": [False, True]}


def test_a_template_change_is_recorded_with_before_and_after(merchant, email_template):
    from notifications.models import MessageTemplate

    template = MessageTemplate.objects.get(pk=email_template.pk)
    template.name = "Renamed reminder"
    template.save()
    entry = last(merchant, object_kind="template", object_id=template.public_id)
    assert entry.action == "changed"
    assert entry.changes["name"][1] == "Renamed reminder"
    assert entry.changes["name"][0] == email_template.name


def test_a_new_form_version_is_compared_with_the_one_it_replaces(merchant):
    from smartforms.services import form_create, form_update

    form = form_create(
        merchant=merchant,
        name="Club",
        fields=[{"key": "company", "type": "text", "label": {"en": "Company"}}],
    )
    form_update(
        form=form,
        fields=[{"key": "club", "type": "text", "label": {"en": "Club"}}],
    )
    versions = entries(
        merchant, object_kind="form", object_id=form.public_id, item_kind="form_version"
    )
    assert versions, "the form's versions are in its history"
    changed = [e for e in versions if "fields" in e.changes and e.changes["fields"][0]]
    assert changed, [e.changes for e in versions]
    before, after = changed[-1].changes["fields"]
    assert before[0]["key"] == "company" and after[0]["key"] == "club"


def test_request_operator_actions_are_each_recorded_on_the_request(operator, owner, merchant):
    payment_request = make_request(merchant)
    base = f"/app/requests/{payment_request.public_id}"
    new_deadline = (timezone.localtime() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    assert operator.post(f"{base}/deadline/", {"deadline": new_deadline}).status_code == 302
    assert operator.post(f"{base}/reminders/", {"paused": "1"}).status_code == 302
    assert operator.post(f"{base}/reminders/", {"paused": "0"}).status_code == 302
    participant = payment_request.participants.order_by("id").last()
    operator.post(f"{base}/participants/{participant.public_id}/remove/")
    operator.post(f"{base}/cancel/", {"reason": "Duplicate"})

    found = entries(merchant, object_kind="request", object_id=payment_request.public_id)
    by_operator = [e for e in found if e.actor_user == owner]
    fields = [set(e.changes) for e in by_operator]
    assert any("deadline" in f for f in fields), fields
    assert [
        e.changes["notifications_paused"]
        for e in by_operator
        if "notifications_paused" in e.changes
    ] == [
        [False, True],
        [True, False],
    ]
    removed = [e for e in by_operator if e.item_id == participant.public_id]
    assert removed, "the removed participant shows on the request's page"
    assert any(
        e.changes.get("status", [None, None])[1] == "cancelled"
        for e in by_operator
        if e.item_kind == "request"
    )


def test_adding_a_participant_is_recorded(operator, merchant):
    payment_request = make_request(merchant)
    response = operator.post(
        f"/app/requests/{payment_request.public_id}/participants/new/",
        {"name": "Zoé", "email": "zoe@example.com", "amount": "5.00"},
    )
    assert response.status_code == 302
    added = Participant.objects.get(request=payment_request, email="zoe@example.com")
    entry = last(merchant, item_id=added.public_id)
    assert entry.action == "created"
    assert entry.object_id == payment_request.public_id
    assert entry.changes["email"] == [None, "zoe@example.com"]


def test_an_api_call_names_the_api_key_as_actor(merchant):
    from rest_framework.test import APIClient

    created = merchant_services.api_key_create(merchant=merchant, mode="test", name="ERP")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created.secret}")
    payment_request = make_request(merchant)
    response = client.post(
        f"/api/v1/payment-requests/{payment_request.public_id}/notifications/pause",
        HTTP_IDEMPOTENCY_KEY="audit-1",
    )
    assert response.status_code == 200, response.content
    entry = last(merchant, object_id=payment_request.public_id, item_kind="request")
    key = ApiKey.objects.get(merchant=merchant, name="ERP")
    assert entry.actor_kind == "api_key"
    assert entry.actor_label == f"API key {key.public_id} (ERP)"
    assert entry.actor_user is None


def test_team_changes_made_by_conditional_updates_are_recorded(merchant, owner):
    member = MembershipFactory(merchant=merchant, role="agent")
    merchant_services.membership_change_role(membership=member, role="admin")
    entry = last(merchant, item_id=member.public_id)
    assert entry.changes == {"role": ["agent", "admin"]}
    assert entry.object_kind == "team"

    invitation = merchant_services.invitation_create(
        merchant=merchant, email="new@example.com", role="viewer", invited_by=owner
    )
    merchant_services.invitation_revoke(invitation=invitation)
    revoked = last(merchant, item_id=invitation.public_id)
    assert set(revoked.changes) == {"revoked_at"}
    merchant_services.invitation_revoke(invitation=invitation)  # twice: nothing more to say
    assert last(merchant, item_id=invitation.public_id).pk == revoked.pk


def test_revoking_an_api_key_is_recorded_and_the_secret_never_is(merchant):
    created = merchant_services.api_key_create(merchant=merchant, mode="test", name="Shop")
    key = (
        ApiKey.objects.get(pk=created.api_key.pk)
        if hasattr(created, "api_key")
        else ApiKey.objects.get(merchant=merchant, name="Shop")
    )
    merchant_services.api_key_revoke(api_key=key)
    assert last(merchant, item_id=key.public_id).changes.keys() == {"revoked_at"}
    everything = json.dumps([e.changes for e in entries(merchant)])
    assert created.secret not in everything
    assert key.secret_hash not in everything
    assert not hasattr(ApiKey.history.model, "secret_hash")
    assert not ApiKey.history.model._meta.get_fields() or "secret_hash" not in {
        f.name for f in ApiKey.history.model._meta.get_fields()
    }


def test_webhook_secrets_are_never_in_the_history(merchant):
    endpoint = scenario_services.webhook_endpoint_create(
        merchant=merchant, url="https://hooks.example.com/in", events=["*"]
    )
    from notifications.webhooks import webhook_endpoint_rotate_secret, webhook_endpoint_update

    first_secret = endpoint.secret
    rotated = webhook_endpoint_rotate_secret(endpoint=endpoint)
    webhook_endpoint_update(endpoint=rotated, enabled=False)

    found = entries(merchant, object_id=endpoint.public_id)
    assert [e.action for e in found] == ["created", "changed", "changed"]
    assert found[1].reason == "secret rotated"
    assert found[2].changes["is_active"] == [True, False]
    text = json.dumps([e.changes for e in found])
    assert first_secret not in text and rotated.secret not in text
    names = {f.name for f in WebhookEndpoint.history.model._meta.get_fields()}
    assert not {"secret", "previous_secret"} & names
    assert not WebhookEndpoint.history.filter(url__contains=first_secret).exists()


def test_provider_credentials_keep_only_non_secret_fields(merchant, stripe_test_account):
    from payments.credentials_models import ProviderCredential

    names = {f.name for f in ProviderCredential.history.model._meta.get_fields()}
    assert not {"secret_key_encrypted", "webhook_secret_encrypted", "webhook_id"} & names
    # Every encrypted column of every provider (PayPal's client id too) stays out.
    assert not [name for name in names if name.endswith("_encrypted")]
    entry = last(merchant, item_kind="provider_credential")
    assert "secret_key_last4" in entry.changes
    assert not any("encrypted" in name for name in entry.changes)
    credential = ProviderCredential.objects.get(merchant=merchant)
    text = json.dumps([e.changes for e in entries(merchant)])
    assert credential.secret_key_encrypted not in text


def test_payer_link_tokens_are_never_in_the_history(merchant):
    payment_request = make_request(merchant)
    names = {f.name for f in Participant.history.model._meta.get_fields()}
    assert "link_token" not in names
    assert "progress_token" not in {f.name for f in PaymentRequest.history.model._meta.get_fields()}
    text = json.dumps([e.changes for e in entries(merchant)])
    for participant in payment_request.participants.all():
        assert participant.link_token not in text


def test_a_change_rolled_back_leaves_no_entry(merchant, scenario):
    from django.db import transaction

    count = AuditEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        scenario_services.scenario_pause(scenario=scenario)
        raise RuntimeError
    assert AuditEntry.objects.count() == count


# --- The audit page ----------------------------------------------------------------------------


def test_the_page_shows_who_when_what_and_the_diff(operator, owner, merchant, scenario):
    operator.post(f"/app/scenarios/{scenario.public_id}/pause/")
    html = operator.get(AUDIT).content.decode()
    assert owner.email in html
    assert f"/app/scenarios/{scenario.public_id}/" in html
    assert "is paused" in html
    assert "(Europe/Paris)" in html


def test_another_merchants_entries_are_never_shown(
    operator, merchant, other_merchant, email_template
):
    theirs = make_scenario(
        other_merchant,
        [step("request_created", other_merchant.message_templates.filter(channel="email").first())],
        name="Secret plan",
    )
    html = operator.get(AUDIT).content.decode()
    assert theirs.public_id not in html and "Secret plan" not in html
    html = operator.get(AUDIT, {"object": theirs.public_id}).content.decode()
    assert theirs.public_id not in html.split('name="object"')[1].split(">", 1)[1]
    assert 'data-testid="audit-empty"' in html


def test_the_history_section_of_an_object_page_lists_its_changes(
    operator, merchant, scenario, other_merchant
):
    scenario_services.scenario_pause(scenario=scenario)
    html = operator.get(f"/app/scenarios/{scenario.public_id}/").content.decode()
    assert 'data-testid="history"' in html
    assert "is paused" in html
    assert f"/app/audit/?kind=scenario&amp;object={scenario.public_id}" in html


@pytest.mark.parametrize(
    ("query", "expected_kinds"),
    [
        ({"kind": "scenario"}, {"scenario"}),
        ({"kind": "request"}, {"request"}),
        ({"action": "created", "kind": "scenario"}, {"scenario"}),
    ],
)
def test_filters_by_kind_and_action(operator, merchant, scenario, query, expected_kinds):
    make_request(merchant)
    page = operator.get(AUDIT, query).context["page"]
    assert page.object_list
    assert {e.object_kind for e in page.object_list} == expected_kinds
    if "action" in query:
        assert {e.action for e in page.object_list} == {"created"}


def test_filters_by_actor_and_object_id(operator, owner, merchant, scenario):
    other = make_scenario(
        merchant, [step("request_created", scenario.steps.first().template)], name="B"
    )
    operator.post(f"/app/scenarios/{scenario.public_id}/pause/")
    page = operator.get(AUDIT, {"actor": owner.email.upper()}).context["page"]
    assert [e.object_id for e in page.object_list] == [scenario.public_id]
    page = operator.get(AUDIT, {"object": f"  {other.public_id} "}).context["page"]
    assert {e.object_id for e in page.object_list} == {other.public_id}


def test_dates_are_days_in_the_merchants_zone(operator, merchant, scenario):
    # 23:30 UTC on 1 March is already 2 March in Paris.
    AuditEntry.objects.filter(merchant=merchant).update(
        created_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    )
    assert (
        not operator.get(AUDIT, {"date_from": "2026-03-01", "date_to": "2026-03-01"})
        .context["page"]
        .object_list
    )
    assert (
        operator.get(AUDIT, {"date_from": "2026-03-02", "date_to": "2026-03-02"})
        .context["page"]
        .object_list
    )


@pytest.mark.parametrize(
    "query",
    [
        {"kind": "nope"},
        {"action": "'; drop table"},
        {"date_from": "2026-13-45"},
        {"date_to": "9999-12-31"},
        {"date_from": "0001-01-01"},
        {"object": "x" * 5000},
        {"actor": "\u202e" * 300},
        {"page": "-1"},
        {"page": "99999999999999999999"},
        {"kind": ["scenario", "request"]},
        {"object": "%_%"},
    ],
)
def test_junk_filter_input_is_never_a_server_error(operator, merchant, scenario, query):
    response = operator.get(AUDIT, query)
    assert response.status_code == 200


def test_the_page_costs_the_same_queries_for_one_row_and_fifty(operator, merchant, scenario):
    AuditEntry.objects.filter(merchant=merchant).exclude(pk=last(merchant).pk).delete()
    operator.get(AUDIT)  # warm the session and the merchant resolution
    with CaptureQueriesContext(connection) as one:
        assert len(operator.get(AUDIT).context["page"].object_list) == 1
    for n in range(60):
        scenario_services.scenario_pause(
            scenario=scenario
        ) if n % 2 == 0 else scenario_services.scenario_resume(scenario=scenario)
    with CaptureQueriesContext(connection) as fifty:
        assert len(operator.get(AUDIT).context["page"].object_list) == 50
    assert len(fifty) == len(one), [q["sql"] for q in fifty.captured_queries]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_audit_page_cannot_change_anything(operator, merchant, scenario, method):
    count = AuditEntry.objects.count()
    response = getattr(operator, method)(AUDIT)
    assert response.status_code == 405
    assert AuditEntry.objects.count() == count


@pytest.mark.parametrize("role", ["owner", "admin", "agent", "viewer"])
def test_every_role_may_read_the_audit_page(client, merchant, scenario, role):
    client.force_login(MembershipFactory(merchant=merchant, role=role).user)
    assert client.get(AUDIT).status_code == 200


def test_the_trail_is_not_editable_in_the_django_admin():
    registered = {model._meta.label for model in admin.site._registry}
    assert "audit.AuditEntry" not in registered
    assert not {label for label in registered if ".Historical" in label}


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get(AUDIT)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_membership_removal_is_recorded_as_a_deletion(merchant, owner):
    member = MembershipFactory(merchant=merchant, role="viewer")
    merchant_services.membership_remove(membership=Membership.objects.get(pk=member.pk))
    entry = last(merchant, item_id=member.public_id)
    assert entry.action == "deleted"
    assert entry.changes["role"] == ["viewer", None]


# --- Retention -----------------------------------------------------------------------------------


def test_the_purge_removes_entries_and_snapshots_past_the_retention_only(merchant, scenario):
    from audit.services import audit_purge
    from scenarios.models import Scenario

    old = timezone.now() - timedelta(days=800)
    AuditEntry.objects.filter(merchant=merchant).update(created_at=old)
    Scenario.history.filter(id=scenario.pk).update(history_date=old)
    scenario_services.scenario_pause(scenario=scenario)  # a fresh change, kept

    assert audit_purge() > 0
    left = entries(merchant)
    assert [e.changes for e in left] == [{"is_paused": [False, True]}]
    assert Scenario.history.filter(id=scenario.pk).count() == 1


def test_the_retention_cannot_be_set_below_a_year():
    import os
    import subprocess
    import sys

    env = {**os.environ, "AUDIT_RETENTION_DAYS": "30"}
    result = subprocess.run(
        [sys.executable, "-c", "import pushpay.settings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "AUDIT_RETENTION_DAYS must be at least 365" in result.stderr


def test_the_purge_is_scheduled_daily():
    from pushpay.schedules import SCHEDULES

    assert any(s["func"] == "audit.tasks.purge_audit_trail" for s in SCHEDULES)


def test_each_mode_shows_its_own_objects_changes_and_the_shared_configuration(
    operator, merchant, scenario, live_cards
):
    live = make_request(merchant, livemode=True, reference="LIVE-1")
    test = make_request(merchant, reference="TEST-1")
    html = operator.get(AUDIT).content.decode()
    assert test.public_id in html and scenario.public_id in html
    assert live.public_id not in html
    operator.post("/app/mode/", {"mode": "live"})
    html = operator.get(AUDIT).content.decode()
    assert live.public_id in html and scenario.public_id in html
    assert test.public_id not in html
