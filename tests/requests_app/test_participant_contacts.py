"""Every door into a request stores the same clean contacts: the services themselves
normalise emails and phones, not only the API's serializer (seed, back office, imports)."""

import pytest

from pushpay.errors import InvalidInput
from requests_app import services
from requests_app.services import ParticipantData
from tests.factories import make_request


def create_with(merchant, participant: ParticipantData):
    return make_request(
        merchant,
        total_amount=1000,
        participants=[
            ParticipantData(name="Ann", email="ann@example.com", amount=500),
            participant,
        ],
    )


@pytest.mark.django_db
def test_a_spaced_international_phone_is_stored_as_e164(merchant):
    payment_request = create_with(
        merchant, ParticipantData(name="Ben", phone=" +33 6 12 34 56 78 ", amount=500)
    )

    assert payment_request.participants.get(name="Ben").phone == "+33612345678"


@pytest.mark.django_db
def test_an_email_is_stored_without_its_surrounding_spaces(merchant):
    payment_request = create_with(
        merchant, ParticipantData(name="Ben", email="  Ben@Example.com\n", amount=500)
    )

    assert payment_request.participants.get(name="Ben").email == "Ben@Example.com"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("contact", "code", "field"),
    [
        ({"email": "not-an-email"}, "invalid_email", "participants[1].email"),
        ({"email": "x" * 250 + "@example.com"}, "invalid_email", "participants[1].email"),
        # No region is guessed, as in the API: a national number is refused.
        ({"phone": "06 12 34 56 78"}, "invalid_phone", "participants[1].phone"),
        ({"phone": "+3361234"}, "invalid_phone", "participants[1].phone"),
        ({"email": "ben@example.com", "phone": "+33abc"}, "invalid_phone", "participants[1].phone"),
        ({"email": "   ", "phone": " "}, "contact_required", "participants[1].email"),
    ],
)
def test_a_bad_contact_is_refused_with_the_apis_code_and_field(merchant, contact, code, field):
    with pytest.raises(InvalidInput) as refusal:
        create_with(merchant, ParticipantData(name="Ben", amount=500, **contact))

    assert (refusal.value.code, refusal.value.field) == (code, field)
    assert not merchant.requests.exists()


@pytest.mark.django_db
def test_an_added_participants_phone_is_stored_as_e164(merchant):
    payment_request = make_request(merchant)

    added = services.participant_add(
        payment_request=payment_request,
        data=ParticipantData(name="Dan", phone="+44 20 7946 0958", amount=700),
    )

    added.refresh_from_db()
    assert added.phone == "+442079460958"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("contact", "code", "field"),
    [
        ({"email": "dan@"}, "invalid_email", "email"),
        ({"phone": "0612345678"}, "invalid_phone", "phone"),
    ],
)
def test_participant_add_refuses_a_bad_contact(merchant, contact, code, field):
    payment_request = make_request(merchant)

    with pytest.raises(InvalidInput) as refusal:
        services.participant_add(
            payment_request=payment_request, data=ParticipantData(name="Dan", amount=700, **contact)
        )

    assert (refusal.value.code, refusal.value.field) == (code, field)
    assert payment_request.participants.count() == 3
