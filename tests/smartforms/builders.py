"""Field definitions shared by the smart form tests."""


def label(en: str, fr: str | None = None) -> dict:
    return {"en": en, "fr": fr} if fr else {"en": en}


def text_field(key: str = "company", **options) -> dict:
    return {"key": key, "type": "text", "label": label(key.title()), **options}


def choices(*values: str) -> list[dict]:
    return [{"value": value, "label": label(value.title())} for value in values]


def every_type_fields() -> list[dict]:
    """One field of each type, the shape a real questionnaire would have."""
    return [
        {
            "key": "company",
            "type": "text",
            "label": label("Company", "Société"),
            "help_text": label("As on your invoice", "Comme sur votre facture"),
            "required": True,
            "min_length": 2,
            "max_length": 50,
        },
        {"key": "email", "type": "email", "label": label("Email", "E-mail")},
        {"key": "phone", "type": "phone", "label": label("Phone", "Téléphone")},
        {
            "key": "guests",
            "type": "number",
            "label": label("Guests", "Invités"),
            "min": 1,
            "max": 10,
            "decimal_places": 0,
        },
        {
            "key": "arrival",
            "type": "date",
            "label": label("Arrival", "Arrivée"),
            "min": "2030-01-01",
            "max": "2030-12-31",
        },
        {
            "key": "size",
            "type": "single_choice",
            "label": label("T-shirt size", "Taille"),
            "choices": choices("s", "m", "l"),
        },
        {
            "key": "meals",
            "type": "multiple_choice",
            "label": label("Meals", "Repas"),
            "choices": choices("breakfast", "lunch", "dinner"),
            "max_selections": 2,
        },
        {
            "key": "terms",
            "type": "consent",
            "label": label("I accept the terms", "J'accepte les conditions"),
            "required": True,
        },
    ]
