"""Each role against each back-office route that changes something: allowed, or a 403 with a
clear message. The routes come from the one route walker (tests/routes.py), so a new page under
/app/ fails here until it says which capability it needs (or that it only reads)."""

import pytest

from notifications.dispatcher import dispatch_due
from tests.factories import MembershipFactory
from tests.routes import iter_routes, merchant_objects, url_for

ROLES = ("owner", "admin", "agent", "viewer")

# Route name -> (capability, methods checked). None: any member may call it (reads, previews
# that save nothing, choosing which merchant to work for).
CHANGES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "backoffice:dispatch_resend": ("requests.resend", ("post",)),
    "backoffice:switch_merchant": (None, ("post",)),
    "backoffice:switch_mode": (None, ("post",)),
    "backoffice:set_language": (None, ("post",)),
    "backoffice:request_create": ("requests.create", ("get", "post")),
    "backoffice:request_deadline": ("requests.edit", ("post",)),
    "backoffice:request_reminders": ("requests.pause_reminders", ("post",)),
    "backoffice:request_cancel": ("requests.cancel", ("get", "post")),
    "backoffice:request_refund": ("requests.refund", ("get", "post")),
    "backoffice:participant_add": ("requests.edit", ("post",)),
    "backoffice:participant_remove": ("requests.edit", ("get", "post")),
    "backoffice:request_import": ("requests.create", ("get", "post")),
    "backoffice:csv_job_confirm": ("requests.create", ("post",)),
    "backoffice:request_list_export": (None, ("post",)),
    "scenarios:scenario_builder_create": ("scenarios.manage", ("get", "post")),
    "scenarios:scenario_builder_edit": ("scenarios.manage", ("get", "post")),
    "scenarios:scenario_timeline": (None, ("post",)),
    "scenarios:scenario_create": ("scenarios.manage", ("get", "post")),
    "scenarios:scenario_edit": ("scenarios.manage", ("get", "post")),
    "scenarios:scenario_pause": ("scenarios.manage", ("post",)),
    "scenarios:scenario_resume": ("scenarios.manage", ("post",)),
    "notifications:template_create": ("templates.manage", ("get", "post")),
    "notifications:template_edit": ("templates.manage", ("get", "post")),
    "notifications:template_archive": ("templates.manage", ("post",)),
    "notifications:template_restore": ("templates.manage", ("post",)),
    "notifications:template_install_defaults": ("templates.manage", ("post",)),
    "notifications:template_send_test": ("templates.manage", ("post",)),
    "notifications:template_preview": (None, ("post",)),
    "smartforms:form_create": ("forms.manage", ("get", "post")),
    "smartforms:form_edit": ("forms.manage", ("get", "post")),
    "smartforms:form_create_json": ("forms.manage", ("get", "post")),
    "smartforms:form_edit_json": ("forms.manage", ("get", "post")),
    "smartforms:form_builder_preview": (None, ("post",)),
    "smartforms:form_archive": ("forms.manage", ("get", "post")),
    "smartforms:form_preview": (None, ("post",)),
    "wallets:wallet_create": ("wallets.manage", ("post",)),
    "wallets:cashback_rule": ("wallets.manage", ("post",)),
    "wallets:wallet_credit": ("wallets.manage", ("post",)),
    "wallets:wallet_adjust": ("wallets.manage", ("post",)),
    "installments:plan_cancel": ("installments.manage", ("post",)),
    "installments:plan_reschedule": ("installments.manage", ("post",)),
    "installments:plan_resplit": ("installments.manage", ("post",)),
    "webhooks:endpoint_create": ("webhooks.manage", ("get", "post")),
    "webhooks:endpoint_edit": ("webhooks.manage", ("get", "post")),
    "webhooks:endpoint_rotate_secret": ("webhooks.manage", ("post",)),
    "webhooks:endpoint_toggle": ("webhooks.manage", ("post",)),
    "webhooks:endpoint_delete": ("webhooks.manage", ("post",)),
    "webhooks:endpoint_replay": ("webhooks.manage", ("post",)),
    "webhooks:delivery_replay": ("webhooks.manage", ("post",)),
    "providers:stripe": ("credentials.manage", ("get", "post")),
    "providers:paypal": ("credentials.manage", ("get", "post")),
    "merchants:api_key_create": ("api_keys.manage", ("get", "post")),
    "merchants:api_key_revoke": ("api_keys.manage", ("get", "post")),
    "merchants:settings": ("branding.manage", ("post",)),
    "merchants:invitation_create": ("team.manage", ("post",)),
    "merchants:invitation_revoke": ("team.manage", ("post",)),
    "merchants:member_role": ("team.manage", ("post",)),
    "merchants:member_remove": ("team.manage", ("get", "post")),
    # The operator's own two-factor login: every member, for themselves only.
    "merchants:totp_start": (None, ("post",)),
    "merchants:totp_confirm": (None, ("post",)),
    "merchants:recovery_codes": (None, ("post",)),
    "merchants:two_factor_disable": (None, ("post",)),
}

