"""The forms API: creation, listing, edits through the versioning rule, and every refusal."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from smartforms import services
from smartforms.models import Form, FormVersion

from .builders import every_type_fields, text_field

URL = "/api/v1/forms"

pytestmark = pytest.mark.django_db


def error_of(response) -> dict:
    return response.json()["error"]


def create(api, **overrides):
    body = {"name": "Gala", "fields": every_type_fields(), **overrides}
    return api.post(URL, body, format="json")


def test_it_creates_a_form_and_shows_its_first_version(api):
    response = create(api)

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["id"].startswith("fm_")
    assert data["name"] == "Gala"
    assert data["status"] == "active"
    assert data["version"] == 1 and data["version_locked"] is False
    assert [f["key"] for f in data["fields"]][:2] == ["company", "email"]
    assert api.get(f"{URL}/{data['id']}").json() == data


def test_an_invalid_definition_is_refused_in_the_one_error_shape_and_nothing_is_saved(api):
    fields = [text_field("a"), text_field("b"), text_field("c", regex="(unclosed")]

    response = create(api, fields=fields)

    assert response.status_code == 422
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert (error["code"], error["field"]) == ("invalid_regex", "fields[2].regex")
    assert "regex" in error["message"]
    assert not Form.objects.exists()


def test_unknown_fields_in_the_body_are_refused(api, make_form):
    response = create(api, colour="blue")
    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["field"]) == ("unknown_field", "colour")

    form = make_form()
    response = api.patch(f"{URL}/{form.public_id}", {"title": "x"}, format="json")
    assert response.status_code == 400
    assert error_of(response)["field"] == "title"

    response = api.post(
        f"{URL}/{form.public_id}/validate", {"answers": {}, "extra": 1}, format="json"
    )
    assert response.status_code == 400
    assert error_of(response)["field"] == "extra"


def test_an_idempotent_create_replays_the_first_response(api):
    headers = {"Idempotency-Key": "create-gala-1"}
    body = {"name": "Gala", "fields": every_type_fields()}

    first = api.post(URL, body, format="json", headers=headers)
    second = api.post(URL, body, format="json", headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Form.objects.count() == 1


def test_an_idempotency_key_reused_for_another_body_is_refused(api):
    headers = {"Idempotency-Key": "k-1"}
    api.post(URL, {"name": "Gala", "fields": every_type_fields()}, format="json", headers=headers)
    response = api.post(
        URL, {"name": "Other", "fields": every_type_fields()}, format="json", headers=headers
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == "idempotency_key_reused"
    assert Form.objects.count() == 1


def test_patching_an_unlocked_form_keeps_the_version_number(api, make_form):
    form = make_form()

    response = api.patch(
        f"{URL}/{form.public_id}",
        {"name": "Gala 2030", "fields": [text_field("nickname")]},
        format="json",
    )

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["name"], data["version"]) == ("Gala 2030", 1)
    assert [f["key"] for f in data["fields"]] == ["nickname"]


def test_patching_a_locked_form_shows_the_next_version(api, make_form):
    form = make_form()
    services.submission_create(
        form_version=form.current_version,
        answers={"company": "Acme", "terms": True},
        language="en",
    )

    response = api.patch(f"{URL}/{form.public_id}", {"fields": [text_field("x")]}, format="json")

    assert response.status_code == 200
    assert (response.json()["version"], response.json()["version_locked"]) == (2, False)
    assert FormVersion.objects.filter(form=form).count() == 2


def test_archive_then_edit_is_a_conflict(api, make_form):
    form = make_form()

    archived = api.post(f"{URL}/{form.public_id}/archive")
    assert archived.status_code == 200
    assert archived.json()["status"] == "archived"
    assert archived.json()["archived_at"]

    response = api.patch(f"{URL}/{form.public_id}", {"name": "x"}, format="json")
    assert response.status_code == 409
    assert error_of(response)["code"] == "form_archived"


def test_the_list_pages_with_a_cursor_and_filters_by_status(api, make_form):
    forms = [make_form(name=f"Form {i}") for i in range(3)]
    services.form_archive(form=forms[0])

    page = api.get(URL, {"limit": 2}).json()
    assert [f["name"] for f in page["results"]] == ["Form 2", "Form 1"]
    following = api.get(page["next"]).json()
    assert [f["name"] for f in following["results"]] == ["Form 0"]

    archived = api.get(URL, {"status": "archived"}).json()["results"]
    assert [f["name"] for f in archived] == ["Form 0"]
    response = api.get(URL, {"status": "deleted"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_filter"


def test_the_list_costs_the_same_number_of_queries_for_two_or_twenty_forms(api, make_form):
    for _ in range(2):
        make_form()
    api.get(URL)  # warm up whatever the authentication caches
    with CaptureQueriesContext(connection) as few:
        assert api.get(URL).status_code == 200

    for _ in range(18):
        make_form()
    with CaptureQueriesContext(connection) as many:
        response = api.get(URL)

    assert len(response.json()["results"]) == 20
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_submission_list_does_not_grow_with_the_number_of_submissions(
    api, make_form, django_assert_max_num_queries
):
    form = make_form()
    for i in range(10):
        services.submission_create(
            form_version=form.current_version,
            answers={"company": f"Acme {i}", "terms": True},
            language="fr",
            participant_public_id=f"pa_{i}",
        )
    services.form_update(form=form, fields=[text_field("x")])

    with django_assert_max_num_queries(8):
        response = api.get(f"{URL}/{form.public_id}/submissions")

    results = response.json()["results"]
    assert len(results) == 10
    assert results[0]["id"].startswith("fs_")
    assert results[0]["form"] == form.public_id
    assert results[0]["version"] == 1
    assert results[0]["participant"] == "pa_9"
    assert results[0]["answers"]["company"] == "Acme 9"


def test_validate_is_a_dry_run_that_returns_cleaned_answers(api, make_form):
    form = make_form()

    response = api.post(
        f"{URL}/{form.public_id}/validate",
        {"answers": {"company": "Acme", "phone": "+33 6 12 34 56 78", "terms": "on"}},
        format="json",
    )

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["valid"] is True and data["version"] == 1
    assert data["answers"]["phone"] == "+33612345678"
    form.current_version.refresh_from_db()
    assert not form.current_version.is_locked
    assert not form.current_version.submissions.exists()


def test_validate_refuses_answers_in_the_requested_language(api, make_form):
    form = make_form()

    response = api.post(
        f"{URL}/{form.public_id}/validate",
        {"answers": {"company": "Acme", "terms": False}, "language": "fr"},
        format="json",
    )

    assert response.status_code == 422
    error = error_of(response)
    assert (error["code"], error["field"]) == ("consent_required", "answers.terms")
    assert error["message"] == "Veuillez cocher « J'accepte les conditions » pour continuer."


def test_validate_can_target_an_older_version(api, make_form):
    form = make_form()
    services.form_version_lock(form_version=form.current_version)
    services.form_update(form=form, fields=[text_field("nickname", required=True)])
    url = f"{URL}/{form.public_id}/validate"

    old = api.post(
        url, {"answers": {"company": "Acme", "terms": True}, "version": 1}, format="json"
    )
    current = api.post(url, {"answers": {"nickname": "Al"}}, format="json")
    missing = api.post(url, {"answers": {}, "version": 9}, format="json")

    assert (old.status_code, old.json()["version"]) == (200, 1)
    assert (current.status_code, current.json()["version"]) == (200, 2)
    assert missing.status_code == 404


def test_validate_refuses_an_archived_form(api, make_form):
    form = services.form_archive(form=make_form())
    response = api.post(
        f"{URL}/{form.public_id}/validate",
        {"answers": {"company": "Acme", "terms": True}},
        format="json",
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "form_archived"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"name": "Mine now"}),
        ("post", "/archive", None),
        ("get", "/submissions", None),
        ("post", "/validate", {"answers": {}}),
    ],
)
def test_another_merchants_form_is_not_found(other_api, make_form, method, suffix, body):
    form = make_form()

    response = getattr(other_api, method)(f"{URL}/{form.public_id}{suffix}", body, format="json")

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    form.refresh_from_db()
    assert form.name == "Registration" and form.status == Form.Status.ACTIVE


def test_another_merchants_forms_are_not_listed(api, other_api, make_form, other_merchant):
    make_form(owner=other_merchant)
    assert api.get(URL).json()["results"] == []
    assert len(other_api.get(URL).json()["results"]) == 1


def test_the_api_needs_a_key(client):
    response = client.get(URL)
    assert response.status_code == 401


@pytest.mark.parametrize("version", [2**31, 10**30])
def test_validate_refuses_a_version_number_no_column_can_hold(api, make_form, version):
    form = make_form()

    response = api.post(
        f"{URL}/{form.public_id}/validate", {"answers": {}, "version": version}, format="json"
    )

    assert response.status_code == 422, response.content
    assert (error_of(response)["code"], error_of(response)["field"]) == ("max_value", "version")
