"""The scenario builder: steps as form rows that save through the scenarios service, every
error at its row and field in one round trip, rows added, removed and reordered without
JavaScript, and a timeline preview planned by the outbox's own rules."""

import json
import re
from datetime import UTC, datetime, time, timedelta
from html import unescape

import pytest

from merchants.models import Membership
from notifications import services as template_services
from notifications.models import Dispatch
from pushpay.errors import InvalidFields
from scenarios import services
from scenarios.builder import row_to_step, step_to_row
from scenarios.models import Scenario, Step
from tests.factories import MembershipFactory, make_request

from .helpers import acceptance_steps, make_scenario, step

pytestmark = pytest.mark.django_db

BUILD_URL = "/app/scenarios/build/"
TIMELINE_URL = "/app/scenarios/timeline/"
API_URL = "/api/v1/scenarios"

ROW_DEFAULTS = {
    "trigger": "request_created",
    "audience": "unpaid_participants",
    "channel": "email",
    "repeat_until_paid": "on",
}


@pytest.fixture
def operator_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role=Membership.Role.ADMIN).user)
    return client


@pytest.fixture
def viewer_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role=Membership.Role.VIEWER).user)
    return client


def form_data(*rows: dict, name: str = "Standard", **extra) -> dict:
    data = {"name": name, "steps-TOTAL_FORMS": str(len(rows)), "steps-INITIAL_FORMS": "0"}
    for index, row in enumerate(rows):
        for key, value in {**ROW_DEFAULTS, **row}.items():
            if value is not None:
                data[f"steps-{index}-{key}"] = value
    data.update(extra)
    return data


def field_errors(html: str) -> dict[str, str]:
    """Input id -> the error shown under it (``requests_app/_field.html``'s ``_error`` div)."""
    return {
        name: unescape(text).strip()
        for name, text in re.findall(r'id="id_([\w-]+)_error">([^<]*)<', html)
    }


def summary_links(html: str) -> list[str]:
    block = html.split('data-testid="error-summary"')[1].split("</ul>")[0]
    return re.findall(r'href="#([^"]+)"', block)


def row_values(html: str, field: str) -> list[str]:
    """The selected value of ``field`` in each row, in page order (not the script's template)."""
    page = html.split("<template data-step-template>")[0]
    values = []
    for select in re.findall(rf'<select[^>]*name="steps-\d+-{field}".*?</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', select)
        values.append(chosen.group(1) if chosen else "")
    return values


# --- The page -------------------------------------------------------------------------------


