"""Checking a definition finds every problem at once, each at its path, in checking order; the
API keeps answering with the first one alone, exactly as before."""

import pytest

from pushpay.errors import InvalidFields
from smartforms import services
from smartforms.definition import fields_check, fields_validate
from smartforms.models import Form

from .builders import choices, label, text_field

BROKEN = [
    {"key": "Bad", "type": "text", "label": label("A"), "regex": "(unclosed", "max_length": 0},
    {"key": "size", "type": "single_choice", "choices": [*choices("s", "s"), {"value": "m"}]},
    {"key": "guests", "type": "number", "label": label("G"), "min": 5, "max": 1, "colour": "x"},
    {"key": "size", "type": "consent", "label": label("T"), "required": "yes"},
    {"type": "date", "label": label("D"), "min": "2030-02-30"},
    {"key": "meals", "type": "multiple_choice", "label": label("M"), "max_selections": 9},
]
EXPECTED = [
    ("invalid_key", "fields[0].key"),
    ("invalid_regex", "fields[0].regex"),
    ("option_out_of_range", "fields[0].max_length"),
    ("label_required", "fields[1].label"),
    ("duplicate_choice", "fields[1].choices[1].value"),
    ("label_required", "fields[1].choices[2].label"),
    ("unknown_option", "fields[2].colour"),
    ("min_above_max", "fields[2].min"),
    ("invalid_option", "fields[3].required"),
    ("duplicate_key", "fields[3].key"),
    ("required", "fields[4].key"),
    ("invalid_option", "fields[4].min"),
    ("choices_required", "fields[5].choices"),
]


def test_every_problem_is_found_at_once_with_its_path_in_checking_order():
    cleaned, problems = fields_check(BROKEN)
    assert [(p.code, p.field) for p in problems] == EXPECTED
    assert cleaned == []


def test_the_right_fields_of_a_draft_are_kept_for_the_preview():
    cleaned, problems = fields_check([text_field("a"), text_field("B"), text_field("c")])
    assert [field["key"] for field in cleaned] == ["a", "c"]
    assert [(p.code, p.field) for p in problems] == [("invalid_key", "fields[1].key")]


def test_validate_refuses_them_all_with_the_first_as_its_own_code_and_field():
    with pytest.raises(InvalidFields) as refused:
        fields_validate(BROKEN)
    assert (refused.value.code, refused.value.field) == EXPECTED[0]
    assert len(refused.value.refusals) == len(EXPECTED)


@pytest.mark.django_db
def test_a_missing_name_comes_first_then_every_field_problem(merchant):
    with pytest.raises(InvalidFields) as refused:
        services.form_create(merchant=merchant, name=" ", fields=BROKEN)
    assert (refused.value.refusals[0].code, refused.value.refusals[0].field) == (
        "required",
        "name",
    )
    assert [(p.code, p.field) for p in refused.value.refusals[1:]] == EXPECTED
    assert not Form.objects.exists()


@pytest.mark.django_db
def test_the_api_still_answers_with_the_first_problem_only(api):
    response = api.post("/api/v1/forms", {"name": "Gala", "fields": BROKEN}, format="json")
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == EXPECTED[0]
    assert "lowercase letters" in error["message"]
    assert not Form.objects.exists()
