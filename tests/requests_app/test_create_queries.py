"""What one API create asks the database: constant in participants, no read it can skip."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.selectors import template_for_stage
from scenarios.services import scenario_create

URL = "/api/v1/payment-requests"


def body(future, scenario, payers: int, reference: str) -> dict:
    return {
        "reference": reference,
        "currency": "EUR",
        "total_amount": 1000 * payers,
        "participants": [
            {"name": f"Payer {i}", "email": f"p{i}@example.com", "amount": 1000}
            for i in range(payers)
        ],
        "deadline": future(10),
        "scenario": scenario.public_id,
    }


@pytest.fixture
def five_steps(merchant):
    template = template_for_stage(merchant=merchant, stage="request_created", channel="email")

    def step(trigger, **extra):
        return {
            "trigger": trigger,
            "audience": "unpaid_participants",
            "channel": "email",
            "template": template.public_id,
            **extra,
        }

    return scenario_create(
        merchant=merchant,
        name="Five steps",
        steps=[
            step("request_created"),
            step("before_deadline", offset="P3D"),
            step("before_deadline", offset="P1D"),
            step("after_deadline", offset="P1D", repeat_every="P3D", repeat_max=3),
            {**step("request_completed"), "audience": "all_participants"},
        ],
    )


def create(api, payload, key):
    with CaptureQueriesContext(connection) as captured:
        response = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 201, response.content
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.django_db
def test_a_create_asks_the_same_queries_for_1_and_30_participants(api, future, five_steps):
    create(api, body(future, five_steps, 1, "WARM"), "warm")  # caches filled once
    one = create(api, body(future, five_steps, 1, "Q-1"), "q-1")
    thirty = create(api, body(future, five_steps, 30, "Q-30"), "q-30")

    # The outbox rows go in one statement on both databases (one prepared statement run
    # per row on SQLite, logged once), so the count is the same whatever the participants.
    assert len(one) == len(thirty)
    assert len(one) <= 21


@pytest.mark.django_db
def test_a_create_does_not_read_back_what_it_just_wrote(api, future, five_steps):
    create(api, body(future, five_steps, 1, "WARM"), "warm")
    queries = create(api, body(future, five_steps, 3, "Q-3"), "q-3")
    selects = [q for q in queries if q.startswith("SELECT")]

    # The request, its payers, its scenario binding and its outbox rows were written by
    # this call: neither the planner nor the answer reads them again.
    for table in (
        "requests_app_paymentrequest",
        "requests_app_participant",
        "scenarios_scenariobinding",
        "scenarios_dispatch",
    ):
        assert not [q for q in selects if f'FROM "{table}"' in q], table
    # The key is claimed by one INSERT … ON CONFLICT, without a savepoint of its own (the
    # test's transaction makes the guard's own block one, before the claim): after the
    # claim the only savepoints are the view's and the creation's.
    # The scenario is read with its time-based steps, in one query.
    assert len([q for q in selects if 'FROM "scenarios_s' in q]) == 1
    claim = next(i for i, q in enumerate(queries) if 'INTO "merchants_idempotencyrecord"' in q)
    assert "ON CONFLICT DO NOTHING" in queries[claim]
    assert not queries[claim + 1].startswith("RELEASE SAVEPOINT")
    assert len([q for q in queries[claim:] if q.startswith("SAVEPOINT")]) == 2


@pytest.mark.django_db
def test_a_create_reads_nothing_a_new_request_cannot_have(api, future, five_steps):
    create(api, body(future, five_steps, 1, "WARM"), "warm")
    queries = create(api, body(future, five_steps, 3, "Q-3"), "q-3")
    text = "\n".join(queries)

    # No answers, checkouts or installment plans exist for payers who never opened a link.
    for table in ("smartforms_submission", "payments_checkout", "payments_installmentplan"):
        assert f'FROM "{table}"' not in text
    # A first use of a key does not first delete expired records of that key.
    assert not [q for q in queries if q.startswith('DELETE FROM "merchants_idempotencyrecord"')]


@pytest.mark.django_db
def test_the_created_body_still_shows_every_participant_field(api, future, five_steps):
    response = api.post(
        URL, body(future, five_steps, 2, "BODY"), format="json", HTTP_IDEMPOTENCY_KEY="b"
    )
    read = api.get(f"{URL}/{response.json()['id']}")

    # The create's answer is the same object a read gives (checkouts, plans and answers
    # empty), so skipping the reads changed nothing an integrator sees.
    assert response.json() == read.json()
    assert response.json()["scenario"] == five_steps.public_id
    assert [p["name"] for p in response.json()["participants"]] == ["Payer 0", "Payer 1"]


@pytest.mark.django_db
def test_a_request_created_without_scenario_answers_as_a_read_does(api, future, five_steps):
    payload = body(future, five_steps, 2, "NO-SCENARIO")
    del payload["scenario"]
    with CaptureQueriesContext(connection) as captured:
        response = api.post(URL, payload, format="json")
    assert response.status_code == 201, response.content
    assert not [q for q in captured if 'FROM "scenarios_scenariobinding"' in q["sql"]]
    assert response.json()["scenario"] is None
    assert response.json() == api.get(f"{URL}/{response.json()['id']}").json()