def test_the_builder_offers_the_templates_by_name_and_links_the_json_editor(
    operator_client, email_template, sms_template
):
    response = operator_client.get(BUILD_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="step-row"') == 2  # one row, and the script's template
    assert f'value="{email_template.public_id}" data-channel="email">Reminder email<' in html
    assert f'value="{sms_template.public_id}" data-channel="sms">Reminder SMS<' in html
    assert 'href="/app/scenarios/new/" data-testid="json-editor-link"' in html
    assert "scenarios/scenario-builder.js" in html and "<script>" not in html


def test_the_list_and_detail_pages_open_the_builder(operator_client, merchant, email_template):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    listing = operator_client.get("/app/scenarios/").content.decode()
    detail = operator_client.get(f"/app/scenarios/{scenario.public_id}/").content.decode()
    assert 'href="/app/scenarios/build/"' in listing
    assert f'href="/app/scenarios/{scenario.public_id}/build/"' in listing
    assert f'href="/app/scenarios/{scenario.public_id}/build/"' in detail


# --- Saving ---------------------------------------------------------------------------------


def test_three_rows_save_as_the_same_steps_the_api_would_store(
    operator_client, merchant, email_template, sms_template
):
    response = operator_client.post(
        BUILD_URL,
        form_data(
            {"template": email_template.public_id},
            {
                "trigger": "before_deadline",
                "offset_days": "2",
                "offset_hours": "6",
                "channel": "sms",
                "template": sms_template.public_id,
                "quiet_start": "21:00",
                "quiet_end": "08:00",
            },
            {
                "trigger": "after_deadline",
                "offset_days": "1",
                "repeat_max": "3",
                "repeat_every_days": "3",
                "template": email_template.public_id,
                "min_amount": "500",
                "language": "fr",
                "only_if_unpaid": "on",
                "repeat_until_paid": None,
            },
        ),
    )

    scenario = Scenario.objects.get()
    assert response.status_code == 302
    assert response.url == f"/app/scenarios/{scenario.public_id}/"
    steps = list(Step.objects.filter(scenario=scenario).order_by("position"))
    assert [(s.trigger, s.offset_seconds) for s in steps] == [
        ("request_created", 0),
        ("before_deadline", 2 * 86_400 + 6 * 3_600),
        ("after_deadline", 86_400),
    ]
    assert steps[1].template == sms_template
    assert (steps[1].quiet_start, steps[1].quiet_end) == (time(21), time(8))
    third = steps[2]
    assert (third.repeat_every_seconds, third.repeat_max, third.repeat_until_paid) == (
        3 * 86_400,
        3,
        False,
    )
    assert (third.min_amount, third.language, third.only_if_unpaid) == (500, "fr", True)


def test_every_error_is_shown_at_its_row_and_field_at_once(operator_client, email_template):
    response = operator_client.post(
        BUILD_URL,
        form_data(
            {"template": email_template.public_id, "offset_days": "many"},
            {"trigger": "before_deadline", "offset_days": "400", "channel": "sms",
             "audience": "merchant", "template": email_template.public_id},
            {"trigger": "after_deadline", "repeat_every_days": "3", "quiet_start": "21:00",
             "template": email_template.public_id},
            name="",
        ),
    )  # fmt: skip

    assert response.status_code == 422
    html = response.content.decode()
    errors = field_errors(html)
    assert errors == {
        "name": "Give the scenario a name.",
        "steps-0-offset_days": "Enter a whole number.",
        "steps-1-offset_days": "Between 0 and 365 days.",
        "steps-1-channel": "The merchant is notified by email or webhook, not SMS.",
        "steps-1-template": "This template is for another channel.",
        "steps-2-repeat_max": "How many messages in all (2 to 20)?",
        "steps-2-quiet_start": "Give a start and an end that differ.",
    }
    assert summary_links(html) == [f"id_{name}" for name in errors]
    assert "7 problems to fix" in html
    assert 'aria-invalid="true" aria-describedby="id_steps-1-offset_days_error"' in html
    assert Scenario.objects.count() == 0


def test_a_template_of_another_merchant_is_refused_at_its_row(
    operator_client, other_merchant, email_template
):
    theirs = template_services.template_create(
        merchant=other_merchant,
        name="Theirs",
        channel="email",
        subject={"en": "Pay"},
        body_text={"en": "{{ pay_url }}"},
    )

    response = operator_client.post(
        BUILD_URL,
        form_data({"template": email_template.public_id}, {"template": theirs.public_id}),
    )

    assert response.status_code == 422
    assert field_errors(response.content.decode()) == {
        "steps-1-template": "Choose one of your templates."
    }
    assert "Theirs" not in response.content.decode()
    assert Scenario.objects.count() == 0


def test_a_template_of_the_wrong_channel_is_refused(operator_client, sms_template):
    response = operator_client.post(BUILD_URL, form_data({"template": sms_template.public_id}))

    assert response.status_code == 422
    assert field_errors(response.content.decode()) == {
        "steps-0-template": "This template is for another channel."
    }


def test_the_service_names_every_refusal_the_first_one_first(merchant, email_template):
    with pytest.raises(InvalidFields) as refused:
        services.scenario_create(
            merchant=merchant,
            name=" ",
            steps=[
                step("request_created", email_template, colour="red", offset="P1M"),
                step("after_deadline", email_template, repeat_every="P3D", repeat_max=1),
            ],
        )

    assert [(r.code, r.field) for r in refused.value.refusals] == [
        ("required", "name"),
        ("unknown_field", "steps[0].colour"),
        ("invalid_duration", "steps[0].offset"),
        ("repeat_out_of_range", "steps[1].repeat_max"),
    ]
    assert (refused.value.code, refused.value.field) == ("required", "name")


def test_the_api_answers_the_first_of_several_errors_in_its_one_shape(api, email_template):
    """The service now names every refusal; the API's body stays the first one alone."""
    steps = [
        step("request_created", email_template, audience="everyone"),
        step("before_deadline", email_template, offset="P400D"),
    ]
    with pytest.raises(InvalidFields) as refused:
        services.scenario_create(merchant=email_template.merchant, name="S", steps=steps)
    assert len(refused.value.refusals) == 2

    response = api.post(API_URL, {"name": "Standard", "steps": steps}, format="json")

    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("unknown_audience", "steps[0].audience")
    assert "steps[1]" not in response.content.decode()


def test_saving_a_scenario_in_use_makes_a_new_version(operator_client, merchant, email_template):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    make_request(merchant, scenario=scenario)
    page = operator_client.get(f"/app/scenarios/{scenario.public_id}/build/").content.decode()
    assert 'data-testid="version-notice"' in page
    assert row_values(page, "trigger") == ["request_created", "before_deadline", "after_deadline"]

    response = operator_client.post(
        f"/app/scenarios/{scenario.public_id}/build/",
        form_data({"template": email_template.public_id}, name="Shorter"),
    )

    assert response.status_code == 302
    scenario.refresh_from_db()
    assert (scenario.name, scenario.version) == ("Shorter", 2)
    assert Step.objects.filter(scenario=scenario, version=1).count() == 3
    assert Step.objects.filter(scenario=scenario, version=2).count() == 1


def test_a_stored_step_comes_back_unchanged_through_its_row(merchant, email_template):
    scenario = make_scenario(
        merchant,
        [
            step("before_deadline", email_template, offset="P2DT6H30M", quiet_hours={
                "start": "21:00", "end": "08:00"}, conditions={"min_amount": 700}),
            step("after_deadline", email_template, repeat_every="P1DT12H", repeat_max=4,
                 repeat_until_paid=False, conditions={"language": "en", "only_if_unpaid": True}),
        ],
    )  # fmt: skip
    stored = list(Step.objects.filter(scenario=scenario).order_by("position"))
    fields = ("trigger", "offset_seconds", "repeat_every_seconds", "repeat_max")
    fields += ("repeat_until_paid", "audience", "channel", "template_id", "min_amount")
    fields += ("only_if_unpaid", "language", "quiet_start", "quiet_end")

    cleaned, refusals = services.scenario_steps_check(
        merchant=merchant, steps=[row_to_step(step_to_row(s)) for s in stored]
    )

    assert refusals == []
    for original, again in zip(stored, cleaned, strict=True):
        again["template_id"] = again["template"].pk
        assert {f: getattr(original, f) for f in fields} == {f: again[f] for f in fields}


# --- Rows without JavaScript ----------------------------------------------------------------


def three_rows(email_template, sms_template) -> dict:
    return form_data(
        {"template": email_template.public_id},
        {"trigger": "before_deadline", "channel": "sms", "template": sms_template.public_id},
        {"trigger": "after_deadline", "template": email_template.public_id},
    )


def test_move_down_and_up_reorder_the_rows_and_save_nothing(
    operator_client, email_template, sms_template
):
    data = three_rows(email_template, sms_template)

    down = operator_client.post(BUILD_URL, {**data, "row_action": "down-0"})
    up = operator_client.post(BUILD_URL, {**data, "row_action": "up-2"})

    assert down.status_code == up.status_code == 200
    assert row_values(down.content.decode(), "trigger") == [
        "before_deadline",
        "request_created",
        "after_deadline",
    ]
    assert row_values(down.content.decode(), "template")[0] == sms_template.public_id
    assert row_values(up.content.decode(), "trigger") == [
        "request_created",
        "after_deadline",
        "before_deadline",
    ]
    assert 'data-testid="error-summary"' not in down.content.decode()
    assert Scenario.objects.count() == 0


def test_add_and_remove_rows_without_javascript(operator_client, email_template, sms_template):
    data = three_rows(email_template, sms_template)

    added = operator_client.post(BUILD_URL, {**data, "row_action": "add"}).content.decode()
    removed = operator_client.post(BUILD_URL, {**data, "row_action": "remove-1"}).content.decode()

    assert row_values(added, "trigger")[-1] == "request_created"
    assert len(row_values(added, "trigger")) == 4
    assert 'name="steps-TOTAL_FORMS" value="4"' in added
    assert row_values(removed, "trigger") == ["request_created", "after_deadline"]
    assert 'name="steps-TOTAL_FORMS" value="2"' in removed


def test_the_preview_button_shows_the_timeline_and_saves_nothing(operator_client, email_template):
    response = operator_client.post(
        BUILD_URL,
        form_data(
            {"template": email_template.public_id},
            preview="1",
            example_sent_at="2026-03-02T10:00",
            example_deadline="2026-03-16T12:00",
        ),
    )

    assert response.status_code == 200
    assert 'datetime="2026-03-02T10:00:00+01:00"' in response.content.decode()
    assert Scenario.objects.count() == 0


# --- The timeline ---------------------------------------------------------------------------


def timeline_times(html: str) -> list[str]:
    return re.findall(r'<time datetime="([^"]+)"', html)


def test_the_timeline_applies_quiet_hours_and_repetitions_in_the_merchant_zone(
    operator_client, email_template, sms_template
):
    response = operator_client.post(
        TIMELINE_URL,
        form_data(
            {"template": email_template.public_id},
            {"trigger": "before_deadline", "offset_days": "2", "channel": "sms",
             "template": sms_template.public_id, "quiet_start": "21:00", "quiet_end": "08:00"},
            {"trigger": "after_deadline", "offset_days": "1", "repeat_max": "3",
             "repeat_every_days": "3", "template": email_template.public_id},
            {"trigger": "payment_failed", "offset_hours": "2",
             "template": email_template.public_id},
            example_sent_at="2026-03-27T10:00",
            example_deadline="2026-03-30T22:30",
        ),
    )  # fmt: skip

    assert response.status_code == 200
    html = response.content.decode()
    # Paris moves to summer time on 29 March: the offsets follow the zone's rules.
    assert timeline_times(html) == [
        "2026-03-27T10:00:00+01:00",
        "2026-03-29T08:00:00+02:00",  # 28 March 22:30 is in the quiet hours
        "2026-03-31T22:30:00+02:00",
        "2026-04-03T22:30:00+02:00",
        "2026-04-06T22:30:00+02:00",
    ]
    assert html.count("Europe/Paris") >= 5
    assert "message 3 of 3" in html and "Reminder SMS" in html
    assert "Moved to the end of the quiet hours." in html
    assert "2 hours after the event" in html  # the event step has no date, only a delay


def test_the_timeline_is_the_plan_the_outbox_writes(merchant, email_template, sms_template):
    scenario = make_scenario(
        merchant,
        [
            step("request_created", email_template),
            step("before_deadline", sms_template, offset="P3DT2H",
                 quiet_hours={"start": "20:00", "end": "09:30"}),
            step("after_deadline", email_template, offset="PT5H", repeat_every="P2D",
                 repeat_max=4),
        ],
    )  # fmt: skip
    deadline = datetime(2027, 6, 20, 21, 15, tzinfo=UTC)
    send_at = datetime(2027, 6, 1, 7, 0, tzinfo=UTC)
    payment_request = make_request(
        merchant,
        scenario=scenario,
        deadline=deadline,
        send_at=send_at,
        expires_at=deadline + timedelta(days=30),
        participants=[make_participant()],
        total_amount=1000,
    )
    planned = sorted(
        Dispatch.objects.filter(request=payment_request).values_list("due_at", flat=True)
    )

    slots = services.timeline_preview(
        steps=list(Step.objects.filter(scenario=scenario)),
        sent_at=send_at,
        deadline=deadline,
        time_zone=merchant.time_zone,
    )

    assert [slot.due for slot in slots] == planned
    assert len(planned) == 6


def make_participant():
    from requests_app.services import ParticipantData

    return ParticipantData(name="Zoé", email="zoe@example.com", phone="+33612345678", amount=1000)


def test_an_emptied_deadline_dates_only_the_sending(operator_client, email_template):
    response = operator_client.post(
        TIMELINE_URL,
        form_data(
            {"template": email_template.public_id},
            {"trigger": "before_deadline", "offset_days": "2"},
            example_sent_at="2026-03-02T10:00",
            example_deadline="",
        ),
    )
    html = response.content.decode()
    assert timeline_times(html) == ["2026-03-02T10:00:00+01:00"]
    assert "No deadline" in html


def test_rows_in_error_are_named_in_the_timeline_not_guessed(operator_client, email_template):
    response = operator_client.post(
        TIMELINE_URL,
        form_data(
            {"template": email_template.public_id},
            {"trigger": "after_deadline", "offset_days": "999"},
            example_sent_at="2026-03-02T10:00",
        ),
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="timeline-broken"' in html and "step 2" in html
    assert timeline_times(html) == ["2026-03-02T10:00:00+01:00"]


# --- Junk and roles -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "junk",
    [
        {"steps-TOTAL_FORMS": "abc"},
        {"steps-TOTAL_FORMS": "99999", "steps-INITIAL_FORMS": "0"},
        {"steps-TOTAL_FORMS": "-3"},
        {"row_action": "up-99"},
        {"row_action": "down-x"},
        {"row_action": "explode"},
        {"row_action": "remove-0"},
        {"steps-0-trigger": "on_monday", "steps-0-channel": "fax", "steps-0-audience": "all"},
        {"steps-0-offset_days": "9" * 400, "steps-0-repeat_max": "1e9"},
        {"steps-0-template": "tp_" + "A" * 5000},
        {"steps-0-quiet_start": "25:99", "steps-0-quiet_end": "é☃"},
        {"steps-0-min_amount": "99999999999999999999999"},
        {"example_sent_at": "yesterday", "example_deadline": "9999-99-99T99:99"},
        {"name": "x" * 10_000},
        {"preview": "1", "steps-0-offset_days": "-5"},
    ],
)
def test_junk_is_a_clear_answer_never_a_server_error(operator_client, email_template, junk):
    data = {**form_data({"template": email_template.public_id}), **junk}
    for url in (BUILD_URL, TIMELINE_URL):
        response = operator_client.post(url, data)
        # Unreadable example dates only fall back to the defaults: the scenario itself saves.
        assert response.status_code in (200, 302, 400, 422), (url, junk, response.status_code)
    if "example_sent_at" not in junk:
        assert Scenario.objects.count() == 0


def test_a_missing_management_form_is_refused_with_a_message(operator_client):
    response = operator_client.post(BUILD_URL, {"name": "Standard"})
    assert response.status_code in (400, 422)
    assert Scenario.objects.count() == 0


def test_a_viewer_cannot_open_or_save_the_builder(
    viewer_client, merchant, email_template, sms_template
):
    scenario = make_scenario(merchant, acceptance_steps(email_template))
    data = three_rows(email_template, sms_template)

    assert viewer_client.get(BUILD_URL).status_code == 403
    assert viewer_client.post(BUILD_URL, data).status_code == 403
    edit = f"/app/scenarios/{scenario.public_id}/build/"
    assert viewer_client.post(edit, {**data, "name": "Hijacked"}).status_code == 403
    assert Scenario.objects.get().name == "Standard"
    assert Scenario.objects.count() == 1
    # The preview saves nothing: a viewer may read it.
    assert viewer_client.post(TIMELINE_URL, data).status_code == 200


def test_another_merchants_scenario_is_a_404_in_the_builder(operator_client, other_merchant):
    theirs_template = template_services.template_create(
        merchant=other_merchant, name="T", channel="sms", body_text={"en": "Pay {{ pay_url }}"}
    )
    theirs = make_scenario(other_merchant, [step("request_created", theirs_template)], "Secret")

    url = f"/app/scenarios/{theirs.public_id}/build/"
    assert operator_client.get(url).status_code == 404
    assert operator_client.post(url, form_data(name="Mine now")).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Secret"


def test_the_json_editor_lists_every_refusal_and_links_back_to_the_builder(
    operator_client, email_template
):
    steps = [
        step("request_created", email_template, audience="everyone"),
        step("before_deadline", email_template, offset="P400D"),
    ]
    response = operator_client.post(
        "/app/scenarios/new/", {"name": "Standard", "steps_json": json.dumps(steps)}
    )

    html = response.content.decode()
    assert response.status_code == 422
    error = re.search(r'data-testid="steps-error">([^<]*)<', html).group(1)
    assert "steps[0].audience" in error and "steps[1].offset" in error
    assert 'href="/app/scenarios/build/" data-testid="builder-link"' in html


def test_a_reminder_due_before_the_request_is_sent_is_shown_as_not_sent(
    operator_client, email_template
):
    response = operator_client.post(
        TIMELINE_URL,
        form_data(
            {"template": email_template.public_id},
            {"trigger": "before_deadline", "offset_days": "2"},
            example_sent_at="2027-03-15T10:00",
            example_deadline="2027-03-16T10:00",
        ),
    )
    html = response.content.decode()
    assert timeline_times(html) == ["2027-03-14T10:00:00+01:00", "2027-03-15T10:00:00+01:00"]
    assert html.count("Before the request is sent: not sent.") == 1
