"""The smart-form builder: operators build a form from rows without typing JSON, see every
mistake at its field at once, reorder fields and preview the payer's form in both languages;
viewers may preview but never save, and another merchant's form does not exist."""

import re

import pytest

from merchants.models import Membership, OperatorPreference
from smartforms import builder
from smartforms.fieldtypes import FIELD_TYPES
from smartforms.models import Form, FormVersion
from tests.factories import MembershipFactory

from .builders import every_type_fields

pytestmark = pytest.mark.django_db

NEW_URL = "/app/forms/new/"
PREVIEW_URL = "/app/forms/builder-preview/"


@pytest.fixture
def operator_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role=Membership.Role.ADMIN).user)
    return client


@pytest.fixture
def viewer_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role=Membership.Role.VIEWER).user)
    return client


def edit_url(form) -> str:
    return f"/app/forms/{form.public_id}/edit/"


def post_data(rows: list[dict], name: str = "Gala", **extra) -> dict:
    """The builder's POST for these rows, as the browser sends it without JavaScript."""
    data = {
        "name": name,
        "fields-TOTAL_FORMS": str(len(rows)),
        "fields-INITIAL_FORMS": "0",
        "fields-MIN_NUM_FORMS": "0",
        "fields-MAX_NUM_FORMS": "50",
        **extra,
    }
    for index, row in enumerate(rows):
        data[f"fields-{index}-position"] = str(index)
        for key, value in row.items():
            if value is True:
                data[f"fields-{index}-{key}"] = "on"
            elif value not in (False, None):
                data[f"fields-{index}-{key}"] = str(value)
    return data


COMPANY = {
    "type": "text",
    "key": "company",
    "label_fr": "Société",
    "label_en": "Company",
    "help_fr": "Comme sur votre facture",
    "help_en": "As on your invoice",
    "required": True,
    "max_length": "100",
}
SIZE = {
    "type": "single_choice",
    "key": "size",
    "label_fr": "Taille",
    "label_en": "Size",
    "choices": "s | Petit | Small\nm | Moyen | Medium",
}
GUESTS = {
    "type": "number",
    "key": "guests",
    "label_fr": "Invités",
    "label_en": "Guests",
    "number_min": "1",
    "number_max": "10",
    "decimal_places": "0",
}
TERMS = {
    "type": "consent",
    "key": "terms",
    "label_fr": "J'accepte les conditions",
    "label_en": "I accept the terms",
    "required": True,
}


def errors_of(response, name: str) -> str:
    """The text shown under one input (empty when it has no error)."""
    html = response.content.decode()
    match = re.search(rf'data-testid="error-{re.escape(name)}">(.*?)</div>', html, re.S)
    return re.sub(r"<[^>]+>", " ", match.group(1)) if match else ""


# --- Building and saving --------------------------------------------------------------------


def test_an_operator_builds_a_form_from_rows_and_it_is_saved_as_the_json_editor_would(
    operator_client, merchant
):
    response = operator_client.post(NEW_URL, post_data([COMPANY, SIZE, GUESTS, TERMS]))

    form = Form.objects.get(merchant=merchant)
    assert response.status_code == 302 and response.url == f"/app/forms/{form.public_id}/"
    assert form.name == "Gala" and form.current_version.number == 1
    assert form.current_version.fields == [
        {
            "key": "company",
            "type": "text",
            "label": {"fr": "Société", "en": "Company"},
            "help_text": {"fr": "Comme sur votre facture", "en": "As on your invoice"},
            "required": True,
            "max_length": 100,
        },
        {
            "key": "size",
            "type": "single_choice",
            "label": {"fr": "Taille", "en": "Size"},
            "required": False,
            "choices": [
                {"value": "s", "label": {"fr": "Petit", "en": "Small"}},
                {"value": "m", "label": {"fr": "Moyen", "en": "Medium"}},
            ],
        },
        {
            "key": "guests",
            "type": "number",
            "label": {"fr": "Invités", "en": "Guests"},
            "required": False,
            "min": 1,
            "max": 10,
            "decimal_places": 0,
        },
        {
            "key": "terms",
            "type": "consent",
            "label": {"fr": "J'accepte les conditions", "en": "I accept the terms"},
            "required": True,
        },
    ]


