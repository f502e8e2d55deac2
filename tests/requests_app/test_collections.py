"""Multi-participant collections: capture modes, closing at expiry, refunds, progress."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from payments import services as payment_services
from payments.models import Checkout
from payments.sandbox.selectors import sandbox_card_balance
from pushpay.errors import StateConflict
from requests_app.models import PaymentRequest, RequestEvent
from requests_app.services import ParticipantData
from requests_app.tasks import close_expired_requests
from tests.factories import make_request
from tests.payments.conftest import SUCCEEDS

URL = "/api/v1/payment-requests"
# Distinct good cards: the sandbox keys its ledger by card, so each payer needs their own.
GOOD_CARDS = ["4242424242424242", "5555555555554444", "4012888888881881"]


def pay(participant, token, **kwargs):
    return payment_services.checkout_start(
        participant=participant, method="card", source=token, **kwargs
    )


def on_completion_request(merchant, **overrides):
    now = timezone.now()
    kwargs = {
        "capture_mode": "on_completion",
        "deadline": now + timedelta(days=2),
        "expires_at": now + timedelta(days=5),
    }
    kwargs.update(overrides)
    return make_request(merchant, **kwargs)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"expires_at": 30}, "expiry_beyond_hold_window", "expires_at"),
        ({"expires_at": None}, "required", "expires_at"),
        ({"capture_mode": "later"}, "invalid_choice", "capture_mode"),
    ],
)
def test_on_completion_needs_an_expiry_within_the_card_hold_window(
    api, future, overrides, code, field
):
    body = {
        "reference": "OC",
        "currency": "EUR",
        "total_amount": 2000,
        "capture_mode": "on_completion",
        "split": "equal",
        "deadline": future(2),
        "expires_at": future(6),
        "participants": [
            {"name": "A", "email": "a@example.com"},
            {"name": "B", "email": "b@example.com"},
        ],
    }
    for key, value in overrides.items():
        body[key] = future(value) if isinstance(value, int) else value
    if body["expires_at"] is None:
        del body["expires_at"]
    response = api.post(URL, body, format="json")
    assert response.status_code == 422, response.content
    assert (response.json()["error"]["code"], response.json()["error"]["field"]) == (code, field)
    assert PaymentRequest.objects.count() == 0


@pytest.mark.django_db
def test_on_completion_holds_each_share_until_all_are_held_then_captures_each_once(
    merchant, tokenise
):
    pr = on_completion_request(merchant)
    first, second, third = pr.participants.all()
    tokens = [tokenise(card) for card in GOOD_CARDS]

    assert pay(first, tokens[0]).status == "authorised"
    assert pay(second, tokens[1]).status == "authorised"
    pr.refresh_from_db()
    assert (pr.status, pr.amount_paid) == ("open", 0)
    assert sandbox_card_balance(token=tokens[0]).held == 1000
    assert sandbox_card_balance(token=tokens[0]).debited == 0

    last = pay(third, tokens[2])

    assert last.status == "succeeded"
    pr.refresh_from_db()
    assert (pr.status, pr.amount_paid) == ("paid", 3000)
    assert set(Checkout.objects.values_list("status", flat=True)) == {"succeeded"}
    for token in tokens:
        balance = sandbox_card_balance(token=token)
        assert (balance.held, balance.debited) == (0, 1000)
    assert RequestEvent.objects.filter(type="request_completed").count() == 1


@pytest.mark.django_db
def test_on_completion_expiry_voids_every_hold_and_debits_nobody(
    merchant, tokenise, django_capture_on_commit_callbacks
):
    pr = on_completion_request(merchant)
    first, second, _ = pr.participants.all()
    tokens = [tokenise(card) for card in GOOD_CARDS[:2]]
    pay(first, tokens[0])
    pay(second, tokens[1])

    # Holds are released by the reaction to request_expired, once the close commits.
    later = pr.expires_at + timedelta(minutes=1)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        assert close_expired_requests() == 1
        assert close_expired_requests() == 0

    pr.refresh_from_db()
    assert pr.status == "expired"
    assert set(pr.participants.values_list("status", flat=True)) == {"expired"}
    assert set(Checkout.objects.values_list("status", flat=True)) == {"cancelled"}
    for token in tokens:
        balance = sandbox_card_balance(token=token)
        assert (balance.held, balance.debited) == (0, 0)


@pytest.mark.django_db
def test_paying_after_the_expiry_is_refused_even_before_the_job_ran(merchant, tokenise):
    pr = make_request(merchant)
    token = tokenise(SUCCEEDS)
    with (
        time_machine.travel(pr.expires_at + timedelta(seconds=1)),
        pytest.raises(StateConflict) as refused,
    ):
        pay(pr.participants.first(), token)
    assert refused.value.code == "request_expired"
    assert sandbox_card_balance(token=token).held == 0


@pytest.mark.django_db
def test_a_partially_paid_request_is_closed_at_expiry_then_refunded(api, merchant, tokenise):
    pr = make_request(merchant)
    first = pr.participants.first()
    token = tokenise(SUCCEEDS)
    pay(first, token)

    with time_machine.travel(pr.expires_at + timedelta(minutes=1)):
        close_expired_requests()
    pr.refresh_from_db()
    assert pr.status == "closed" and pr.closed_at is not None
    assert list(
        pr.status_changes.filter(participant=None).values_list("from_status", "to_status")
    ) == [("open", "partially_paid"), ("partially_paid", "closed")]
    assert [p.status for p in pr.participants.all()] == ["paid", "expired", "expired"]
    data = api.get(f"{URL}/{pr.public_id}").json()
    assert data["closed_at"] is not None
    assert data["progress"]["paid"] == 1 and data["progress"]["expired"] == 2

    response = api.post(
        f"{URL}/{pr.public_id}/refund", {}, format="json", HTTP_IDEMPOTENCY_KEY="refund-1"
    )

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["amount_refunded"], data["amount_collected"]) == (1000, 0)
    assert data["status"] == "refunded"
    assert data["participants"][0]["status"] == "refunded"
    assert sandbox_card_balance(token=token).debited == 0
    again = api.post(f"{URL}/{pr.public_id}/refund", {}, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "nothing_to_refund")
    pr.refresh_from_db()
    assert pr.amount_refunded == 1000  # nothing refunded twice


@pytest.mark.django_db
def test_refund_of_chosen_participants_after_cancel(api, merchant, tokenise):
    pr = make_request(merchant)
    first, second, _ = pr.participants.all()
    tokens = [tokenise(card) for card in GOOD_CARDS[:2]]
    pay(first, tokens[0])
    pay(second, tokens[1])
    assert api.post(f"{URL}/{pr.public_id}/cancel", {}, format="json").status_code == 200

    response = api.post(
        f"{URL}/{pr.public_id}/refund", {"participants": [second.public_id]}, format="json"
    )

    statuses = [p["status"] for p in response.json()["participants"]]
    assert statuses == ["paid", "refunded", "cancelled"]
    assert sandbox_card_balance(token=tokens[0]).debited == 1000
    assert sandbox_card_balance(token=tokens[1]).debited == 0


@pytest.mark.django_db
def test_refund_with_nothing_captured_and_for_unknown_participants_is_refused(
    api, merchant, other_merchant
):
    pr = make_request(merchant)
    open_refund = api.post(f"{URL}/{pr.public_id}/refund", {}, format="json")
    assert (open_refund.status_code, open_refund.json()["error"]["code"]) == (
        409,
        "nothing_to_refund",
    )
    api.post(f"{URL}/{pr.public_id}/cancel", {}, format="json")
    theirs = make_request(other_merchant).participants.first()
    unknown = api.post(
        f"{URL}/{pr.public_id}/refund", {"participants": [theirs.public_id]}, format="json"
    )
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "unknown_participant")


@pytest.mark.django_db
def test_cancelling_an_on_completion_request_releases_the_holds(
    api, merchant, tokenise, django_capture_on_commit_callbacks
):
    pr = on_completion_request(merchant)
    token = tokenise(SUCCEEDS)
    pay(pr.participants.first(), token)
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"{URL}/{pr.public_id}/cancel", {}, format="json")
    assert sandbox_card_balance(token=token).held == 0
    assert Checkout.objects.get().status == "cancelled"


@pytest.mark.django_db
def test_the_public_progress_page_shows_only_consenting_names(client, api, merchant, future):
    response = api.post(
        URL,
        {
            "reference": "POT",
            "currency": "EUR",
            "amount_mode": "free",
            "total_amount": 10000,
            "public_progress": True,
            "participants": [
                {"name": "Visible Val", "email": "val@example.com", "show_name": True},
                {"name": "Hidden Hugo", "email": "hugo@example.com"},
            ],
        },
        format="json",
    )
    data = response.json()
    page = client.get(data["public_progress_url"].replace("http://testserver", ""))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Visible Val" in html
    assert "Hidden Hugo" not in html and "val@example.com" not in html
    assert "0 of 2 participants have paid" in html

    private = make_request(merchant)
    assert client.get(f"/progress/{private.progress_token}/").status_code == 404
    assert client.get("/progress/nope/").status_code == 404


@pytest.mark.django_db
def test_free_mode_without_target_collects_whatever_is_given(merchant, tokenise):
    pot = make_request(
        merchant,
        amount_mode="free",
        total_amount=None,
        participants=[ParticipantData(name=n, email=f"{n}@example.com") for n in "ab"],
    )
    a, b = pot.participants.all()
    pay(a, tokenise(SUCCEEDS), amount=700)
    pay(b, tokenise(GOOD_CARDS[1]), amount=1300)
    pot.refresh_from_db()
    assert (pot.amount_paid, pot.status) == (2000, "paid")
