"""Checking a payer's answers against a version: each type's valid and invalid answers."""

import pytest

from pushpay.errors import InvalidInput
from smartforms import services

from .builders import choices, label, text_field

VALID = {
    "company": "Acme",
    "terms": True,
}


@pytest.fixture
def form(make_form):
    return make_form()


def clean(form, answers, language="en"):
    return services.submission_validate(
        form_version=form.current_version, answers=answers, language=language
    )


def refused(form, answers, language="en") -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        clean(form, answers, language)
    return caught.value


def test_a_minimal_valid_answer_set_fills_every_key_with_an_empty_value(form):
    assert clean(form, VALID) == {
        "company": "Acme",
        "email": None,
        "phone": None,
        "guests": None,
        "arrival": None,
        "size": None,
        "meals": [],
        "terms": True,
    }


def test_a_complete_answer_set_is_cleaned(form):
    answers = {
        **VALID,
        "company": "  Acme  ",
        "email": "ann@example.com",
        "phone": "+33 6 12 34 56 78",
        "guests": "3",
        "arrival": "2030-06-01",
        "size": "m",
        "meals": ["dinner", "breakfast"],
        "terms": "on",
    }
    assert clean(form, answers) == {
        "company": "Acme",
        "email": "ann@example.com",
        "phone": "+33612345678",
        "guests": 3,
        "arrival": "2030-06-01",
        "size": "m",
        "meals": ["breakfast", "dinner"],  # definition order, whatever the order sent
        "terms": True,
    }


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        pytest.param("company", "", "required", id="text-required"),
        pytest.param("company", "A", "too_short", id="text-too-short"),
        pytest.param("company", "A" * 51, "too_long", id="text-too-long"),
        pytest.param("company", 42, "invalid_text", id="text-not-a-string"),
        pytest.param("email", "ann@", "invalid_email", id="email"),
        pytest.param("email", ["ann@example.com"], "invalid_email", id="email-not-a-string"),
        pytest.param("phone", "0612345678", "invalid_phone", id="phone-not-e164"),
        pytest.param("phone", "+3361234", "invalid_phone", id="phone-impossible"),
        pytest.param("phone", "+33abc", "invalid_phone", id="phone-garbage"),
        pytest.param("guests", "three", "invalid_number", id="number-words"),
        pytest.param("guests", True, "invalid_number", id="number-boolean"),
        pytest.param("guests", "NaN", "invalid_number", id="number-nan"),
        pytest.param("guests", 0, "below_min", id="number-below-min"),
        pytest.param("guests", 11, "above_max", id="number-above-max"),
        pytest.param("guests", 2.5, "too_many_decimals", id="number-decimals"),
        pytest.param("arrival", "2030-02-30", "invalid_date", id="date-impossible"),
        pytest.param("arrival", "01/06/2030", "invalid_date", id="date-not-iso"),
        pytest.param("arrival", "20300601", "invalid_date", id="date-compact"),
        pytest.param("arrival", "2029-12-31", "date_before_min", id="date-before-min"),
        pytest.param("arrival", "2031-01-01", "date_after_max", id="date-after-max"),
        pytest.param("size", "xl", "invalid_choice", id="single-unknown-value"),
        pytest.param("size", ["m"], "invalid_choice", id="single-given-a-list"),
        pytest.param("meals", "lunch", "invalid_selection", id="multiple-not-a-list"),
        pytest.param("meals", ["tea"], "invalid_choice", id="multiple-unknown-value"),
        pytest.param("meals", ["lunch", "lunch"], "duplicate_selection", id="multiple-twice"),
        pytest.param(
            "meals", ["lunch", "dinner", "breakfast"], "too_many_selections", id="multiple-max"
        ),
        pytest.param("terms", False, "consent_required", id="consent-unticked"),
        pytest.param("terms", None, "consent_required", id="consent-missing"),
        pytest.param("terms", "false", "consent_required", id="consent-false-string"),
        pytest.param("terms", "maybe", "invalid_consent", id="consent-garbage"),
    ],
)
def test_it_refuses_a_wrong_answer_naming_the_answer(form, key, value, code):
    error = refused(form, {**VALID, key: value})

    assert (error.field, error.code) == (f"answers.{key}", code)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("guests", 10, 10),
        ("guests", "1", 1),
        ("arrival", "2030-01-01", "2030-01-01"),
        ("arrival", "2030-12-31", "2030-12-31"),
        ("meals", ["lunch", "dinner"], ["lunch", "dinner"]),
        ("meals", [], []),
        ("size", "s", "s"),
    ],
)
def test_it_accepts_answers_on_the_boundaries(form, key, value, expected):
    assert clean(form, {**VALID, key: value})[key] == expected


