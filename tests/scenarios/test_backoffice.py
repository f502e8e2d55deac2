"""Back-office pages for scenarios and the local outbox: operators define scenarios as JSON
steps and read them as a table, pause and resume them, and read what the outbox kept; viewers
only read; another merchant's scenario does not exist."""

import json
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from merchants.models import Membership
from notifications.outbox import outbox_store
from scenarios import services
from scenarios.models import Scenario, Step
from tests.factories import MembershipFactory

from .helpers import acceptance_steps, make_scenario, step

pytestmark = pytest.mark.django_db

LIST_URL = "/app/scenarios/"
NEW_URL = "/app/scenarios/new/"
OUTBOX_URL = "/app/outbox/"


@pytest.fixture
def operator_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role=Membership.Role.ADMIN).user)
    return client


@pytest.fixture
def viewer_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role=Membership.Role.VIEWER).user)
    return client


def url(scenario, action: str = "") -> str:
    return f"/app/scenarios/{scenario.public_id}/{action + '/' if action else ''}"


def post_steps(client, target: str, steps, name: str = "Standard"):
    text = steps if isinstance(steps, str) else json.dumps(steps)
    return client.post(target, {"name": name, "steps_json": text})


def steps_error(response) -> str:
    match = re.search(r'role="alert" data-testid="steps-error">([^<]*)<', response.content.decode())
    assert match, "no error next to the steps"
    return unescape(match.group(1))


def table_rows(html: str) -> list[str]:
    table = html.split('data-testid="step-table"')[1].split("</table>")[0]
    body = table.split("<tbody>")[1]
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in body.split("<tr>")[1:]
    ]


# --- Access ---------------------------------------------------------------------------------


def test_the_pages_need_a_login(client, merchant, email_template):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    for target in (LIST_URL, NEW_URL, url(scenario), url(scenario, "edit"), OUTBOX_URL):
        response = client.get(target)
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")


def test_another_merchants_scenario_is_a_404_on_every_page(operator_client, other_merchant):
    from notifications.services import template_create

    theirs_template = template_create(
        merchant=other_merchant, name="T", channel="sms", body_text={"en": "Pay {{ pay_url }}"}
    )
    theirs = make_scenario(other_merchant, [step("request_created", theirs_template)], "Secret")
    for action in ("", "edit"):
        assert operator_client.get(url(theirs, action)).status_code == 404
    for action in ("edit", "pause", "resume"):
        assert post_steps(operator_client, url(theirs, action), []).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Secret" and not theirs.is_paused
    assert "Secret" not in operator_client.get(LIST_URL).content.decode()


def test_a_viewer_can_read_but_every_change_is_refused(viewer_client, merchant, email_template):
    scenario = make_scenario(merchant, acceptance_steps(email_template))

    listing = viewer_client.get(LIST_URL).content.decode()
    assert "Standard" in listing and "New scenario" not in listing
    detail = viewer_client.get(url(scenario)).content.decode()
    assert "Reminder email" in detail
    assert ">Pause<" not in detail and url(scenario, "edit") not in detail

    assert viewer_client.get(NEW_URL).status_code == 403
    assert post_steps(viewer_client, NEW_URL, acceptance_steps(email_template)).status_code == 403
    assert viewer_client.get(url(scenario, "edit")).status_code == 403
    assert post_steps(viewer_client, url(scenario, "edit"), []).status_code == 403
    assert viewer_client.post(url(scenario, "pause")).status_code == 403
    assert viewer_client.post(url(scenario, "resume")).status_code == 403

    assert Scenario.objects.count() == 1
    scenario.refresh_from_db()
    assert not scenario.is_paused and scenario.version == 1


# --- List and detail ------------------------------------------------------------------------


def test_the_list_shows_name_version_paused_and_the_steps_of_the_current_version(
    operator_client, merchant, email_template, sms_template
):
    standard = make_scenario(merchant, acceptance_steps(email_template), "Standard")
    quiet = make_scenario(merchant, [step("request_created", sms_template)], "Quiet")
    services.scenario_pause(scenario=quiet)

    page = operator_client.get(LIST_URL).content.decode()

    rows = {
        name: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))
        for name, row in (
            (s.name, re.search(rf">{s.name}</a>.*?</tr>", page, re.S).group(0))
            for s in (standard, quiet)
        )
    }
    assert rows["Standard"].split()[1:4] == ["v1", "Active", "3"]
    assert rows["Quiet"].split()[1:4] == ["v1", "Paused", "1"]


