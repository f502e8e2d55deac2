"""Back-office pages for smart forms: operators define, preview and archive forms and read
the answers; viewers only read; another merchant's form does not exist."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from merchants.models import Membership
from smartforms import services
from smartforms.models import Form, FormVersion, Submission
from tests.factories import MembershipFactory

from .builders import label, text_field

pytestmark = pytest.mark.django_db

LIST_URL = "/app/forms/"
NEW_URL = "/app/forms/new/"
NEW_JSON_URL = "/app/forms/new/json/"

SIMPLE_FIELDS = [
    {"key": "company", "type": "text", "label": label("Company", "Société"), "required": True},
    {"key": "email", "type": "email", "label": label("Email", "E-mail"), "required": True},
    {
        "key": "terms",
        "type": "consent",
        "label": label("I accept the terms", "J'accepte les conditions"),
        "required": True,
    },
]


@pytest.fixture
def operator_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role=Membership.Role.ADMIN).user)
    return client


@pytest.fixture
def viewer_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role=Membership.Role.VIEWER).user)
    return client


def url(form, action: str = "") -> str:
    return f"/app/forms/{form.public_id}/{action + '/' if action else ''}"


def post_definition(client, target: str, fields, name: str = "Gala") -> object:
    text = fields if isinstance(fields, str) else json.dumps(fields)
    return client.post(target, {"name": name, "fields_json": text})


def answer(form, answers: dict, language: str = "fr"):
    return services.submission_create(
        form_version=form.current_version, answers=answers, language=language
    )


# --- Access ---------------------------------------------------------------------------------


def test_the_pages_need_a_login(client, make_form):
    form = make_form()
    for target in (LIST_URL, NEW_URL, url(form), url(form, "preview"), url(form, "submissions")):
        response = client.get(target)
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")


def test_another_merchants_form_is_a_404_on_every_page(operator_client, make_form, other_merchant):
    theirs = make_form(owner=other_merchant, name="Secret")
    for action in ("", "edit", "preview", "archive", "submissions"):
        assert operator_client.get(url(theirs, action)).status_code == 404
    for action in ("edit", "preview", "archive"):
        assert operator_client.post(url(theirs, action), {"name": "x"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Form.Status.ACTIVE and theirs.name == "Secret"


def test_an_unknown_form_is_a_404(operator_client):
    assert operator_client.get("/app/forms/fm_doesnotexist/").status_code == 404


def test_a_viewer_can_read_but_every_change_is_refused(viewer_client, make_form):
    form = make_form(name="Registration")
    answer(form, {"company": "Acme", "terms": True})

    listing = viewer_client.get(LIST_URL).content.decode()
    assert "Registration" in listing
    assert "New form" not in listing and ">Edit<" not in listing
    detail = viewer_client.get(url(form)).content.decode()
    assert "Archive" not in detail and url(form, "edit") not in detail
    assert viewer_client.get(url(form, "preview")).status_code == 200
    assert viewer_client.get(url(form, "submissions")).status_code == 200
    # The dry run stores nothing, so a viewer may try answers too.
    assert viewer_client.post(url(form, "preview"), {"lang": "en"}).status_code == 422

    assert viewer_client.get(NEW_URL).status_code == 403
    assert post_definition(viewer_client, NEW_JSON_URL, SIMPLE_FIELDS).status_code == 403
    assert viewer_client.get(url(form, "edit")).status_code == 403
    assert post_definition(viewer_client, url(form, "edit/json"), SIMPLE_FIELDS).status_code == 403
    assert viewer_client.post(url(form, "archive")).status_code == 403

    assert Form.objects.count() == 1
    form.refresh_from_db()
    assert form.status == Form.Status.ACTIVE and form.current_version.number == 1


# --- List -----------------------------------------------------------------------------------


def test_the_list_shows_name_status_version_and_submission_count(
    operator_client, make_form, other_merchant
):
    gala = make_form(name="Gala")
    answer(gala, {"company": "Acme", "terms": True})
    answer(gala, {"company": "Bolt", "terms": True})
    old = make_form(name="Old survey")
    services.form_archive(form=old)
    make_form(owner=other_merchant, name="Not yours")

    html = operator_client.get(LIST_URL).content.decode()

    assert "Gala" in html and "Old survey" in html and "Not yours" not in html
    assert 'data-status="archived"' in html
    assert ">2<span" in html  # Gala's two submissions, linked to their table
    assert "locked" in html  # Gala's version 1 is in use


def test_the_list_can_show_only_archived_forms(operator_client, make_form):
    make_form(name="Current one")
    services.form_archive(form=make_form(name="Old one"))
    html = operator_client.get(LIST_URL, {"status": "archived"}).content.decode()
    assert "Old one" in html and "Current one" not in html


def test_the_list_costs_the_same_queries_for_one_form_or_many(operator_client, make_form):
    answer(make_form(name="First"), {"company": "Acme", "terms": True})
    operator_client.get(LIST_URL)
    with CaptureQueriesContext(connection) as small:
        assert operator_client.get(LIST_URL).status_code == 200

    for index in range(8):
        form = make_form(name=f"Form {index}")
        answer(form, {"company": "Acme", "terms": True})
        answer(form, {"company": "Bolt", "terms": True})
    with CaptureQueriesContext(connection) as big:
        assert operator_client.get(LIST_URL).status_code == 200

    assert len(big) == len(small)


# --- Create ---------------------------------------------------------------------------------


def test_an_operator_creates_a_form_from_json(operator_client, merchant):
    form_page = operator_client.get(NEW_JSON_URL).content.decode()
    assert '<label class="form-label" for="id_fields_json">Fields (JSON)</label>' in form_page
    assert "single_choice" in form_page  # the documented example

    response = post_definition(operator_client, NEW_JSON_URL, SIMPLE_FIELDS, name="Gala")

    form = Form.objects.get(merchant=merchant)
    assert response.status_code == 302
    assert response.url == url(form)
    assert form.name == "Gala"
    assert form.current_version.number == 1
    assert [field["key"] for field in form.current_version.fields] == [
        "company",
        "email",
        "terms",
    ]
    detail = operator_client.get(response.url).content.decode()
    assert "created as version 1" in detail
    # The field list speaks the operator's language; the change history below it shows the
    # stored definition as it is, both languages included.
    fields = detail.split('data-testid="history"')[0]
    assert "Société" not in fields and "Company" in fields


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"key": "company", "type": "text",', "Invalid JSON at line 1"),
        ("", "Enter the fields as a JSON list"),
        ('[{"key": "a", "key": "b", "type": "text"}]', "the name “key” appears twice"),
        ("[" * 10_000 + "]" * 10_000, "levels deep"),
        ("[" * 40 + "]" * 40, "levels deep"),
    ],
)
def test_text_that_is_not_json_is_refused_next_to_the_textarea(operator_client, text, message):
    response = post_definition(operator_client, NEW_JSON_URL, text)

    html = response.content.decode()
    assert response.status_code == 422
    assert message in html
    assert 'id="id_fields_json-error" role="alert"' in html
    assert Form.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ([text_field("company"), text_field("company")], "fields[1].key"),
        ([{"key": "size", "type": "rainbow", "label": label("Size")}], "fields[0].type"),
        ([text_field("company", regex="(a+)+")], "fields[0].regex"),
        ({"key": "company"}, "fields"),
        ([], "fields"),
    ],
)
def test_an_invalid_definition_is_refused_with_the_path_and_nothing_is_saved(
    operator_client, fields, path
):
    response = post_definition(operator_client, NEW_JSON_URL, fields)

    html = response.content.decode()
    assert response.status_code == 422
    assert f"{path}: " in html
    assert 'id="id_fields_json-error" role="alert"' in html
    assert Form.objects.count() == 0 and FormVersion.objects.count() == 0
    # What the operator typed is kept, so they can fix it.
    assert "&quot;key&quot;" in html or fields == []


def test_duplicate_keys_name_the_second_field(operator_client):
    response = post_definition(operator_client, NEW_JSON_URL, [text_field("a"), text_field("a")])
    assert "fields[1].key: The key &#x27;a&#x27; is used by another field" in (
        response.content.decode()
    )


def test_the_json_editor_lists_every_problem_at_once(operator_client):
    fields = [text_field("Bad"), text_field("ok", regex="(a+)+"), text_field("ok")]
    response = post_definition(operator_client, NEW_JSON_URL, fields, name=" ")
    html = response.content.decode()
    assert response.status_code == 422
    for path in ("fields[0].key: ", "fields[1].regex: ", "fields[2].key: "):
        assert f"<li>{path}" in html
    assert 'id="id_name-error"' in html
    assert Form.objects.count() == 0


def test_a_missing_name_is_shown_next_to_the_name(operator_client):
    response = post_definition(operator_client, NEW_JSON_URL, SIMPLE_FIELDS, name="  ")
    html = response.content.decode()
    assert response.status_code == 422
    assert 'id="id_name-error" role="alert">A form needs a name.' in html
    assert Form.objects.count() == 0


# --- Edit -----------------------------------------------------------------------------------


def test_editing_an_unused_version_rewrites_it_in_place(operator_client, make_form):
    form = make_form(SIMPLE_FIELDS, name="Gala")
    page = operator_client.get(url(form, "edit/json")).content.decode()
    assert "Version 1 is not used yet: saving rewrites it in place." in page
    assert "&quot;company&quot;" in page  # the current fields, ready to edit

    response = post_definition(
        operator_client, url(form, "edit/json"), [*SIMPLE_FIELDS, text_field("city")], name="Gala 2"
    )

    assert response.status_code == 302
    form.refresh_from_db()
    assert form.name == "Gala 2"
    assert form.current_version.number == 1
    assert FormVersion.objects.filter(form=form).count() == 1
    assert len(form.current_version.fields) == 4


def test_editing_a_locked_version_warns_then_creates_version_2(operator_client, make_form):
    form = make_form(SIMPLE_FIELDS, name="Gala")
    answer(form, {"company": "Acme", "email": "a@example.com", "terms": True})

    page = operator_client.get(url(form, "edit/json")).content.decode()
    assert "Version 1 is locked" in page
    assert "will create <strong>version 2</strong>" in page

    response = post_definition(
        operator_client, url(form, "edit/json"), [*SIMPLE_FIELDS, text_field("city")], name="Gala"
    )

    assert response.status_code == 302
    form.refresh_from_db()
    assert form.current_version.number == 2
    assert not form.current_version.is_locked
    assert len(FormVersion.objects.get(form=form, number=1).fields) == 3
    detail = operator_client.get(url(form)).content.decode()
    assert "Saved as version 2" in detail


def test_an_invalid_edit_changes_nothing(operator_client, make_form):
    form = make_form(SIMPLE_FIELDS, name="Gala")
    response = post_definition(
        operator_client, url(form, "edit/json"), [text_field("a"), text_field("a")], name="Renamed"
    )
    assert response.status_code == 422
    assert "fields[1].key: " in response.content.decode()
    form.refresh_from_db()
    assert form.name == "Gala"
    assert [field["key"] for field in form.current_version.fields] == [
        "company",
        "email",
        "terms",
    ]


def test_an_archived_form_cannot_be_edited(operator_client, make_form):
    form = make_form(SIMPLE_FIELDS, name="Gala")
    services.form_archive(form=form)
    assert operator_client.get(url(form, "edit")).url == url(form)
    response = post_definition(operator_client, url(form, "edit/json"), [text_field("city")])
    assert response.status_code == 302
    assert "archived" in operator_client.get(response.url).content.decode()
    form.refresh_from_db()
    assert len(form.current_version.fields) == 3


# --- Preview --------------------------------------------------------------------------------


def test_the_preview_renders_labelled_inputs_in_french_and_english(operator_client, make_form):
    form = make_form()  # one field of every type

    french = operator_client.get(url(form, "preview"), {"lang": "fr"}).content.decode()
    english = operator_client.get(url(form, "preview"), {"lang": "en"}).content.decode()

    assert '<label class="form-label" for="sf-company">Société' in french
    assert 'id="sf-company-help">Comme sur votre facture' in french
    assert 'aria-describedby="sf-company-help"' in french
    assert '<legend class="form-label fs-6 mb-1">Taille' in french
    assert '<label class="form-check-label" for="sf-terms">J&#x27;accepte les conditions' in french
    assert "Les champs marqués * sont obligatoires." in french
    assert 'maxlength="50" minlength="2" required aria-describedby="sf-company-help"' in french
    assert '<label class="form-label" for="sf-company">Company' in english
    assert 'type="email"' in english and 'type="date"' in english


def test_checking_answers_in_the_preview_shows_the_message_and_stores_nothing(
    operator_client, make_form
):
    form = make_form(SIMPLE_FIELDS)

    response = operator_client.post(
        url(form, "preview"),
        {"lang": "fr", "company": "Acme", "email": "not-an-email", "terms": "on"},
    )

    html = response.content.decode()
    assert response.status_code == 422
    assert 'id="sf-email-error" role="alert">« E-mail » : saisissez une adresse e-mail valide.' in (
        html
    )
    assert 'value="Acme"' in html  # what was typed stays
    assert Submission.objects.count() == 0
    form.current_version.refresh_from_db()
    assert not form.current_version.is_locked


def test_valid_answers_in_the_preview_are_accepted_without_being_stored(operator_client, make_form):
    form = make_form(SIMPLE_FIELDS)
    response = operator_client.post(
        url(form, "preview"),
        {"lang": "en", "company": "Acme", "email": "a@example.com", "terms": "on"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "These answers would be accepted. Nothing was saved." in html
    assert Submission.objects.count() == 0
    form.current_version.refresh_from_db()
    assert not form.current_version.is_locked


def test_the_preview_of_an_archived_form_says_it_takes_no_answers(operator_client, make_form):
    form = make_form(SIMPLE_FIELDS)
    services.form_archive(form=form)
    assert operator_client.get(url(form, "preview")).status_code == 200
    response = operator_client.post(url(form, "preview"), {"lang": "en"})
    assert "archived and no longer accepts answers" in response.content.decode()


# --- Archive --------------------------------------------------------------------------------


def test_archiving_asks_for_confirmation_then_archives(operator_client, make_form):
    form = make_form(SIMPLE_FIELDS, name="Gala")

    confirm = operator_client.get(url(form, "archive")).content.decode()
    assert "Archive “Gala”?" in confirm and 'method="post"' in confirm
    form.refresh_from_db()
    assert form.status == Form.Status.ACTIVE  # a GET changes nothing

    response = operator_client.post(url(form, "archive"))

    assert response.status_code == 302
    form.refresh_from_db()
    assert form.status == Form.Status.ARCHIVED
    detail = operator_client.get(url(form)).content.decode()
    assert "archived" in detail and url(form, "edit") not in detail
    # Repeating it is harmless.
    assert operator_client.post(url(form, "archive")).status_code == 302


# --- Submissions ----------------------------------------------------------------------------


def test_submissions_show_answers_per_version_and_date(
    operator_client, make_form, merchant, other_merchant
):
    form = make_form(SIMPLE_FIELDS, name="Gala")
    answer(form, {"company": "Acme", "email": "a@example.com", "terms": True})
    services.form_update(form=form, fields=[*SIMPLE_FIELDS, text_field("city")])
    form.refresh_from_db()
    answer(
        form,
        {"company": "Bolt", "email": "b@example.com", "terms": True, "city": "Lyon"},
        language="en",
    )
    theirs = make_form(SIMPLE_FIELDS, owner=other_merchant)
    answer(theirs, {"company": "Secret Corp", "email": "s@example.com", "terms": True})

    response = operator_client.get(url(form, "submissions"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Acme" in html and "Bolt" in html and "Lyon" in html
    assert "Secret Corp" not in html
    assert "<td>v1</td>" in html and "<td>v2</td>" in html
    assert '<th scope="col">City</th>' in html
    assert "Not asked in this version" in html  # version 1 had no city
    assert "Yes" in html and "a@example.com" in html


def test_the_submission_table_costs_the_same_queries_for_one_answer_or_many(
    operator_client, make_form
):
    form = make_form(SIMPLE_FIELDS, name="Gala")
    answer(form, {"company": "Acme", "email": "a@example.com", "terms": True})
    operator_client.get(url(form, "submissions"))
    with CaptureQueriesContext(connection) as small:
        assert operator_client.get(url(form, "submissions")).status_code == 200

    services.form_update(form=form, fields=[*SIMPLE_FIELDS, text_field("city")])
    form.refresh_from_db()
    for index in range(10):
        answer(form, {"company": f"C{index}", "email": "b@example.com", "terms": True})
    with CaptureQueriesContext(connection) as big:
        assert operator_client.get(url(form, "submissions")).status_code == 200

    assert len(big) == len(small)
