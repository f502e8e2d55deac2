"""A CentralPay integration, unchanged but for its base URL and credentials: it creates a
request over real HTTP, a payer pays on the endpoint in Chromium, and the integration polls
until CLOSED / PAID and reads the payment's transaction."""

import base64
import json
import re
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.centralpay.conftest import deadline, multipart
from tests.e2e.test_payer_journey import fill_card
from tests.factories import api_secret_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def call(live_server, secret: str, method: str, path: str, body: bytes = b"", **headers):
    request = urllib.request.Request(
        f"{live_server.url}/v2/rest{path}", data=body or None, method=method
    )
    token = base64.b64encode(f"{secret}:".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_create_pay_in_the_browser_poll_and_read_the_transaction(page, live_server, merchant):
    secret = api_secret_for(merchant)
    # A PHP client: an array posted by curl, the header forced to JSON (no boundary).
    body, _ = multipart(
        [
            ("paymentMethod[]", "TRANSACTION"),
            ("currency", "EUR"),
            ("totalAmount", "2500"),
            ("merchantPaymentRequestId", "ORDER-E2E"),
            ("description", "Stage d'été"),
            ("breakdown[]", "{amount:2500, email:payer@example.com, firstName:Lou}"),
            ("deadline", deadline(days=2, offset="+02:00")),
        ]
    )
    status, created = call(
        live_server,
        secret,
        "POST",
        "/paymentRequest?urlRedirect=https://shop.example/done&delay=0",
        body,
        Content_Type="application/json",
        Accept="application/json",
        Idempotence_Key="order-e2e",
    )
    assert status == 200
    assert created["paymentRequestStatus"] == "ACTIVE"
    endpoint = created["breakdowns"][0]["endpoint"]

    page.goto(endpoint)
    expect(page.get_by_role("heading", name="Stage d'été")).to_be_visible()
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name=re.compile("^Pay")).click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()

    polled = None
    for _ in range(20):
        _, polled = call(
            live_server, secret, "GET", f"/paymentRequest/{created['paymentRequestId']}"
        )
        if polled["paymentRequestStatus"] == "CLOSED":
            break
        time.sleep(0.25)
    assert (polled["paymentRequestStatus"], polled["paymentStatus"]) == ("CLOSED", "PAID")
    [payment] = polled["breakdowns"][0]["payments"]

    _, transaction = call(live_server, secret, "GET", f"/transaction/{payment['uuid']}")
    assert transaction["transactionStatus"] == "SUCCESS"
    assert (transaction["amount"], transaction["currency"]) == (2500, "EUR")