READS = {
    "backoffice:request_list",
    "backoffice:request_detail",
    "backoffice:participant_qr",
    "backoffice:request_export",
    "backoffice:request_import_template",
    "backoffice:csv_job",
    "backoffice:csv_job_status",
    "backoffice:csv_job_download",
    "backoffice:configuration",
    "backoffice:dashboard",
    "outbox:outbox_list",
    "scenarios:scenario_list",
    "scenarios:scenario_detail",
    "notifications:template_list",
    "notifications:template_detail",
    "smartforms:form_list",
    "smartforms:form_detail",
    "smartforms:submission_list",
    "reconciliation:request",
    "reconciliation:request_csv",
    "reconciliation:daily_list",
    "reconciliation:daily_csv",
    "wallets:wallet_list",
    "wallets:wallet_detail",
    "wallets:wallet_export",
    "installments:due_list",
    "installments:defaulted_list",
    "installments:plan_detail",
    "webhooks:endpoint_list",
    "webhooks:endpoint_detail",
    "merchants:api_key_list",
    "merchants:team",
    "merchants:security",
    # The audit trail: every member reads it; it has no changing route at all.
    "audit:entry_list",
}

ALLOWED = {
    None: set(ROLES),
    "requests.resend": {"owner", "admin", "agent"},
    "requests.create": {"owner", "admin", "agent"},
    "requests.edit": {"owner", "admin", "agent"},
    "requests.pause_reminders": {"owner", "admin", "agent"},
    "requests.cancel": {"owner", "admin", "agent"},
    "requests.refund": {"owner", "admin"},
    "scenarios.manage": {"owner", "admin"},
    "templates.manage": {"owner", "admin"},
    "forms.manage": {"owner", "admin"},
    "wallets.manage": {"owner", "admin"},
    "installments.manage": {"owner", "admin"},
    "webhooks.manage": {"owner", "admin"},
    "credentials.manage": {"owner"},
    "branding.manage": {"owner", "admin"},
    "api_keys.manage": {"owner"},
    "team.manage": {"owner"},
    "security.manage": {"owner"},
}

# Every back-office route by label (its name, or its pattern when it has none, so an unnamed
# route cannot slip through the classification either).
BACKOFFICE = {route.label: route for route in iter_routes(kinds={"backoffice"})}


def test_every_back_office_route_says_what_it_needs():
    assert BACKOFFICE, "no route found under /app/"
    assert set(BACKOFFICE) == set(CHANGES) | READS, "classify new routes in CHANGES or READS"
    assert not set(CHANGES) & READS


def test_every_method_that_can_change_something_is_checked():
    """A route that answers more than GET lists each of those methods in CHANGES; a read
    answers GET only."""
    for label, route in BACKOFFICE.items():
        writes = {method.lower() for method in route.methods} - {"get"}
        checked = set(CHANGES.get(label, (None, ()))[1])
        assert writes <= checked, f"{label}: {sorted(writes - checked)} not in the matrix"
        assert checked <= {method.lower() for method in route.methods}, label


@pytest.fixture
def world(merchant, settings):
    """One of each object the routes name (tests/routes.py), all belonging to ``merchant``,
    with the notifications sent so that they can be resent."""
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    objects = merchant_objects(merchant)
    dispatch_due(worker_id="w")
    return objects


def url_of(name: str, world: dict) -> str:
    route = BACKOFFICE[name]
    return url_for(route, **route.ids_from(world))


CASES = [
    (name, method, role)
    for name, (_, methods) in CHANGES.items()
    for method in methods
    for role in ROLES
]


@pytest.mark.parametrize(("name", "method", "role"), CASES)
def test_each_role_may_only_do_what_its_capabilities_allow(
    client, merchant, world, name, method, role
):
    client.force_login(MembershipFactory(merchant=merchant, role=role).user)
    capability = CHANGES[name][0]
    data = {
        "backoffice:switch_merchant": {"slug": merchant.slug},
        "backoffice:switch_mode": {"mode": "live"},
        "backoffice:set_language": {"language": "fr"},
    }.get(name, {})
    response = getattr(client, method)(url_of(name, world), data)
    if role in ALLOWED[capability]:
        assert response.status_code != 403, response.content[:300]
        assert response.status_code < 500
    else:
        assert response.status_code == 403
        assert "does not allow you to" in response.content.decode()


def test_an_agent_cannot_pause_a_scenario_and_it_stays_active(client, merchant, world):
    client.force_login(MembershipFactory(merchant=merchant, role="agent").user)
    response = client.post(url_of("scenarios:scenario_pause", world))
    assert response.status_code == 403
    assert "Your role (Agent) does not allow you to change scenarios" in response.content.decode()
    from scenarios.models import Scenario

    assert not Scenario.objects.get(public_id=world["scenario"]).is_paused


# --- What the pages offer -----------------------------------------------------------------------

CONFIGURATION_BUTTONS = {
    "/app/scenarios/": ["New scenario"],
    "/app/templates/": ["Install default templates"],
    "/app/forms/": ["New form"],
    "/app/webhooks/": ["New endpoint"],
}


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_configuration_buttons_are_hidden_from_agents_and_viewers(client, merchant, world, role):
    client.force_login(MembershipFactory(merchant=merchant, role=role).user)
    for page, labels in CONFIGURATION_BUTTONS.items():
        html = client.get(page).content.decode()
        for label in labels:
            assert label not in html, (page, label)
        assert ">Edit<" not in html, page


def test_admins_see_the_configuration_buttons(client, merchant, world):
    client.force_login(MembershipFactory(merchant=merchant, role="admin").user)
    for page, labels in CONFIGURATION_BUTTONS.items():
        html = client.get(page).content.decode()
        for label in labels:
            assert label in html, (page, label)


@pytest.mark.parametrize(("role", "shown"), [("agent", True), ("viewer", False)])
def test_the_resend_button_follows_the_role(client, merchant, world, role, shown):
    client.force_login(MembershipFactory(merchant=merchant, role=role).user)
    html = client.get(f"/app/requests/{world['request']}/").content.decode()
    assert (">Resend<" in html) is shown
