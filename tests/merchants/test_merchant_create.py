"""Creating a merchant: a clean tenant with the shipped templates, or nothing."""

import pytest
from django.core.exceptions import ValidationError

from merchants.models import Merchant
from merchants.services import merchant_create
from notifications.defaults import DEFAULT_TEMPLATES
from notifications.models import MessageTemplate


@pytest.mark.django_db
def test_a_new_merchant_starts_with_every_shipped_template():
    merchant = merchant_create(name="Chez Paul", default_language="en")

    installed = MessageTemplate.objects.filter(merchant=merchant)
    expected = sum(len(channels) for channels in DEFAULT_TEMPLATES.values())
    assert installed.count() == expected > 0
    assert merchant.default_language == "en"
    assert merchant.public_id.startswith("mc_")


@pytest.mark.django_db
def test_the_slug_comes_from_the_name_and_gets_a_suffix_when_taken():
    first = merchant_create(name="Chez Paul")
    second = merchant_create(name="Chez  Paul!")
    third = merchant_create(name="chez paul")

    assert [first.slug, second.slug, third.slug] == ["chez-paul", "chez-paul-2", "chez-paul-3"]


@pytest.mark.django_db
def test_a_name_without_letters_still_gets_a_slug():
    assert merchant_create(name="!!!").slug == "merchant"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"brand_color": "blue"}, "brand_color"),
        ({"brand_color": "#12345"}, "brand_color"),
        ({"default_currency": "XYZ"}, "default_currency"),
        ({"default_currency": "euro"}, "default_currency"),
        ({"default_language": "de"}, "default_language"),
    ],
)
def test_an_invalid_value_is_refused_and_nothing_is_created(values, field):
    with pytest.raises(ValidationError) as refusal:
        merchant_create(name="Chez Paul", **values)

    assert field in refusal.value.message_dict
    assert not Merchant.objects.exists()
    assert not MessageTemplate.objects.exists()
