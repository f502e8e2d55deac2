"""Shared test data: factories for rows, and helpers that go through the services so that
test objects are built exactly as the product builds them."""

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from merchants.models import Membership, Merchant
from merchants.services import api_key_create, merchant_create
from notifications.models import MessageTemplate
from requests_app import services
from requests_app.models import PaymentRequest
from requests_app.services import ParticipantData


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")
    default_currency = "EUR"
    default_language = "en"

    @classmethod
    def _create(cls, model_class, *args, shipped_templates: bool = True, **kwargs):
        """Through the service, as the product creates merchants: with the shipped templates,
        unless the test is about a merchant's own (``shipped_templates=False`` removes them,
        as an operator deleting them would)."""
        merchant = merchant_create(**kwargs)
        if not shipped_templates:
            MessageTemplate.objects.filter(merchant=merchant).delete()
        return merchant


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.SelfAttribute("username")
    password = factory.django.Password("correct-horse-battery")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    merchant = factory.SubFactory(MerchantFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.OWNER


def api_secret_for(merchant: Merchant, *, mode: str = "test") -> str:
    return api_key_create(merchant=merchant, mode=mode).secret


def participants(n: int, *, amount: int | None = None) -> list[ParticipantData]:
    return [
        ParticipantData(name=f"Payer {i}", email=f"payer{i}@example.com", amount=amount)
        for i in range(n)
    ]


def make_request(merchant: Merchant, **overrides) -> PaymentRequest:
    """A fixed-mode request of 3 x 10.00 EUR due in a week, unless told otherwise."""
    now = timezone.now()
    kwargs = {
        "reference": f"REF-{PaymentRequest.objects.count() + 1}-{now.timestamp()}",
        "currency": "EUR",
        "total_amount": 3000,
        "participants": participants(3, amount=1000),
        "deadline": now + timedelta(days=7),
        "expires_at": now + timedelta(days=14),
    }
    kwargs.update(overrides)
    # Tests hand over the objects; the service takes what the API views pass it.
    if hasattr(kwargs.get("scenario"), "public_id"):
        kwargs["scenario"] = kwargs["scenario"].public_id
    if "form" in kwargs:
        form = kwargs.pop("form")
        kwargs["form_version"] = form.current_version if form is not None else None
    return services.payment_request_create(merchant=merchant, **kwargs)
