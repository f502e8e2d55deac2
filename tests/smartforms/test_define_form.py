"""Defining a form: every malformed definition is refused whole, naming the path at fault."""

import pytest

from pushpay.errors import InvalidInput
from smartforms import services
from smartforms.models import Form, FormVersion

from .builders import choices, every_type_fields, label, text_field


def test_it_creates_a_form_with_every_field_type_as_version_one(merchant):
    form = services.form_create(merchant=merchant, name=" Gala ", fields=every_type_fields())

    assert form.public_id.startswith("fm_") and len(form.public_id) > 20
    assert form.name == "Gala"
    assert form.status == Form.Status.ACTIVE
    version = form.current_version
    assert version.number == 1 and not version.is_locked and version.locked_at is None
    assert [f["type"] for f in version.fields] == [
        "text",
        "email",
        "phone",
        "number",
        "date",
        "single_choice",
        "multiple_choice",
        "consent",
    ]


def test_it_normalises_definitions_and_drops_unset_options(merchant):
    form = services.form_create(
        merchant=merchant,
        name="F",
        fields=[{"key": "note", "type": "text", "label": {"fr": " Note ", "en": ""}}],
    )
    assert form.current_version.fields == [
        {"key": "note", "type": "text", "label": {"fr": "Note"}, "required": False}
    ]


