"""Refunds of any request with captured money: whole or partial, per participant, recorded
per leg, idempotent, announced by ``payment_refunded`` and a refund notice to the payer."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from notifications.dispatcher import dispatch_due
from notifications.models import Dispatch
from payments import services
from payments.adapters.base import ProviderTimeout
from payments.adapters.sandbox_card import SandboxCardAdapter
from payments.models import Checkout, Leg, LegOperation
from payments.sandbox.selectors import sandbox_card_balance
from payments.tasks import recover_stale_checkouts
from requests_app import selectors as request_selectors
from requests_app.models import RequestEvent, StatusChange
from scenarios.models import OutboxMessage
from tests.factories import MembershipFactory, make_request, participants

URL = "/api/v1/payment-requests"
CARDS = ["4242424242424242", "5555555555554444", "4012888888881881"]


def pay(participant, token, **kwargs):
    return services.checkout_start(participant=participant, method="card", source=token, **kwargs)


def paid_request(merchant, tokenise, **overrides):
    """A fixed-mode request of 3 x 10.00 EUR, every share paid with its own card."""
    payment_request = make_request(merchant, **overrides)
    tokens = [tokenise(card) for card in CARDS]
    for participant, token in zip(payment_request.participants.all(), tokens, strict=True):
        assert pay(participant, token).status == "succeeded"
    payment_request.refresh_from_db()
    assert payment_request.status == "paid"
    return payment_request, tokens


def refund(api, payment_request, body=None, **headers):
    return api.post(
        f"{URL}/{payment_request.public_id}/refund", body or {}, format="json", **headers
    )


@pytest.mark.django_db
def test_a_fully_paid_request_is_refunded_and_every_card_is_back_to_its_balance(
    api, merchant, tokenise
):
    payment_request, tokens = paid_request(merchant, tokenise)

    response = refund(api, payment_request)

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["amount_paid"], data["amount_refunded"]) == (
        "refunded",
        3000,
        3000,
    )
    assert data["amount_collected"] == 0
    assert {p["status"] for p in data["participants"]} == {"refunded"}
    assert [p["amount_refunded"] for p in data["participants"]] == [1000, 1000, 1000]
    for token in tokens:
        balance = sandbox_card_balance(token=token)
        assert (balance.held, balance.debited) == (0, 0)
    assert set(Checkout.objects.values_list("status", flat=True)) == {"refunded"}
    assert set(Leg.objects.values_list("status", "amount_refunded")) == {("refunded", 1000)}
    assert LegOperation.objects.filter(operation="refund", result="succeeded").count() == 3
    events = RequestEvent.objects.filter(type="payment_refunded").order_by("id")
    assert [e.payload["amount"] for e in events] == [1000, 1000, 1000]
    assert {tuple(e.payload["checkouts"]) for e in events} == {
        (c,) for c in Checkout.objects.values_list("public_id", flat=True)
    }
    assert StatusChange.objects.filter(
        request=payment_request,
        participant=None,
        from_status="paid",
        to_status="partially_refunded",
    ).exists()
    assert StatusChange.objects.filter(
        request=payment_request, participant=None, to_status="refunded"
    ).exists()


@pytest.mark.django_db
def test_one_participant_refunded_in_two_parts_then_the_rest(api, merchant, tokenise):
    payment_request, tokens = paid_request(merchant, tokenise)
    first = payment_request.participants.first()
    leg = Leg.objects.get(checkout__participant=first)

    one = refund(api, payment_request, {"participants": [{"id": first.public_id, "amount": 300}]})

    assert one.status_code == 200, one.content
    assert one.json()["status"] == "partially_refunded"
    assert one.json()["participants"][0]["status"] == "partially_refunded"
    assert one.json()["participants"][0]["amount_refunded"] == 300
    leg.refresh_from_db()
    assert (leg.status, leg.amount_refunded, leg.amount_refund_pending) == (
        "partially_refunded",
        300,
        0,
    )
    assert leg.checkout.status == "partially_refunded"
    assert sandbox_card_balance(token=tokens[0]).debited == 700

    two = refund(api, payment_request, {"participants": [{"id": first.public_id, "amount": 200}]})
    assert two.json()["participants"][0]["amount_refunded"] == 500
    rest = refund(api, payment_request, {"participants": [{"id": first.public_id}]})

    assert rest.status_code == 200, rest.content
    data = rest.json()
    assert (data["status"], data["amount_refunded"]) == ("partially_refunded", 1000)
    assert [p["status"] for p in data["participants"]] == ["refunded", "paid", "paid"]
    leg.refresh_from_db()
    assert (leg.status, leg.amount_refunded) == ("refunded", 1000)
    operations = LegOperation.objects.filter(leg=leg, operation="refund").order_by("id")
    assert [op.amount for op in operations] == [300, 200, 500]
    assert len({op.idempotency_key for op in operations}) == 3
    assert sandbox_card_balance(token=tokens[0]).debited == 0
    assert sandbox_card_balance(token=tokens[1]).debited == 1000
    history = StatusChange.objects.filter(participant=first).values_list("to_status", flat=True)
    assert list(history) == ["paid", "partially_refunded", "refunded"]


@pytest.mark.django_db
def test_a_partial_refund_takes_the_latest_payment_first(api, merchant, tokenise):
    payment_request = make_request(
        merchant, total_amount=1000, participants=participants(1, amount=1000)
    )
    payer = payment_request.participants.get()
    token = tokenise(CARDS[0])
    older = pay(payer, token, amount=400)
    newer = pay(payer, token, amount=600)

    refund(api, payment_request, {"participants": [{"id": payer.public_id, "amount": 500}]})
    assert Leg.objects.get(checkout=newer).amount_refunded == 500
    assert Leg.objects.get(checkout=older).amount_refunded == 0

    response = refund(
        api, payment_request, {"participants": [{"id": payer.public_id, "amount": 300}]}
    )

    assert response.status_code == 200, response.content
    assert Leg.objects.get(checkout=newer).status == "refunded"
    assert Leg.objects.get(checkout=older).amount_refunded == 200
    event = RequestEvent.objects.filter(type="payment_refunded").latest("id")
    assert event.payload["amount"] == 300
    assert event.payload["checkouts"] == [newer.public_id, older.public_id]
    assert sandbox_card_balance(token=token).debited == 200


@pytest.mark.django_db
def test_a_refund_that_would_move_nothing_is_refused(api, merchant, tokenise):
    unpaid = make_request(merchant)
    response = refund(api, unpaid)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "nothing_to_refund"

    payment_request, _ = paid_request(merchant, tokenise)
    first = payment_request.participants.first()
    refund(api, payment_request, {"participants": [first.public_id]})
    again = refund(api, payment_request, {"participants": [{"id": first.public_id}]})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "nothing_to_refund")
    assert LegOperation.objects.filter(operation="refund").count() == 1


@pytest.mark.django_db
def test_refunding_more_than_was_captured_is_refused_and_moves_nothing(api, merchant, tokenise):
    payment_request, tokens = paid_request(merchant, tokenise)
    first = payment_request.participants.first()

    response = refund(
        api, payment_request, {"participants": [{"id": first.public_id, "amount": 1001}]}
    )

    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("refund_exceeds_captured", "participants[0].amount")
    assert LegOperation.objects.filter(operation="refund").count() == 0
    assert Leg.objects.filter(amount_refund_pending__gt=0).count() == 0
    assert sandbox_card_balance(token=tokens[0]).debited == 1000


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("line", "status", "code"),
    [
        ({"amount": 0}, 422, "amount_not_positive"),
        ({"amount": -5}, 422, "amount_not_positive"),
        ({"amount": 10.5}, 422, "invalid_amount"),
        ({"amount": "100"}, 422, "invalid_amount"),
        ({"amount": True}, 422, "invalid_amount"),
        ({"amount": 10**30}, 422, "amount_too_large"),
        ({"amount": None}, 422, "null"),
        ({"colour": "red"}, 400, "unknown_field"),
        ({"id": None}, 422, "null"),
        ({"id": "pa_nobody"}, 422, "unknown_participant"),
        ({"id": "x" * 500}, 422, "max_length"),
    ],
)
def test_a_malformed_refund_line_is_a_clear_error(api, merchant, tokenise, line, status, code):
    payment_request, _ = paid_request(merchant, tokenise)
    body_line = {"id": payment_request.participants.first().public_id, **line}

    response = refund(api, payment_request, {"participants": [body_line]})

    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["field"].startswith("participants")
    assert LegOperation.objects.filter(operation="refund").count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"participants": []}, 422, "empty"),
        ({"participants": "pa_x"}, 422, "not_a_list"),
        ({"participants": [12]}, 400, "not_an_object"),
        ({"everything": True}, 400, "unknown_field"),
    ],
)
def test_a_malformed_refund_body_is_a_clear_error(api, merchant, tokenise, body, status, code):
    payment_request, _ = paid_request(merchant, tokenise)
    response = refund(api, payment_request, body)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


@pytest.mark.django_db
def test_naming_a_participant_twice_is_refused(api, merchant, tokenise):
    payment_request, _ = paid_request(merchant, tokenise)
    first = payment_request.participants.first().public_id

    response = refund(
        api,
        payment_request,
        {"participants": [{"id": first, "amount": 100}, {"id": first, "amount": 100}]},
    )

    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("duplicate_participant", "participants[1].id")
    assert LegOperation.objects.filter(operation="refund").count() == 0


@pytest.mark.django_db
def test_another_merchants_request_or_participant_is_not_found(
    api, other_api, merchant, other_merchant, tokenise
):
    payment_request, _ = paid_request(merchant, tokenise)
    theirs = make_request(other_merchant).participants.first()

    assert refund(other_api, payment_request).status_code == 404
    response = refund(api, payment_request, {"participants": [{"id": theirs.public_id}]})
    assert (response.status_code, response.json()["error"]["code"]) == (
        422,
        "unknown_participant",
    )
    assert LegOperation.objects.filter(operation="refund").count() == 0


@pytest.mark.django_db
def test_a_replay_with_the_same_idempotency_key_answers_the_same_and_refunds_once(
    api, merchant, tokenise
):
    payment_request, tokens = paid_request(merchant, tokenise)
    first = payment_request.participants.first()
    body = {"participants": [{"id": first.public_id, "amount": 250}]}

    one = refund(api, payment_request, body, HTTP_IDEMPOTENCY_KEY="refund-250")
    two = refund(api, payment_request, body, HTTP_IDEMPOTENCY_KEY="refund-250")

    assert (one.status_code, two.status_code) == (200, 200)
    assert two.headers["Idempotent-Replayed"] == "true"
    assert two.json() == one.json()
    assert LegOperation.objects.filter(operation="refund").count() == 1
    assert sandbox_card_balance(token=tokens[0]).debited == 750
    assert RequestEvent.objects.filter(type="payment_refunded").count() == 1
    assert Dispatch.objects.filter(kind="refund_notice").count() == 1


@pytest.mark.django_db
def test_the_payer_gets_a_refund_notice_in_french_through_the_outbox(api, merchant, tokenise):
    payment_request, _ = paid_request(merchant, tokenise, reference="PISCINE-2026", language="fr")
    first = payment_request.participants.first()
    assert first.language == "fr"
    body = {"participants": [{"id": first.public_id, "amount": 250}]}

    refund(api, payment_request, body)
    refund(api, payment_request, body)

    notices = Dispatch.objects.filter(kind="refund_notice").order_by("id")
    assert [n.recipient for n in notices] == [first.email, first.email]
    assert len({n.dedupe_key for n in notices}) == 2  # one per refund
    assert notices[0].merchant_id == merchant.pk

    dispatch_due(worker_id="w")

    sent = OutboxMessage.objects.filter(to=first.email, subject__contains="remboursement")
    assert sent.count() == 2
    message = sent.first()
    assert message.subject == f"Votre remboursement par {merchant.name} (PISCINE-2026)"
    for text in (message.text, message.html):
        normalised = text.replace("\u202f", " ").replace("\xa0", " ")
        assert f"{merchant.name} vous a remboursé 2,50 €" in normalised
        assert "PISCINE-2026" in text
        assert "Total remboursé" in text
    assert set(Dispatch.objects.filter(kind="refund_notice").values_list("status", flat=True)) == {
        "sent"
    }


@pytest.mark.django_db
def test_a_participant_refunded_while_collecting_does_not_reopen_their_share(
    api, merchant, tokenise
):
    payment_request = make_request(merchant)
    first, second, third = payment_request.participants.all()
    tokens = [tokenise(card) for card in CARDS]
    pay(first, tokens[0])

    response = refund(api, payment_request)

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["amount_refunded"]) == ("partially_paid", 1000)
    assert data["participants"][0]["status"] == "refunded"
    assert data["participants"][0]["amount_due"] == 0
    first.refresh_from_db()
    assert not request_selectors.participant_can_pay(participant=first)

    pay(second, tokens[1])
    pay(third, tokens[2])

    payment_request.refresh_from_db()
    assert (payment_request.status, payment_request.amount_collected) == (
        "partially_refunded",
        2000,
    )
    assert RequestEvent.objects.filter(type="request_completed").count() == 1


@pytest.mark.django_db
def test_the_back_office_detail_shows_refund_statuses_and_amounts(api, client, merchant, tokenise):
    payment_request, _ = paid_request(merchant, tokenise)
    first = payment_request.participants.first()
    refund(api, payment_request, {"participants": [{"id": first.public_id, "amount": 400}]})
    client.force_login(MembershipFactory(merchant=merchant).user)

    response = client.get(f"/app/requests/{payment_request.public_id}/")

    # Messages without a scenario step (receipts, refund notices) used to break this page.
    assert response.status_code == 200
    html = response.content.decode()
    assert ">receipt<" in html and ">refund_notice<" in html
    assert 'data-status="partially_refunded"' in html
    assert "Partially refunded" in html
    assert 'data-testid="amount-refunded">€4.00 · €26.00 kept' in html
    assert 'data-testid="participant-refunded">€4.00' in html


@pytest.mark.django_db
def test_a_refund_whose_answer_was_lost_is_replayed_by_recovery_once(
    api, merchant, tokenise, monkeypatch
):
    payment_request, tokens = paid_request(merchant, tokenise)
    first = payment_request.participants.first()
    body = {"participants": [{"id": first.public_id, "amount": 600}]}

    def lost(self, **kwargs):
        raise ProviderTimeout("no answer")

    monkeypatch.setattr(SandboxCardAdapter, "refund", lost)
    response = refund(api, payment_request, body)
    monkeypatch.undo()

    assert (response.status_code, response.json()["error"]["code"]) == (409, "refund_in_progress")
    leg = Leg.objects.get(checkout__participant=first)
    assert (leg.amount_refund_pending, leg.amount_refunded) == (600, 0)
    assert LegOperation.objects.get(leg=leg, operation="refund").result == "no_answer"
    # Meanwhile another refund of that payment waits for the first one.
    again = refund(api, payment_request, body)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "refund_in_progress")
    assert recover_stale_checkouts() == 0  # too recent: maybe still running

    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert recover_stale_checkouts() == 1
        assert recover_stale_checkouts() == 0

    leg.refresh_from_db()
    assert (leg.status, leg.amount_refund_pending, leg.amount_refunded) == (
        "partially_refunded",
        0,
        600,
    )
    keys = LegOperation.objects.filter(leg=leg, operation="refund").values_list(
        "idempotency_key", flat=True
    )
    assert len(set(keys)) == 1  # the replay asked for the very same refund
    first.refresh_from_db()
    assert (first.status, first.amount_refunded) == ("partially_refunded", 600)
    assert sandbox_card_balance(token=tokens[0]).debited == 400
    assert Dispatch.objects.filter(kind="refund_notice").count() == 1
