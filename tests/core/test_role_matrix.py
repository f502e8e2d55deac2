"""Each role against each back-office route that changes something: allowed, or a 403 with a
clear message. The routes come from the URL resolver, so a new page under /app/ fails here
until it says which capability it needs (or that it only reads)."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from notifications import services as template_services
from notifications.dispatcher import dispatch_due
from scenarios.models import Dispatch
from scenarios.services import dispatches_plan_for_request
from smartforms import services as form_services
from tests.factories import MembershipFactory, make_request, participants
from tests.scenarios.helpers import make_scenario, step
from tests.smartforms.builders import text_field

ROLES = ("owner", "admin", "agent", "viewer")

# Route name -> (capability, methods checked). None: any member may call it (reads, previews
# that save nothing, choosing which merchant to work for).
CHANGES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "backoffice:dispatch_resend": ("requests.resend", ("post",)),
    "backoffice:switch_merchant": (None, ("post",)),
    "backoffice:switch_mode": (None, ("post",)),
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
    "smartforms:form_archive": ("forms.manage", ("get", "post")),
    "smartforms:form_preview": (None, ("post",)),
}

READS = {
    "backoffice:request_list",
    "backoffice:request_detail",
    "backoffice:participant_qr",
    "backoffice:request_export",
    "outbox:outbox_list",
    "scenarios:scenario_list",
    "scenarios:scenario_detail",
    "notifications:template_list",
    "notifications:template_detail",
    "smartforms:form_list",
    "smartforms:form_detail",
    "smartforms:submission_list",
}

ALLOWED = {
    None: set(ROLES),
    "requests.resend": {"owner", "admin", "agent"},
    "scenarios.manage": {"owner", "admin"},
    "templates.manage": {"owner", "admin"},
    "forms.manage": {"owner", "admin"},
}


def backoffice_routes(prefix: str = "app/") -> dict[str, list[str]]:
    """Every named route under /app/: qualified name -> its URL parameters, in order."""
    found: dict[str, list[str]] = {}

    def walk(patterns, route: str, namespace: str | None) -> None:
        for entry in patterns:
            here = route + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, here, entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and here.startswith(prefix) and entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
                found[name] = list(entry.pattern.converters)

    walk(get_resolver().url_patterns, "", None)
    return found


def test_every_back_office_route_says_what_it_needs():
    routes = set(backoffice_routes())
    assert routes, "no route found under /app/"
    assert routes == set(CHANGES) | READS, "classify new routes in CHANGES or READS"


@pytest.fixture
def world(merchant, settings):
    """One of each object the routes name, all belonging to ``merchant``."""
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    template = template_services.template_create(
        merchant=merchant,
        name="Reminder",
        channel="email",
        subject={"en": "Pay {{ request.reference }}"},
        body_text={"en": "Pay {{ amount_due }}: {{ pay_url }}"},
    )
    scenario = make_scenario(merchant, [step("request_created", template)])
    payment_request = make_request(
        merchant, total_amount=1000, participants=participants(1, amount=1000)
    )
    dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)
    dispatch_due(worker_id="w")
    form = form_services.form_create(merchant=merchant, name="Guests", fields=[text_field()])
    return {
        "backoffice": {
            "public_id": payment_request.public_id,
            "participant_id": payment_request.participants.get().public_id,
            "dispatch_id": Dispatch.objects.get().public_id,
        },
        "scenarios": {"public_id": scenario.public_id},
        "notifications": {"public_id": template.public_id},
        "smartforms": {"public_id": form.public_id},
    }


def url_of(name: str, world: dict) -> str:
    from django.urls import reverse

    params = backoffice_routes()[name]
    values = world.get(name.split(":")[0], {})
    return reverse(name, kwargs={param: values[param] for param in params})


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

    assert not Scenario.objects.get(public_id=world["scenarios"]["public_id"]).is_paused


# --- What the pages offer -----------------------------------------------------------------------

CONFIGURATION_BUTTONS = {
    "/app/scenarios/": ["New scenario"],
    "/app/templates/": ["Install default templates"],
    "/app/forms/": ["New form"],
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
    html = client.get(f"/app/requests/{world['backoffice']['public_id']}/").content.decode()
    assert (">Resend<" in html) is shown