def test_the_list_costs_the_same_number_of_queries_for_any_number_of_scenarios(
    operator_client, merchant, email_template
):
    make_scenario(merchant, acceptance_steps(email_template), "S0")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert operator_client.get(LIST_URL).status_code == 200
        return len(queries)

    count()  # the first visit also remembers the merchant in the session
    few = count()
    for n in range(1, 8):
        make_scenario(merchant, acceptance_steps(email_template), f"S{n}")
    assert count() == few


def test_the_detail_page_reads_the_steps_as_a_table(
    operator_client, merchant, email_template, sms_template
):
    scenario = make_scenario(
        merchant,
        [
            step("request_created", email_template),
            step(
                "before_deadline",
                sms_template,
                offset="P2DT6H",
                quiet_hours={"start": "21:00", "end": "08:00"},
            ),
            step("after_deadline", email_template, offset="P1D", repeat_every="P3D", repeat_max=3),
            step("payment_failed", email_template, audience="merchant"),
        ],
    )

    rows = table_rows(operator_client.get(url(scenario)).content.decode())

    assert rows[0] == (
        "1 Request sent request_created At sending (send-at time, or creation) Once "
        "Participants who still owe Email Reminder email"
    )
    assert "2 days 6 hours before the deadline quiet hours 21:00 to 08:00" in rows[1]
    assert "SMS Reminder SMS" in rows[1]
    assert "1 day after the deadline Every 3 days, 3 messages in all, until paid" in rows[2]
    assert "At the event Once The merchant Email" in rows[3]


# --- Create and edit ------------------------------------------------------------------------


def test_the_editor_documents_an_example_and_lists_the_merchants_template_ids(
    operator_client, email_template
):
    page = operator_client.get(NEW_URL).content.decode()

    example = unescape(page.split('data-testid="steps-example"><code>')[1].split("</code>")[0])
    assert json.loads(example)[1]["offset"] == "P2D"
    assert email_template.public_id in page


def test_an_operator_creates_a_scenario(operator_client, merchant, email_template):
    response = post_steps(operator_client, NEW_URL, acceptance_steps(email_template))

    scenario = Scenario.objects.get(merchant=merchant)
    assert response.status_code == 302 and response.url == url(scenario)
    assert Step.objects.filter(scenario=scenario, version=1).count() == 3
    assert "created" in operator_client.get(response.url).content.decode()


def test_invalid_json_is_refused_with_its_line_and_nothing_is_saved(
    operator_client, email_template
):
    text = json.dumps(acceptance_steps(email_template), indent=2).replace('"P2D"', "P2D")

    response = post_steps(operator_client, NEW_URL, text)

    assert response.status_code == 422
    assert re.match(r"Invalid JSON at line \d+, column \d+", steps_error(response))
    assert "P2D" in response.content.decode()  # what was typed is kept
    assert Scenario.objects.count() == 0


def test_a_refused_step_is_named_by_its_path_and_nothing_is_saved(operator_client, email_template):
    steps = acceptance_steps(email_template)
    steps[1]["offset"] = "-P2D"

    response = post_steps(operator_client, NEW_URL, steps)

    assert response.status_code == 422
    assert steps_error(response).startswith("steps[1].offset: offset must be between 0 and 365")
    assert 'aria-invalid="true"' in response.content.decode()
    assert Scenario.objects.count() == 0 and Step.objects.count() == 0


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ("{}", "steps: A scenario needs at least one step."),
        ('[{"trigger": "whenever"}]', "steps[0].trigger: Unknown trigger 'whenever'"),
        ('[{"trigger": "x", "trigger": "y"}]', "the name “trigger” appears twice"),
        ("", "Enter the steps as a JSON list"),
    ],
)
def test_other_refusals_are_shown_next_to_the_steps(operator_client, steps, expected):
    response = post_steps(operator_client, NEW_URL, steps)

    assert response.status_code == 422
    assert expected in steps_error(response)
    assert Scenario.objects.count() == 0


def test_a_missing_name_is_shown_next_to_the_name(operator_client, email_template):
    response = post_steps(operator_client, NEW_URL, acceptance_steps(email_template), name=" ")

    assert response.status_code == 422
    assert re.search(
        r'id="id_name-error" role="alert">A scenario needs a name', response.content.decode()
    )