def test_the_builder_is_the_default_editor_and_links_to_the_json_one(operator_client, make_form):
    form = make_form()
    page = operator_client.get(edit_url(form)).content.decode()
    assert 'data-testid="form-builder"' in page
    assert f"/app/forms/{form.public_id}/edit/json/" in page
    # Every saved field comes back as a row, options included, so saving again changes nothing.
    assert page.count('data-testid="builder-row"') == len(every_type_fields()) + 1  # + template
    response = operator_client.post(
        edit_url(form), post_data(builder_rows(form.current_version.fields), name=form.name)
    )
    assert response.status_code == 302
    form.refresh_from_db()
    assert form.current_version.fields == FormVersion.objects.get(form=form).fields
    assert FormVersion.objects.filter(form=form).count() == 1
    assert form.current_version.fields == make_form().current_version.fields


def builder_rows(fields: list[dict]) -> list[dict]:
    return [dict(row.values) for row in builder.rows_from_definitions(fields)]


def test_every_option_of_every_type_has_an_input_and_nothing_else_is_offered():
    inputs = set(builder.FieldRowForm.base_fields)
    for kind in FIELD_TYPES.values():
        for option in kind.options:
            assert builder.option_input(kind.name, option) in inputs
    offered = set(builder.option_types())
    common = {"type", "key", "required", "label_fr", "label_en", "help_fr", "help_en"}
    assert inputs - offered - common == {"position", "remove"}


def test_editing_a_locked_version_saves_a_new_version_through_the_same_service(
    operator_client, make_form
):
    form = make_form()
    from smartforms import services

    services.form_version_lock(form_version=form.current_version)
    rows = builder_rows(form.current_version.fields)
    rows[0]["label_en"] = "Company name"
    response = operator_client.post(edit_url(form), post_data(rows, name=form.name))
    assert response.status_code == 302
    form.refresh_from_db()
    assert form.current_version.number == 2
    assert form.current_version.fields[0]["label"]["en"] == "Company name"
    assert FormVersion.objects.get(form=form, number=1).fields[0]["label"]["en"] == "Company"


# --- Every error at once ----------------------------------------------------------------------


def test_every_mistake_is_shown_at_its_field_at_once_and_nothing_is_saved(operator_client):
    rows = [
        {**COMPANY, "key": "Bad Key", "max_length": "5000"},
        {**SIZE, "label_fr": "", "label_en": "", "choices": "s | Petit | Small\ns | Bis | Again"},
        {**GUESTS, "number_min": "20", "number_max": "10", "decimal_places": "1.5"},
        {**TERMS, "key": ""},
    ]
    response = operator_client.post(NEW_URL, post_data(rows, name=""))

    assert response.status_code == 422
    assert Form.objects.count() == 0
    assert "A form needs a name" in errors_of(response, "name")
    assert "lowercase letters" in errors_of(response, "fields-0-key")
    assert "between 1 and 1000" in errors_of(response, "fields-0-max_length")
    assert "label in French or English" in errors_of(response, "fields-1-label_fr")
    assert "Line 2" in errors_of(response, "fields-1-choices")
    assert "appears twice" in errors_of(response, "fields-1-choices")
    assert "minimum is above the maximum" in errors_of(response, "fields-2-number_min")
    assert "whole number" in errors_of(response, "fields-2-decimal_places")
    assert "key" in errors_of(response, "fields-3-key")
    page = response.content.decode()
    assert "8 problems to fix" in page
    # The operator's input comes back as typed, so fixing one thing loses nothing.
    assert 'value="Bad Key"' in page and "s | Bis | Again" in page


def test_a_key_used_twice_is_refused_at_the_second_row(operator_client):
    response = operator_client.post(NEW_URL, post_data([COMPANY, {**TERMS, "key": "company"}]))
    assert response.status_code == 422
    assert errors_of(response, "fields-0-key") == ""
    assert "Another field already uses this key" in errors_of(response, "fields-1-key")
    assert Form.objects.count() == 0


