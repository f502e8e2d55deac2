"""Payer-facing messages for refused answers, in French and English.

Kept as a plain table rather than gettext catalogues: the payer's language comes from the
request or participant, not from the browser, and both the API and the payer page need the
same wording for the same code.
"""

from typing import Any

from pushpay.i18n import language_or_default, other_languages

MESSAGES: dict[str, dict[str, str]] = {
    "required": {
        "en": "“{label}” is required.",
        "fr": "« {label} » est obligatoire.",
    },
    "consent_required": {
        "en": "Please tick “{label}” to continue.",
        "fr": "Veuillez cocher « {label} » pour continuer.",
    },
    "invalid_consent": {
        "en": "“{label}” must be ticked or left unticked.",
        "fr": "« {label} » doit être coché ou non coché.",
    },
    "invalid_text": {
        "en": "“{label}” must be text.",
        "fr": "« {label} » doit être un texte.",
    },
    "too_short": {
        "en": "“{label}” needs at least {limit} characters.",
        "fr": "« {label} » doit contenir au moins {limit} caractères.",
    },
    "too_long": {
        "en": "“{label}” is limited to {limit} characters.",
        "fr": "« {label} » est limité à {limit} caractères.",
    },
    "pattern_mismatch": {
        "en": "“{label}” is not in the expected format.",
        "fr": "« {label} » n'est pas au format attendu.",
    },
    "invalid_email": {
        "en": "“{label}”: enter a valid email address.",
        "fr": "« {label} » : saisissez une adresse e-mail valide.",
    },
    "invalid_phone": {
        "en": "“{label}”: enter the number in international format, e.g. +33612345678.",
        "fr": "« {label} » : saisissez le numéro au format international, ex. +33612345678.",
    },
    "invalid_number": {
        "en": "“{label}” must be a number.",
        "fr": "« {label} » doit être un nombre.",
    },
    "too_many_decimals": {
        "en": "“{label}” allows at most {limit} decimal places.",
        "fr": "« {label} » accepte au plus {limit} décimales.",
    },
    "below_min": {
        "en": "“{label}” must be at least {limit}.",
        "fr": "« {label} » doit être supérieur ou égal à {limit}.",
    },
    "above_max": {
        "en": "“{label}” must be at most {limit}.",
        "fr": "« {label} » doit être inférieur ou égal à {limit}.",
    },
    "invalid_date": {
        "en": "“{label}”: enter a date such as 2025-12-31.",
        "fr": "« {label} » : saisissez une date comme 2025-12-31.",
    },
    "date_before_min": {
        "en": "“{label}” must be on or after {limit}.",
        "fr": "« {label} » doit être le {limit} ou après.",
    },
    "date_after_max": {
        "en": "“{label}” must be on or before {limit}.",
        "fr": "« {label} » doit être le {limit} ou avant.",
    },
    "invalid_choice": {
        "en": "“{label}”: choose one of the options offered.",
        "fr": "« {label} » : choisissez parmi les options proposées.",
    },
    "invalid_selection": {
        "en": "“{label}”: send the chosen options as a list.",
        "fr": "« {label} » : envoyez les options choisies sous forme de liste.",
    },
    "duplicate_selection": {
        "en": "“{label}”: each option can be chosen only once.",
        "fr": "« {label} » : chaque option ne peut être choisie qu'une fois.",
    },
    "too_few_selections": {
        "en": "“{label}”: choose at least {limit} options.",
        "fr": "« {label} » : choisissez au moins {limit} options.",
    },
    "too_many_selections": {
        "en": "“{label}”: choose at most {limit} options.",
        "fr": "« {label} » : choisissez au plus {limit} options.",
    },
    "unknown_answer": {
        "en": "“{key}” is not a question of this form.",
        "fr": "« {key} » ne fait pas partie de ce formulaire.",
    },
    "invalid_answers": {
        "en": "Answers must be an object keyed by field key.",
        "fr": "Les réponses doivent être un objet indexé par clé de champ.",
    },
}


def pick_language(language: str | None) -> str:
    """The payer's language if we have it, else English (the API's language)."""
    return language_or_default(language, "en")


def translated(texts: dict, language: str) -> str:
    """One side of a {"fr", "en"} text, falling back to the other side."""
    for candidate in (language, *other_languages(language)):
        if texts.get(candidate):
            return texts[candidate]
    return ""


def answer_message(code: str, language: str, **params: Any) -> str:
    template = MESSAGES.get(code, {}).get(pick_language(language))
    if template is None:
        return code
    if language == "fr" and "limit" in params and isinstance(params["limit"], float):
        params["limit"] = str(params["limit"]).replace(".", ",")
    return template.format(**params)
