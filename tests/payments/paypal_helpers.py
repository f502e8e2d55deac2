"""What a payer does with PayPal through the merchant's own PayPal app: our pay page, PayPal's
approval page (the stub), back to our return page."""

from urllib.parse import urlsplit

from tests.stubs.stripe_accounts import PAYPAL_SANDBOX_CLIENT_ID


def start_paypal_payment(client, payer, stub, environment="sandbox", **post):
    """Post the pay form: the answer sends the payer to PayPal's approval page."""
    response = client.post(f"/pay/{payer.link_token}/", {"method": "paypal", **post})
    assert response.status_code == 302, response.content.decode()[:500]
    assert response.url.startswith(f"{stub.base_url(environment)}/checkoutnow?token="), response.url
    return response.url


def decide_at_paypal(client, stub, approval_url, decision="approve"):
    """The payer approves (or cancels) on PayPal's page; PayPal sends them back to us."""
    status, where = stub.decide(approval_url, decision)
    assert status == 303, (status, where)
    return client.get(path_of(where))


def pay_with_paypal(client, payer, stub, environment="sandbox"):
    return decide_at_paypal(client, stub, start_paypal_payment(client, payer, stub, environment))


def last_order(stub, client_id=PAYPAL_SANDBOX_CLIENT_ID, environment="sandbox"):
    app = stub.app(client_id, environment)
    return stub.order(client_id, list(app.orders)[-1], environment)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
