"""Form versions over the API: every numbered set of fields stays readable, so a submission
made against version 1 can be read with the fields it was checked against."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from smartforms import services

from .builders import text_field

URL = "/api/v1/forms"

pytestmark = pytest.mark.django_db


def three_versions(make_form):
    """A form locked and changed twice: versions 1 and 2 locked, 3 current."""
    form = make_form([text_field("company")])
    for key in ("vat", "po_number"):
        services.form_version_lock(form_version=form.current_version)
        form = services.form_update(
            form=form, fields=[*form.current_version.fields, text_field(key)]
        )
    return form


def test_the_versions_are_listed_newest_first_with_their_own_fields(api, make_form):
    form = three_versions(make_form)

    body = api.get(f"{URL}/{form.public_id}/versions").json()

    assert [v["number"] for v in body["results"]] == [3, 2, 1]
    assert [v["locked"] for v in body["results"]] == [False, True, True]
    assert [f["key"] for f in body["results"][2]["fields"]] == ["company"]
    assert [f["key"] for f in body["results"][0]["fields"]] == ["company", "vat", "po_number"]
    assert body["results"][1]["locked_at"] and body["results"][0]["locked_at"] is None
    assert {v["form"] for v in body["results"]} == {form.public_id}


def test_one_version_reads_as_it_was(api, make_form):
    form = three_versions(make_form)

    first = api.get(f"{URL}/{form.public_id}/versions/1")

    assert first.status_code == 200
    assert first.json()["number"] == 1 and first.json()["livemode"] is False
    assert [f["key"] for f in first.json()["fields"]] == ["company"]


@pytest.mark.parametrize("number", ["4", "0", "-1", "v1", "1e3", "\u0661", "9" * 40])
def test_a_version_that_does_not_exist_is_a_404(api, make_form, number):
    form = three_versions(make_form)

    response = api.get(f"{URL}/{form.public_id}/versions/{number}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_another_merchants_form_versions_are_a_404(api, make_form, other_merchant):
    theirs = make_form(owner=other_merchant)

    assert api.get(f"{URL}/{theirs.public_id}/versions").status_code == 404
    assert api.get(f"{URL}/{theirs.public_id}/versions/1").status_code == 404


def test_the_list_pages_and_costs_the_same_queries_for_any_number_of_versions(api, make_form):
    form = three_versions(make_form)
    api.get(f"{URL}/{form.public_id}/versions")  # the key's last_used_at, once a minute
    with CaptureQueriesContext(connection) as few:
        api.get(f"{URL}/{form.public_id}/versions")
    for key in ("a", "b", "c", "d"):
        services.form_version_lock(form_version=form.current_version)
        form = services.form_update(
            form=form, fields=[*form.current_version.fields, text_field(key)]
        )
    with CaptureQueriesContext(connection) as many:
        page = api.get(f"{URL}/{form.public_id}/versions", {"limit": 5}).json()

    assert len(many) == len(few)
    assert [v["number"] for v in page["results"]] == [7, 6, 5, 4, 3]
    rest = api.get(page["next"]).json()
    assert [v["number"] for v in rest["results"]] == [2, 1]
