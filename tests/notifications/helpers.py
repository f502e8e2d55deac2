"""Request bodies shared by the template tests."""

URL = "/api/v1/templates"


def email_body(**overrides) -> dict:
    data = {
        "name": "Welcome",
        "channel": "email",
        "subject": {
            "fr": "Demande {{ request.reference }}",
            "en": "Request {{ request.reference }}",
        },
        "body_text": {
            "fr": "Bonjour {{ payer.name }},\nPayez {{ amount_due }} : {{ pay_url }}",
            "en": "Hello {{ payer.name }},\nPay {{ amount_due }}: {{ pay_url }}",
        },
        "body_html": {
            "fr": "<p>Bonjour {{ payer.name }}</p>",
            "en": "<p>Hello {{ payer.name }}</p>",
        },
    }
    data.update(overrides)
    return data


def sms_body(**overrides) -> dict:
    data = {
        "name": "Reminder SMS",
        "channel": "sms",
        "body_text": {"fr": "{{ merchant.name }} : {{ amount_due }} a regler. {{ pay_url }}"},
    }
    data.update(overrides)
    return data


def error_of(response) -> dict:
    return response.json()["error"]
