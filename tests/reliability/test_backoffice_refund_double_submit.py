"""A refund confirmation submitted several times at the same moment (a double click, a
resubmitted page, two tabs) on PostgreSQL, each request on its own connection: the one-time
token gives the money back once."""

import threading

import pytest
from django.db import connection
from django.test import Client

from payments import services
from tests.factories import MembershipFactory, make_request, participants

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_one_confirmation_posted_six_times_at_once_refunds_once(postgres_only, merchant, tokenise):
    payment_request = make_request(
        merchant, total_amount=1000, participants=participants(1, amount=1000)
    )
    payer = payment_request.participants.get()
    checkout = services.checkout_start(
        participant=payer, method="card", source=tokenise("4242424242424242")
    )
    assert checkout.status == "succeeded"
    owner = MembershipFactory(merchant=merchant, role="owner").user
    fields = {
        "scope": "participants",
        f"refund_{payer.public_id}": "on",
        f"amount_{payer.public_id}": "1,00",
        "confirmed": "1",
        "token": "same-confirmation-token-0123456789",
    }
    url = f"/app/requests/{payment_request.public_id}/refund/"
    clients = []
    for _ in range(6):
        client = Client()
        client.force_login(owner)
        clients.append(client)
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def submit(client: Client) -> None:
        try:
            barrier.wait()
            statuses.append(client.post(url, fields).status_code)
        finally:
            connection.close()

    workers = [threading.Thread(target=submit, args=(c,)) for c in clients]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert statuses == [302] * 6
    payer.refresh_from_db()
    assert payer.amount_refunded == 100
