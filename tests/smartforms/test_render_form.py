"""Rendering a version for the payer page and the back-office preview."""

from smartforms.rendering import form_version_render

from .builders import choices, label


def render(form, language="fr", **kwargs) -> dict:
    fields = form_version_render(form_version=form.current_version, language=language, **kwargs)
    return {field["key"]: field for field in fields}


def test_labels_and_help_come_in_the_payers_language_with_accessible_ids(make_form):
    fields = render(make_form(), "fr")

    company = fields["company"]
    assert company["label"] == "Société"
    assert company["help_text"] == "Comme sur votre facture"
    assert company["id"] == "sf-company"
    assert company["attrs"]["aria-describedby"] == "sf-company-help"
    assert company["attrs"]["required"] is True
    assert (company["attrs"]["minlength"], company["attrs"]["maxlength"]) == (2, 50)
    assert render(make_form(), "en")["company"]["label"] == "Company"


def test_each_type_gets_its_input_type_and_constraints(make_form):
    fields = render(make_form(), "en")

    assert [fields[k]["input_type"] for k in fields] == [
        "text",
        "email",
        "tel",
        "number",
        "date",
        "radio",
        "checkbox",
        "checkbox",
    ]
    assert fields["guests"]["attrs"] == {"min": 1, "max": 10, "step": "1", "inputmode": "numeric"}
    assert fields["arrival"]["attrs"] == {"min": "2030-01-01", "max": "2030-12-31"}
    assert fields["phone"]["attrs"]["autocomplete"] == "tel"
    assert fields["meals"]["widget"] == "checkboxes"
    assert [c["id"] for c in fields["size"]["choices"]] == ["sf-size-0", "sf-size-1", "sf-size-2"]
    assert fields["terms"]["attrs"]["required"] is True


def test_a_missing_translation_falls_back_to_the_other_language(make_form):
    form = make_form(
        [
            {
                "key": "size",
                "type": "single_choice",
                "label": {"fr": "Taille"},
                "choices": [{"value": "s", "label": {"en": "Small"}}],
            }
        ]
    )
    size = render(form, "en")["size"]
    assert size["label"] == "Taille"
    assert size["choices"][0]["label"] == "Small"


def test_previous_answers_and_errors_are_shown_again(make_form):
    fields = render(
        make_form(),
        "en",
        answers={"company": "Ac", "meals": ["lunch"], "size": "m", "terms": "on"},
        errors={"company": "“Company” is not in the expected format."},
    )

    company = fields["company"]
    assert company["value"] == "Ac"
    assert company["error"].startswith("“Company”")
    assert company["attrs"]["aria-invalid"] == "true"
    assert company["attrs"]["aria-describedby"] == "sf-company-help sf-company-error"
    assert [c["checked"] for c in fields["meals"]["choices"]] == [False, True, False]
    assert [c["checked"] for c in fields["size"]["choices"]] == [False, True, False]
    assert fields["terms"]["value"] is True
    assert fields["email"]["value"] == ""


def test_a_text_pattern_is_passed_to_the_browser(make_form):
    form = make_form([{"key": "code", "type": "text", "label": label("Code"), "regex": "[A-Z]{3}"}])
    assert render(form)["code"]["attrs"] == {"maxlength": 200, "pattern": "[A-Z]{3}"}


def test_a_required_checkbox_group_is_not_marked_required_in_html(make_form):
    form = make_form(
        [
            {
                "key": "days",
                "type": "multiple_choice",
                "label": label("Days"),
                "required": True,
                "choices": choices("mon", "tue"),
            }
        ]
    )
    days = render(form)["days"]
    assert days["required"] is True and "required" not in days["attrs"]


def test_a_number_steps_by_its_decimal_places(make_form):
    form = make_form(
        [
            {"key": "price", "type": "number", "label": label("Price"), "decimal_places": 2},
            {"key": "ratio", "type": "number", "label": label("Ratio")},
        ]
    )
    fields = render(form)
    assert fields["price"]["attrs"] == {"step": "0.01", "inputmode": "decimal"}
    assert fields["ratio"]["attrs"]["step"] == "any"
