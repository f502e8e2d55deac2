"""Previews with sample or given values, and another merchant's templates staying invisible."""

import pytest

from .helpers import URL, email_body, error_of, sms_body


@pytest.mark.django_db
def test_an_email_preview_renders_subject_text_and_html_in_both_languages(api, merchant):
    created = api.post(URL, email_body(), format="json").json()

    response = api.post(f"{URL}/{created['id']}/preview")

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["id"] == created["id"] and data["channel"] == "email"
    french, english = data["previews"]["fr"], data["previews"]["en"]
    assert french["subject"] == "Demande INV-2026-0042"
    assert english["text"].startswith("Hello Camille Martin,\nPay €120.00: http://")
    assert english["html"] == "<p>Hello Camille Martin</p>"
    assert english["sms"] is None


@pytest.mark.django_db
def test_an_sms_preview_counts_characters_and_segments(api):
    created = api.post(
        URL, sms_body(body_text={"fr": "Payez {{ amount_due }} : {{ pay_url }}"}), format="json"
    ).json()

    response = api.post(
        f"{URL}/{created['id']}/preview",
        {"amount_due": 1050, "currency": "EUR", "pay_url": "https://x.test/p", "language": "fr"},
        format="json",
    )

    assert response.status_code == 200, response.content
    preview = response.json()["previews"]
    assert list(preview) == ["fr"]
    # The no-break space babel puts in "10,50 €" becomes a plain space: it is not GSM-7.
    assert preview["fr"]["text"] == "Payez 10,50 € : https://x.test/p"
    assert preview["fr"]["sms"] == {"characters": 33, "segments": 1, "encoding": "GSM-7"}


@pytest.mark.django_db
def test_a_preview_uses_the_values_given_and_formats_them_per_language(api):
    body = email_body(
        body_text={
            "fr": "{{ payer.name }} {{ amount_due }} {{ deadline }}"
            "{% for item in schedule %} | {{ item.due_date }} {{ item.amount }}{% endfor %}",
            "en": "{{ payer.name }} {{ amount_due }} {{ deadline }}",
        }
    )
    created = api.post(URL, body, format="json").json()

    response = api.post(
        f"{URL}/{created['id']}/preview",
        {
            "payer": {"name": "Léa"},
            "amount_due": 2000,
            "currency": "JPY",
            "deadline": "2026-03-14T17:30:00Z",
            "schedule": [{"due_date": "2026-04-01", "amount": 1000}],
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    previews = response.json()["previews"]
    assert previews["fr"]["text"].replace("\xa0", " ").replace("\u202f", " ") == (
        "Léa 2 000 JPY 14 mars 2026 à 18:30 | 1 avril 2026 1 000 JPY"
    )
    assert previews["en"]["text"].replace("\u202f", " ") == "Léa ¥2,000 March 14, 2026 at 6:30 PM"


@pytest.mark.django_db
def test_a_preview_refuses_unknown_sample_fields_and_currencies(api):
    created = api.post(URL, sms_body(), format="json").json()

    unknown = api.post(f"{URL}/{created['id']}/preview", {"iban": "FR76"}, format="json")
    nested = api.post(f"{URL}/{created['id']}/preview", {"payer": {"iban": "FR76"}}, format="json")
    currency = api.post(f"{URL}/{created['id']}/preview", {"currency": "XXX"}, format="json")

    assert unknown.status_code == 400 and error_of(unknown)["field"] == "iban"
    assert nested.status_code == 400 and error_of(nested)["field"] == "payer.iban"
    assert currency.status_code == 422 and error_of(currency)["code"] == "unknown_currency"


@pytest.mark.django_db
def test_another_merchants_template_is_not_found(api, other_api):
    created = api.post(URL, email_body(), format="json").json()
    detail = f"{URL}/{created['id']}"

    responses = [
        other_api.get(detail),
        other_api.patch(detail, {"name": "Mine now"}, format="json"),
        other_api.post(f"{detail}/preview", {}, format="json"),
    ]

    for response in responses:
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
    assert other_api.get(URL).json()["results"] == []
    assert api.get(detail).json()["name"] == "Welcome"


@pytest.mark.django_db
def test_an_unknown_template_id_is_not_found(api):
    assert api.get(f"{URL}/tp_doesnotexist").status_code == 404


@pytest.mark.django_db
def test_the_api_needs_a_key(client):
    assert client.get(URL).status_code == 401


@pytest.mark.django_db
def test_the_templates_appear_in_the_openapi_schema(api):
    response = api.get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/templates"])
    assert {"get", "patch"} <= set(paths["/api/v1/templates/{public_id}"])
    assert "post" in paths["/api/v1/templates/{public_id}/preview"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "values",
    [
        {"amount_due": 10**400},
        {"amount_due": 10**15 + 1},
        {"schedule": [{"due_date": "2030-01-01", "amount": 10**400}]},
    ],
)
def test_a_preview_with_an_absurd_amount_is_refused_not_a_server_error(api, values):
    created = api.post(URL, sms_body(), format="json").json()

    response = api.post(f"{URL}/{created['id']}/preview", values, format="json")

    assert response.status_code == 422, response.content
    assert error_of(response)["code"] == "amount_too_large"