def test_the_editor_round_trips_the_stored_steps(operator_client, merchant, email_template):
    original = acceptance_steps(email_template)
    original[1]["quiet_hours"] = {"start": "21:00", "end": "08:00"}
    original[2]["conditions"] = {"min_amount": 500, "language": "fr"}
    scenario = make_scenario(merchant, original)
    before = list(Step.objects.filter(scenario=scenario).values())

    page = operator_client.get(url(scenario, "edit")).content.decode()
    text = unescape(re.search(r'name="steps_json"[^>]*>(.*?)</textarea>', page, re.S).group(1))
    assert json.loads(text)[2]["repeat_every"] == "P3D"
    response = post_steps(operator_client, url(scenario, "edit"), text, name="Renamed")

    assert response.status_code == 302
    scenario.refresh_from_db()
    assert scenario.name == "Renamed" and scenario.version == 1
    after = list(Step.objects.filter(scenario=scenario).values())
    ignored = {"id", "created_at", "updated_at"}
    strip = [{k: v for k, v in row.items() if k not in ignored} for row in before]
    assert [{k: v for k, v in row.items() if k not in ignored} for row in after] == strip


def test_a_refused_edit_leaves_the_scenario_as_it_was(operator_client, merchant, email_template):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    steps = acceptance_steps(email_template)
    steps[2]["repeat_max"] = 50

    response = post_steps(operator_client, url(scenario, "edit"), steps, name="Renamed")

    assert response.status_code == 422
    assert steps_error(response).startswith("steps[2].repeat_max:")
    scenario.refresh_from_db()
    assert scenario.name == "Standard"
    assert Step.objects.filter(scenario=scenario).count() == 3


def test_an_operator_pauses_and_resumes_a_scenario(operator_client, merchant, email_template):
    scenario = make_scenario(merchant, acceptance_steps(email_template))

    page = operator_client.post(url(scenario, "pause"), follow=True).content.decode()
    scenario.refresh_from_db()
    assert scenario.is_paused
    assert "skipped, not delayed" in page and ">Resume<" in page

    operator_client.post(url(scenario, "resume"))
    scenario.refresh_from_db()
    assert not scenario.is_paused


# --- Outbox ---------------------------------------------------------------------------------


def test_the_outbox_shows_this_merchants_messages_newest_first(
    operator_client, merchant, other_merchant, outbox
):
    outbox_store(channel="sms", to="+33612345678", text="First SMS", merchant_id=merchant.pk)
    outbox_store(
        channel="email",
        to="bob@example.com",
        subject="Second email",
        text="Hello Bob",
        html='<p onclick="x()">Hello <b>Bob</b></p><script>alert(1)</script>',
        merchant_id=merchant.pk,
    )
    outbox_store(
        channel="email", to="eve@example.com", subject="Theirs", merchant_id=other_merchant.pk
    )

    page = operator_client.get(OUTBOX_URL).content.decode()

    assert page.index("Second email") < page.index("First SMS")
    assert "Hello Bob" in page and "Theirs" not in page
    frame = re.search(r"<iframe[^>]*>", page).group(0)
    assert 'sandbox=""' in frame
    assert 'srcdoc="&lt;p onclick=&quot;x()&quot;&gt;Hello &lt;b&gt;Bob' in frame
    assert "<script>alert" not in page and "<b>Bob</b>" not in page


def test_the_outbox_is_paginated_at_a_constant_query_count(operator_client, merchant, outbox):
    for n in range(3):
        outbox_store(channel="sms", to="+33612345678", text=f"SMS {n}", merchant_id=merchant.pk)

    def count(page: int = 1) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert operator_client.get(OUTBOX_URL, {"page": page}).status_code == 200
        return len(queries)

    count()
    few = count()
    for n in range(3, 45):
        outbox_store(channel="sms", to="+33612345678", text=f"SMS {n}", merchant_id=merchant.pk)
    assert count() == few

    page = operator_client.get(OUTBOX_URL, {"page": 3}).content.decode()
    assert "Page 3 of 3" in page
    assert "SMS 0" in page and "SMS 44" not in page


def test_without_the_local_outbox_the_page_says_messages_go_to_the_providers(
    operator_client, merchant, settings
):
    settings.TEST_MODE_REAL_CHANNELS = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.SMS_BACKEND = "twilio"
    outbox_store(channel="sms", to="+33612345678", text="Old SMS", merchant_id=merchant.pk)

    page = operator_client.get(OUTBOX_URL).content.decode()

    assert "real providers" in page and "Old SMS" not in page
