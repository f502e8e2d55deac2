"""One payment address per participant: the API, the messages, the back office and the QR
codes all give the one ``requests_app.links.payment_url`` builds."""

import pytest
from django.urls import set_script_prefix

from requests_app.links import payment_url
from scenarios.outbox import _pay_url
from tests.factories import MembershipFactory, make_request


@pytest.mark.django_db
def test_the_api_and_the_messages_give_the_same_address(api, merchant):
    payment_request = make_request(merchant)
    participant = payment_request.participants.order_by("position").first()

    shown = api.get(f"/api/v1/payment-requests/{payment_request.public_id}").json()

    expected = f"http://testserver/pay/{participant.link_token}/"
    assert payment_url(participant) == expected
    assert shown["participants"][0]["payment_url"] == expected
    assert _pay_url(participant) == expected
    assert _pay_url(None) == ""


@pytest.mark.django_db
def test_the_back_office_opens_the_address_payers_are_sent(client, merchant):
    owner = MembershipFactory(merchant=merchant).user
    client.force_login(owner)
    payment_request = make_request(merchant)

    page = client.get(f"/app/requests/{payment_request.public_id}/").content.decode()

    for participant in payment_request.participants.all():
        assert f'href="{payment_url(participant)}"' in page


@pytest.mark.django_db
def test_the_address_follows_the_script_prefix_it_is_built_under(merchant):
    participant = make_request(merchant).participants.first()
    payment_url(participant)  # warm the cache under the root prefix

    set_script_prefix("/payments/")
    try:
        assert payment_url(participant) == (
            f"http://testserver/payments/pay/{participant.link_token}/"
        )
    finally:
        set_script_prefix("/")
    assert payment_url(participant) == f"http://testserver/pay/{participant.link_token}/"
