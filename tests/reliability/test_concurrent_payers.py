"""Many payers at once, over HTTP against the live server, on PostgreSQL.

Each payer is a thread with its own cookie jar and its own card, doing what a browser does:
open the link, tokenise the card at the sandbox, post the payment form.
"""

import http.cookiejar
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.db import connection

from payments.sandbox.selectors import sandbox_card_balance
from requests_app.models import PaymentRequest, RequestEvent
from requests_app.services import ParticipantData
from tests.factories import make_request

pytestmark = pytest.mark.django_db(transaction=True)

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def luhn_card(serial: int) -> str:
    """A distinct, valid card number per payer (none of them a magic test card)."""
    body = f"45{serial:013d}"
    digits = [int(d) for d in body]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return body + str((10 - total % 10) % 10)


class Payer:
    """One browser: opens the link and tokenises its card first, then posts when told."""

    def __init__(self, base_url: str, link_path: str, card: str, amount: str | None = None):
        self.url = base_url + link_path
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = self.opener.open(self.url, timeout=60).read().decode()
        token_request = urllib.request.Request(
            base_url + "/sandbox/tokens",
            data=json.dumps(
                {"number": card, "exp_month": 12, "exp_year": 2040, "cvc": "123"}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        token = json.loads(self.opener.open(token_request, timeout=60).read())["token"]
        self.fields = {"csrfmiddlewaretoken": CSRF.search(page).group(1), "card_token": token}
        if amount is not None:
            self.fields["amount"] = amount

    def pay(self) -> tuple[int, str]:
        form = urllib.request.Request(
            self.url,
            data=urllib.parse.urlencode(self.fields).encode(),
            headers={"Referer": self.url},
        )
        try:
            response = self.opener.open(form, timeout=120)  # follows to the receipt
            return response.status, response.geturl()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read().decode()


def card_debits() -> list[int]:
    """What the sandbox acquirer's own ledger took from each card."""
    from payments.sandbox.models import SandboxCard

    fingerprints = SandboxCard.objects.values_list("fingerprint", flat=True).distinct()
    return [sandbox_card_balance(fingerprint=f).debited for f in fingerprints]


def run_payers(jobs) -> list[tuple[int, str]]:
    """Every payer gets ready, then all post at the same instant."""
    payers = [Payer(*job) for job in jobs]
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(payers))

    def worker(payer):
        barrier.wait()
        outcome = payer.pay()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(payer,)) for payer in payers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert len(results) == len(payers)
    return results


def test_fifty_payers_of_one_request_never_capture_more_than_the_total(
    postgres_only, live_server, merchant, settings
):
    settings.PUBLIC_BASE_URL = live_server.url
    people = [ParticipantData(name=f"P{i}", email=f"p{i}@example.com") for i in range(50)]
    pr = make_request(merchant, total_amount=50 * 1234, split="equal", participants=people)
    jobs = [
        (live_server.url, f"/pay/{p.link_token}/", luhn_card(i))
        for i, p in enumerate(pr.participants.all())
    ]
    connection.close()

    outcomes = run_payers(jobs)

    assert [status for status, _ in outcomes] == [200] * 50
    assert all("/receipt/co_" in where for _, where in outcomes)
    pr = PaymentRequest.objects.get(pk=pr.pk)
    assert (pr.status, pr.amount_paid) == ("paid", 50 * 1234)
    assert {p.amount_paid for p in pr.participants.all()} == {1234}
    assert RequestEvent.objects.filter(request=pr, type="request_completed").count() == 1
    debits = card_debits()
    assert len(debits) == 50 and set(debits) == {1234}  # each card debited its share once


def test_concurrent_payers_cannot_push_a_pot_past_its_target(
    postgres_only, live_server, merchant, settings
):
    settings.PUBLIC_BASE_URL = live_server.url
    people = [ParticipantData(name=f"P{i}", email=f"p{i}@example.com") for i in range(20)]
    pot = make_request(merchant, amount_mode="free", total_amount=10000, participants=people)
    jobs = [
        (live_server.url, f"/pay/{p.link_token}/", luhn_card(100 + i), "10.00")
        for i, p in enumerate(pot.participants.all())
    ]
    connection.close()

    outcomes = run_payers(jobs)

    pot = PaymentRequest.objects.get(pk=pot.pk)
    assert pot.amount_paid == 10000
    assert pot.status == "paid"
    receipts = [where for status, where in outcomes if "/receipt/co_" in where]
    late = [outcome for outcome in outcomes if "/receipt/co_" not in outcome[1]]
    assert len(receipts) == 10 and len(late) == 10
    for status, body_or_url in late:
        # Refused while others were paying, or shown the "paid in full" page afterwards.
        assert (status in (409, 422) and "remains to be collected" in body_or_url) or (
            status == 200 and "/receipt/" not in body_or_url
        ), (status, body_or_url[:300])
    debits = card_debits()
    assert sum(debits) == 10000
    assert sorted(debits, reverse=True)[:10] == [1000] * 10
