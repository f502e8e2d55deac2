"""What a payer does with a Stripe-backed card: our pay page, Stripe's hosted page (the stub),
back to our return page."""

from urllib.parse import urlsplit

from tests.payments.conftest import STRIPE_TEST_KEY

VISA = "4242424242424242"
DECLINED = "4000000000000002"
INSUFFICIENT = "4000000000009995"


def start_card_payment(client, payer, stub, **post):
    """Post the pay form: the answer sends the payer to Stripe Checkout."""
    response = client.post(f"/pay/{payer.link_token}/", {"method": "card", **post})
    assert response.status_code == 302, response.content.decode()[:500]
    assert response.url.startswith(f"{stub.base_url}/pay/cs_test_"), response.url
    return response.url


def finish_at_stripe(client, stub, checkout_url, card=VISA):
    """The payer types a card on Stripe's page; Stripe sends them back (success or "back")."""
    status, where = stub.complete(checkout_url.split("?")[0], card)
    if status == 303:
        return client.get(_path(where))
    return status, where


def back_from_stripe(client, stub):
    """The payer clicks "back" on Stripe's page: Checkout's cancel_url."""
    session = last_session(stub)
    return client.get(_path(session["cancel_url"]))


def pay_by_card(client, payer, stub, card=VISA):
    return finish_at_stripe(client, stub, start_card_payment(client, payer, stub), card)


def last_session(stub, api_key=STRIPE_TEST_KEY):
    sessions = stub.account(api_key).sessions
    return list(sessions.values())[-1]


def intent_of(stub, api_key=STRIPE_TEST_KEY):
    session = last_session(stub, api_key)
    return stub.account(api_key).intents[session["payment_intent"]]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
