"""Creating, listing and changing templates through the API, and the refusals of shape."""

import pytest

from notifications.models import MessageTemplate

from .helpers import URL, email_body, error_of, sms_body


@pytest.mark.django_db
def test_it_creates_an_email_template_with_both_languages(api):
    response = api.post(URL, email_body(), format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["id"].startswith("tp_") and len(data["id"]) > 20
    assert data["channel"] == "email"
    assert data["subject"] == {
        "fr": "Demande {{ request.reference }}",
        "en": "Request {{ request.reference }}",
    }
    assert data["body_html"]["en"] == "<p>Hello {{ payer.name }}</p>"
    assert data["is_archived"] is False
    assert MessageTemplate.objects.get().public_id == data["id"]


@pytest.mark.django_db
def test_it_creates_an_sms_template_with_only_a_body(api):
    response = api.post(URL, sms_body(), format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["channel"] == "sms"
    assert data["subject"] is None and data["body_html"] is None
    assert data["body_text"] == {
        "fr": "{{ merchant.name }} : {{ amount_due }} a regler. {{ pay_url }}"
    }


@pytest.mark.django_db
def test_a_language_left_out_falls_back_to_the_other_one(api):
    body = email_body(
        subject={"en": "Your request {{ request.reference }}"},
        body_text={"en": "Hello {{ payer.name }}", "fr": ""},
        body_html=None,
    )
    created = api.post(URL, body, format="json").json()

    preview = api.post(f"{URL}/{created['id']}/preview", {}, format="json")

    assert preview.status_code == 200, preview.content
    french = preview.json()["previews"]["fr"]
    assert french["source_language"] == "en"
    assert french["subject"] == "Your request INV-2026-0042"
    assert french["text"] == "Hello Camille Martin"
    assert french["html"] is None


@pytest.mark.django_db
def test_a_template_needs_a_body_in_at_least_one_language(api):
    response = api.post(URL, email_body(body_text={"fr": "  ", "en": ""}), format="json")

    assert response.status_code == 422
    assert error_of(response)["code"] == "required"
    assert error_of(response)["field"] == "body_text"


@pytest.mark.django_db
def test_it_refuses_unknown_fields_in_the_body(api):
    response = api.post(URL, email_body(footer={"fr": "x"}), format="json")

    assert response.status_code == 400
    assert error_of(response)["code"] == "unknown_field"
    assert error_of(response)["field"] == "footer"
    assert not MessageTemplate.objects.exists()


@pytest.mark.django_db
def test_it_refuses_an_unknown_language(api):
    response = api.post(URL, email_body(subject={"fr": "x", "de": "y"}), format="json")

    assert response.status_code == 400
    assert error_of(response)["code"] == "unknown_field"
    assert error_of(response)["field"] == "subject.de"


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["subject", "body_html"])
def test_an_sms_template_cannot_have_a_subject_or_an_html_body(api, field):
    response = api.post(URL, sms_body(**{field: {"fr": "Bonjour"}}), format="json")

    assert response.status_code == 422
    assert error_of(response) == {
        "type": "invalid_request_error",
        "code": "not_allowed_for_sms",
        "message": f"An SMS template has no {field}; put the message in body_text.",
        "field": field,
    }
    assert not MessageTemplate.objects.exists()


@pytest.mark.django_db
def test_an_email_template_needs_a_subject(api):
    response = api.post(URL, email_body(subject=None), format="json")

    assert response.status_code == 422
    assert error_of(response)["field"] == "subject"


@pytest.mark.django_db
def test_names_are_unique_per_merchant(api, other_api):
    assert api.post(URL, email_body(), format="json").status_code == 201

    again = api.post(URL, email_body(), format="json")
    elsewhere = other_api.post(URL, email_body(), format="json")

    assert again.status_code == 409
    assert error_of(again)["code"] == "duplicate_name"
    assert elsewhere.status_code == 201


@pytest.mark.django_db
def test_a_post_replayed_with_the_same_idempotency_key_creates_one_template(api):
    headers = {"Idempotency-Key": "create-welcome-1"}
    first = api.post(URL, email_body(), format="json", headers=headers)
    second = api.post(URL, email_body(), format="json", headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert MessageTemplate.objects.count() == 1


@pytest.mark.django_db
def test_it_lists_templates_newest_first_with_a_cursor_and_filters(api):
    for index in range(3):
        api.post(URL, email_body(name=f"Email {index}"), format="json")
    api.post(URL, sms_body(), format="json")

    first_page = api.get(URL, {"limit": 2}).json()
    second_page = api.get(first_page["next"]).json()
    sms_only = api.get(URL, {"channel": "sms"}).json()

    names = [t["name"] for t in first_page["results"] + second_page["results"]]
    assert names == ["Reminder SMS", "Email 2", "Email 1", "Email 0"]
    assert [t["name"] for t in sms_only["results"]] == ["Reminder SMS"]
    assert api.get(URL, {"channel": "fax"}).status_code == 400


@pytest.mark.django_db
def test_the_list_takes_a_constant_number_of_queries(api, django_assert_max_num_queries):
    for index in range(5):
        api.post(URL, email_body(name=f"Email {index}"), format="json")

    with django_assert_max_num_queries(6):  # auth key, its merchant, throttle, page
        response = api.get(URL)

    assert len(response.json()["results"]) == 5


@pytest.mark.django_db
def test_patch_replaces_the_given_fields_and_keeps_the_others(api):
    created = api.post(URL, email_body(), format="json").json()

    response = api.patch(
        f"{URL}/{created['id']}",
        {"name": "Welcome v2", "body_text": {"en": "Hi {{ payer.name }}"}},
        format="json",
    )

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["name"] == "Welcome v2"
    assert data["body_text"] == {"en": "Hi {{ payer.name }}"}
    assert data["subject"] == created["subject"]


@pytest.mark.django_db
def test_patch_cannot_change_the_channel(api):
    created = api.post(URL, email_body(), format="json").json()

    response = api.patch(f"{URL}/{created['id']}", {"channel": "sms"}, format="json")

    assert response.status_code == 400
    assert error_of(response)["field"] == "channel"


@pytest.mark.django_db
def test_patch_archives_and_restores_a_template(api):
    created = api.post(URL, email_body(), format="json").json()

    archived = api.patch(f"{URL}/{created['id']}", {"is_archived": True}, format="json").json()
    active = api.get(URL, {"archived": "false"}).json()["results"]
    restored = api.patch(f"{URL}/{created['id']}", {"is_archived": False}, format="json").json()

    assert archived["is_archived"] is True
    assert active == []
    assert restored["is_archived"] is False