CASES = [
    pytest.param("not a list", "fields", "invalid_fields", id="fields-not-a-list"),
    pytest.param([], "fields", "fields_required", id="no-fields"),
    pytest.param(
        [text_field(f"f{i}") for i in range(51)], "fields", "too_many_fields", id="too-many"
    ),
    pytest.param([text_field(), "oops"], "fields[1]", "invalid_field", id="field-not-object"),
    pytest.param([{"type": "text", "label": label("A")}], "fields[0].key", "required", id="no-key"),
    pytest.param([text_field("Company Name")], "fields[0].key", "invalid_key", id="bad-key"),
    pytest.param(
        [text_field("a"), text_field("b"), text_field("a")],
        "fields[2].key",
        "duplicate_key",
        id="duplicate-key",
    ),
    pytest.param(
        [{"key": "a", "type": "signature", "label": label("A")}],
        "fields[0].type",
        "unknown_type",
        id="unknown-type",
    ),
    pytest.param(
        [{"key": "a", "type": "text"}], "fields[0].label", "label_required", id="no-label"
    ),
    pytest.param(
        [{"key": "a", "type": "text", "label": {"fr": " ", "en": ""}}],
        "fields[0].label",
        "label_required",
        id="blank-label",
    ),
    pytest.param(
        [{"key": "a", "type": "text", "label": {"de": "A"}}],
        "fields[0].label.de",
        "unknown_language",
        id="label-language",
    ),
    pytest.param(
        [{"key": "a", "type": "text", "label": "A"}],
        "fields[0].label",
        "invalid_label",
        id="label-not-translated",
    ),
    pytest.param(
        [text_field("a", help_text="Help")],
        "fields[0].help_text",
        "invalid_help_text",
        id="help-not-translated",
    ),
    pytest.param(
        [text_field("a", required="yes")], "fields[0].required", "invalid_option", id="required"
    ),
    pytest.param(
        [text_field("a"), text_field("b"), text_field("c", regex="[a-z")],
        "fields[2].regex",
        "invalid_regex",
        id="regex-does-not-compile",
    ),
    pytest.param(
        [text_field("a", regex="(a+)+$")],
        "fields[0].regex",
        "regex_too_complex",
        id="regex-catastrophic",
    ),
    pytest.param(
        [text_field("a", regex="a" * 301)], "fields[0].regex", "regex_too_long", id="regex-long"
    ),
    pytest.param(
        [text_field("a", regex="[a-z]+", max_length=500)],
        "fields[0].max_length",
        "option_out_of_range",
        id="regex-with-long-input",
    ),
    pytest.param(
        [text_field("a", min_length=10, max_length=5)],
        "fields[0].min_length",
        "min_above_max",
        id="text-min-above-max",
    ),
    pytest.param(
        [text_field("a", max_length=5.5)], "fields[0].max_length", "invalid_option", id="float"
    ),
    pytest.param(
        [{"key": "n", "type": "number", "label": label("N"), "min": 10, "max": 1}],
        "fields[0].min",
        "min_above_max",
        id="number-min-above-max",
    ),
    pytest.param(
        [{"key": "n", "type": "number", "label": label("N"), "min": "1"}],
        "fields[0].min",
        "invalid_option",
        id="number-min-not-a-number",
    ),
    pytest.param(
        [
            {
                "key": "d",
                "type": "date",
                "label": label("D"),
                "min": "2030-02-01",
                "max": "2030-01-01",
            }
        ],
        "fields[0].min",
        "min_above_max",
        id="date-min-above-max",
    ),
    pytest.param(
        [{"key": "d", "type": "date", "label": label("D"), "max": "31/12/2030"}],
        "fields[0].max",
        "invalid_option",
        id="date-not-iso",
    ),
    pytest.param(
        [{"key": "c", "type": "single_choice", "label": label("C")}],
        "fields[0].choices",
        "choices_required",
        id="choice-without-choices",
    ),
    pytest.param(
        [{"key": "c", "type": "multiple_choice", "label": label("C"), "choices": []}],
        "fields[0].choices",
        "choices_required",
        id="multiple-choice-empty-choices",
    ),
    pytest.param(
        [{"key": "c", "type": "single_choice", "label": label("C"), "choices": choices("a", "a")}],
        "fields[0].choices[1].value",
        "duplicate_choice",
        id="duplicate-choice-value",
    ),
    pytest.param(
        [
            {
                "key": "c",
                "type": "single_choice",
                "label": label("C"),
                "choices": [{"value": "a"}],
            }
        ],
        "fields[0].choices[0].label",
        "label_required",
        id="choice-without-label",
    ),
    pytest.param(
        [
            {
                "key": "c",
                "type": "single_choice",
                "label": label("C"),
                "choices": choices(*[f"v{i}" for i in range(101)]),
            }
        ],
        "fields[0].choices",
        "too_many_choices",
        id="too-many-choices",
    ),
    pytest.param(
        [
            {
                "key": "c",
                "type": "multiple_choice",
                "label": label("C"),
                "choices": choices("a", "b", "c"),
                "min_selections": 3,
                "max_selections": 2,
            }
        ],
        "fields[0].min_selections",
        "min_above_max",
        id="selections-min-above-max",
    ),
    pytest.param(
        [
            {
                "key": "c",
                "type": "multiple_choice",
                "label": label("C"),
                "choices": choices("a", "b"),
                "max_selections": 3,
            }
        ],
        "fields[0].max_selections",
        "option_out_of_range",
        id="more-selections-than-choices",
    ),
    pytest.param(
        [{"key": "n", "type": "number", "label": label("N"), "regex": "\\d+"}],
        "fields[0].regex",
        "option_not_allowed",
        id="regex-on-number",
    ),
    pytest.param(
        [text_field("a", choices=choices("x"))],
        "fields[0].choices",
        "option_not_allowed",
        id="choices-on-text",
    ),
    pytest.param(
        [{"key": "t", "type": "consent", "label": label("T"), "min": 1}],
        "fields[0].min",
        "option_not_allowed",
        id="min-on-consent",
    ),
    pytest.param(
        [text_field("a", placeholder="x")],
        "fields[0].placeholder",
        "unknown_option",
        id="unknown-option",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("fields", "path", "code"), CASES)
def test_it_refuses_an_invalid_definition_naming_the_path(merchant, fields, path, code):
    with pytest.raises(InvalidInput) as caught:
        services.form_create(merchant=merchant, name="F", fields=fields)

    error = caught.value

    assert (error.field, error.code) == (path, code)
    assert error.message
    assert not Form.objects.exists() and not FormVersion.objects.exists()


def test_fifty_fields_are_still_accepted(merchant):
    form = services.form_create(
        merchant=merchant, name="F", fields=[text_field(f"f{i}") for i in range(50)]
    )
    assert len(form.current_version.fields) == 50


def test_it_refuses_a_form_without_a_name(merchant):
    with pytest.raises(InvalidInput) as caught:
        services.form_create(merchant=merchant, name="  ", fields=[text_field()])
    assert (caught.value.field, caught.value.code) == ("name", "required")


def test_an_invalid_edit_leaves_the_form_exactly_as_it_was(make_form):
    form = make_form()
    before = form.current_version.fields

    with pytest.raises(InvalidInput) as caught:
        services.form_update(form=form, name="Renamed", fields=[text_field("a", regex="(")])

    assert caught.value.field == "fields[0].regex"
    form.refresh_from_db()
    assert form.name == "Registration"
    assert form.current_version.fields == before
    assert FormVersion.objects.filter(form=form).count() == 1