@pytest.mark.parametrize(
    "choices, message",
    [
        ("", "at least one choice"),
        ("s m | Petit", "choice value is 1 to 100"),
        ("s", "Line 1"),
        ("\n".join(f"v{n} | L{n}" for n in range(101)), "at most 100 choices"),
    ],
)
def test_bad_choices_are_refused_at_the_choices_box(operator_client, choices, message):
    response = operator_client.post(NEW_URL, post_data([{**SIZE, "choices": choices}]))
    assert response.status_code == 422
    assert message in errors_of(response, "fields-0-choices")


def test_the_builder_speaks_french_to_a_french_operator(client, merchant):
    user = MembershipFactory(merchant=merchant, role=Membership.Role.ADMIN).user
    OperatorPreference.objects.create(user=user, language="fr")
    client.force_login(user)
    page = client.get(NEW_URL).content.decode()
    assert "Ajouter un champ" in page and "Libellé en français" in page
    response = client.post(NEW_URL, post_data([{**COMPANY, "key": ""}, {**SIZE, "choices": "s"}]))
    assert response.status_code == 422
    assert "Donnez une clé au champ." in errors_of(response, "fields-0-key")
    assert "Ligne 1" in errors_of(response, "fields-1-choices")


def test_an_option_left_in_another_types_input_is_ignored(operator_client, merchant):
    # The operator typed a pattern, then turned the field into a number: the pattern goes.
    row = {**GUESTS, "regex": "[a-z]+", "choices": "a | b"}
    assert operator_client.post(NEW_URL, post_data([row])).status_code == 302
    assert "regex" not in Form.objects.get(merchant=merchant).current_version.fields[0]


# --- Rows: add, remove, reorder -------------------------------------------------------------


def test_moving_a_row_without_javascript_redraws_it_in_its_new_place_and_saves_nothing(
    operator_client,
):
    response = operator_client.post(NEW_URL, post_data([COMPANY, SIZE, TERMS], move="2:up"))
    assert response.status_code == 200 and Form.objects.count() == 0
    page = response.content.decode()
    assert page.index('value="terms"') < page.index('value="size"')
    assert 'name="fields-1-key" id="id_fields-1-key" value="terms"' in page


def test_the_positions_the_script_sets_decide_the_saved_order(operator_client, merchant):
    data = post_data([COMPANY, SIZE, TERMS])
    data.update({"fields-0-position": "2", "fields-1-position": "0", "fields-2-position": "1"})
    assert operator_client.post(NEW_URL, data).status_code == 302
    keys = [f["key"] for f in Form.objects.get(merchant=merchant).current_version.fields]
    assert keys == ["size", "terms", "company"]


def test_a_removed_row_and_a_blank_row_are_not_saved(operator_client, merchant):
    data = post_data([COMPANY, {**SIZE, "remove": True}, {"type": "text"}])
    assert operator_client.post(NEW_URL, data).status_code == 302
    keys = [f["key"] for f in Form.objects.get(merchant=merchant).current_version.fields]
    assert keys == ["company"]


def test_add_a_field_without_javascript_adds_a_row_and_keeps_what_was_typed(operator_client):
    response = operator_client.post(NEW_URL, post_data([COMPANY], action="add"))
    assert response.status_code == 200 and Form.objects.count() == 0
    page = response.content.decode()
    assert 'name="fields-1-key"' in page and 'value="company"' in page
    assert 'name="fields-TOTAL_FORMS" value="2"' in page


def test_a_form_without_any_field_is_refused(operator_client):
    response = operator_client.post(NEW_URL, post_data([{"type": "text"}]))
    assert response.status_code == 422
    assert "Add at least one field." in response.content.decode()


# --- Live preview ---------------------------------------------------------------------------


def test_the_preview_shows_the_payers_form_in_both_languages_with_the_payer_pages_markup(
    viewer_client,
):
    response = viewer_client.post(PREVIEW_URL, post_data([COMPANY, SIZE, TERMS]))
    assert response.status_code == 200
    html = response.content.decode()
    french, english = html.split('data-testid="preview-en"')
    assert "Société" in french and "Comme sur votre facture" in french and "Moyen" in french
    assert "Company" in english and "As on your invoice" in english and "Medium" in english
    # The payer page's own partial: sf_ names, sf- ids, kept apart per language.
    assert 'name="sf_fr-company"' in french and 'id="sf-en-company"' in english
    assert 'data-testid="smart-form"' in french and 'data-testid="smart-form"' in english
    assert Form.objects.count() == 0


