"""One list of languages: Django's, the models', the API's and the services' agree."""

import pytest
from django.conf import settings

from merchants.models import Merchant
from pushpay.errors import InvalidInput
from pushpay.i18n import (
    LANGUAGE_CODES,
    LANGUAGES,
    is_supported_language,
    language_checked,
    language_or_default,
)
from requests_app.models import Participant
from smartforms.models import Submission


def test_djangos_languages_are_the_products_languages():
    assert dict(settings.LANGUAGES) == dict(LANGUAGES)
    assert settings.LANGUAGE_CODE in LANGUAGE_CODES


def test_every_language_field_offers_the_same_choices():
    for model, name in [
        (Merchant, "default_language"),
        (Participant, "language"),
        (Submission, "language"),
    ]:
        assert model._meta.get_field(name).choices == LANGUAGES, model


@pytest.mark.parametrize("junk", ["xx", "../../etc", "", None, ["fr"], "FR", "fr-FR"])
def test_anything_but_a_supported_code_falls_back_to_the_default(junk):
    assert not is_supported_language(junk)
    assert language_or_default(junk, "en") == "en"


def test_a_supported_code_is_kept():
    assert language_or_default("fr", "en") == "fr"
    assert language_checked("en", field="language") == "en"


def test_an_unknown_language_is_refused_with_one_code_and_message():
    with pytest.raises(InvalidInput) as refusal:
        language_checked("de", field="participants[0].language")
    assert refusal.value.code == "invalid_choice"
    assert refusal.value.field == "participants[0].language"
    assert refusal.value.message == "Language must be 'fr' or 'en'."