def test_it_refuses_answers_to_questions_the_form_does_not_ask(form):
    error = refused(form, {**VALID, "shoe_size": "42"})
    assert (error.field, error.code) == ("answers.shoe_size", "unknown_answer")


def test_it_refuses_answers_that_are_not_an_object(form):
    error = refused(form, ["Acme"])
    assert (error.field, error.code) == ("answers", "invalid_answers")


def test_messages_follow_the_payers_language_and_name_the_field(form):
    english = refused(form, {**VALID, "email": "nope"}, "en")
    french = refused(form, {**VALID, "email": "nope"}, "fr")

    assert english.message == "“Email”: enter a valid email address."
    assert french.message == "« E-mail » : saisissez une adresse e-mail valide."


def test_a_label_given_in_one_language_is_used_for_the_other(make_form):
    form = make_form([text_field("ref", label={"fr": "Référence"}, required=True)])
    assert refused(form, {}, "en").message == "“Référence” is required."


def test_an_unknown_language_falls_back_to_english(form):
    assert refused(form, {"terms": True}, "de").message == "“Company” is required."


def test_french_decimal_commas_are_understood(make_form):
    form = make_form([{"key": "w", "type": "number", "label": label("Weight"), "max": 99.5}])
    assert clean(form, {"w": "12,5"}) == {"w": 12.5}
    assert (
        refused(form, {"w": "99,6"}, "fr").message
        == "« Weight » doit être inférieur ou égal à 99,5."
    )


def test_numbers_without_decimal_places_accept_decimals(make_form):
    form = make_form([{"key": "w", "type": "number", "label": label("W")}])
    assert clean(form, {"w": 0.125}) == {"w": 0.125}
    assert clean(form, {"w": "-4"}) == {"w": -4}


def test_regex_must_match_the_whole_answer(make_form):
    form = make_form([text_field("code", regex=r"[A-Z]{3}-\d{2}")])
    assert clean(form, {"code": "ABC-12"}) == {"code": "ABC-12"}
    assert refused(form, {"code": "ABC-123"}).code == "pattern_mismatch"
    assert refused(form, {"code": "xABC-12"}).code == "pattern_mismatch"


def test_regex_is_never_run_on_long_input(make_form):
    # A polynomial pattern the nesting check lets through; a long answer would stall it.
    form = make_form([text_field("slow", regex=r"a*a*a*b")])
    error = refused(form, {"slow": "a" * 5000})
    assert error.code == "too_long"


def test_an_optional_consent_may_be_left_unticked(make_form):
    form = make_form([{"key": "news", "type": "consent", "label": label("Newsletter")}])
    assert clean(form, {}) == {"news": False}
    assert clean(form, {"news": "false"}) == {"news": False}
    assert clean(form, {"news": True}) == {"news": True}


def test_a_required_multiple_choice_needs_one_selection_and_honours_min(make_form):
    form = make_form(
        [
            {
                "key": "days",
                "type": "multiple_choice",
                "label": label("Days"),
                "required": True,
                "choices": choices("mon", "tue", "wed"),
                "min_selections": 2,
            }
        ]
    )
    assert refused(form, {"days": []}).code == "required"
    assert refused(form, {"days": ["mon"]}).code == "too_few_selections"
    assert clean(form, {"days": ["wed", "mon"]}) == {"days": ["mon", "wed"]}


def test_every_wrong_answer_is_listed_with_its_message_while_validate_keeps_the_first(form):
    answers = {"company": "", "email": "not an email", "guests": "many", "bogus": 1}

    errors = services.submission_errors(
        form_version=form.current_version, answers=answers, language="fr"
    )

    assert set(errors) == {"bogus", "company", "email", "guests", "terms"}
    assert all(isinstance(message, str) and message for message in errors.values())
    first = refused(form, answers, "fr")
    assert (first.field, first.message) == ("answers.bogus", errors["bogus"])


def test_right_answers_have_no_errors(form):
    assert (
        services.submission_errors(form_version=form.current_version, answers=VALID, language="en")
        == {}
    )