def test_the_preview_leaves_out_rows_that_still_have_a_mistake(operator_client):
    response = operator_client.post(PREVIEW_URL, post_data([COMPANY, {**SIZE, "choices": ""}]))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="preview-left-out"' in html and "Taille" not in html
    assert "Société" in html


def test_the_preview_button_without_javascript_redraws_the_page_with_the_preview(
    operator_client,
):
    response = operator_client.post(NEW_URL, post_data([COMPANY], action="preview"))
    assert response.status_code == 200 and Form.objects.count() == 0
    html = response.content.decode()
    assert 'id="sf-fr-company"' in html and 'id="sf-en-company"' in html


# --- Access and junk ------------------------------------------------------------------------


def test_another_merchants_form_is_a_404_in_the_builder(operator_client, make_form, other_merchant):
    theirs = make_form(owner=other_merchant, name="Secret")
    assert operator_client.get(edit_url(theirs)).status_code == 404
    response = operator_client.post(edit_url(theirs), post_data([COMPANY], name="Mine"))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Secret" and theirs.current_version.number == 1


def test_a_viewer_cannot_open_or_save_the_builder(viewer_client, make_form):
    form = make_form()
    assert viewer_client.get(NEW_URL).status_code == 403
    assert viewer_client.post(NEW_URL, post_data([COMPANY])).status_code == 403
    assert viewer_client.get(edit_url(form)).status_code == 403
    assert viewer_client.post(edit_url(form), post_data([COMPANY], name="x")).status_code == 403
    assert Form.objects.count() == 1 and Form.objects.get().name != "x"


def test_an_archived_form_is_not_changed_by_the_builder(operator_client, make_form):
    from smartforms import services

    form = services.form_archive(form=make_form())
    assert operator_client.get(edit_url(form)).status_code == 302
    response = operator_client.post(edit_url(form), post_data([COMPANY], name="New"))
    assert response.status_code == 302
    form.refresh_from_db()
    assert form.name == "Registration"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": "x"},
        {"fields-TOTAL_FORMS": "abc", "fields-INITIAL_FORMS": "0"},
        {"fields-TOTAL_FORMS": "-1", "fields-INITIAL_FORMS": "0"},
        {"fields-TOTAL_FORMS": "99999999999999999999", "fields-INITIAL_FORMS": "0"},
        post_data([{**COMPANY, "position": "nan"}], move="x:sideways"),
        post_data([{**COMPANY, "position": "1e999"}], move="999:up"),
        post_data([{**GUESTS, "number_min": "9" * 5000, "decimal_places": "-0"}]),
        post_data([{**COMPANY, "type": "<script>"}]),
        post_data([{**COMPANY, "regex": "(a+)+"}]),
        post_data([{**COMPANY, "regex": "[unclosed"}]),
        post_data([{**SIZE, "choices": "|||\n| | |\n" * 50}]),
        post_data([{**COMPANY, "label_fr": "é" * 100_000}]),
        post_data([{**TERMS, "key": f"k{n}"} for n in range(60)]),
    ],
)
def test_junk_is_refused_clearly_and_never_a_server_error(operator_client, data):
    for target in (NEW_URL, PREVIEW_URL):
        response = operator_client.post(target, data)
        assert response.status_code in (200, 302, 400, 422), (target, response.status_code)
    assert Form.objects.filter(name="x").count() == 0


def test_more_rows_than_a_form_may_hold_are_refused_as_a_whole(operator_client):
    rows = [{**TERMS, "key": f"k{n}"} for n in range(51)]
    response = operator_client.post(NEW_URL, post_data(rows))
    assert response.status_code == 422
    assert "at most 50 fields" in response.content.decode()
    assert Form.objects.count() == 0


@pytest.mark.parametrize("bound", [0.0000001, -2.5, 10**15, 3])
def test_a_saved_number_bound_comes_back_into_its_box_and_saves_unchanged(
    operator_client, make_form, bound
):
    field = {"key": "n", "type": "number", "label": {"en": "N"}, "min": bound}
    form = make_form([field])
    rows = builder_rows(form.current_version.fields)
    assert operator_client.post(edit_url(form), post_data(rows, name="R")).status_code == 302
    form.refresh_from_db()
    assert form.current_version.fields[0]["min"] == bound
