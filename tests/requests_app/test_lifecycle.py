"""Updating, cancelling, adding and removing participants; the status machine."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from pushpay.errors import InvalidInput, StateConflict
from requests_app import selectors, services
from requests_app.models import IllegalTransition, Participant, PaymentRequest, StatusChange
from requests_app.services import ParticipantData
from tests.factories import make_request

URL = "/api/v1/payment-requests"


def pay_all(payment_request):
    for participant in payment_request.participants.all():
        services.participant_record_payment(participant=participant, amount=participant.amount)
    payment_request.refresh_from_db()


@pytest.mark.django_db
def test_patch_changes_description_and_dates(api, merchant, future):
    pr = make_request(merchant)
    deadline, expiry = future(20), future(40)
    response = api.patch(
        f"{URL}/{pr.public_id}",
        {"description": "New", "deadline": deadline, "expires_at": expiry},
        format="json",
    )
    assert response.status_code == 200, response.content
    pr.refresh_from_db()
    assert pr.description == "New"
    assert pr.deadline.isoformat()[:19] == deadline[:19]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("patch", "status", "code"),
    [
        ({"total_amount": 1}, 400, "unknown_field"),
        ({"currency": "USD"}, 400, "unknown_field"),
        ({"deadline": "yesterday"}, 422, "invalid"),
    ],
)
def test_patch_refuses_other_fields_and_bad_dates(api, merchant, patch, status, code):
    pr = make_request(merchant)
    response = api.patch(f"{URL}/{pr.public_id}", patch, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    pr.refresh_from_db()
    assert (pr.total_amount, pr.currency) == (3000, "EUR")


@pytest.mark.django_db
def test_patch_refuses_a_past_deadline_or_an_expiry_before_it(api, merchant, future):
    pr = make_request(merchant)
    past = api.patch(f"{URL}/{pr.public_id}", {"deadline": future(-1)}, format="json")
    assert past.json()["error"]["code"] == "deadline_in_past"
    crossing = api.patch(f"{URL}/{pr.public_id}", {"deadline": future(30)}, format="json")
    assert crossing.json()["error"]["code"] == "expiry_before_deadline"


@pytest.mark.django_db
def test_a_cancelled_request_can_no_longer_be_changed(api, merchant):
    pr = make_request(merchant)
    services.payment_request_cancel(payment_request=pr)
    response = api.patch(f"{URL}/{pr.public_id}", {"description": "x"}, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "request_not_editable")


@pytest.mark.django_db
def test_cancel_cancels_unpaid_participants_and_keeps_the_paid_one(api, merchant):
    pr = make_request(merchant)
    first = pr.participants.first()
    services.participant_record_payment(participant=first, amount=1000)

    response = api.post(f"{URL}/{pr.public_id}/cancel", {"reason": "event off"}, format="json")

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "cancelled"
    assert [p["status"] for p in data["participants"]] == ["paid", "cancelled", "cancelled"]
    assert StatusChange.objects.filter(
        request=pr, participant=None, to_status="cancelled", reason="event off"
    ).exists()


@pytest.mark.django_db
def test_a_paid_request_cannot_be_cancelled(api, merchant):
    pr = make_request(merchant)
    pay_all(pr)
    assert pr.status == "paid"

    response = api.post(f"{URL}/{pr.public_id}/cancel", {}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_status_transition"
    pr.refresh_from_db()
    assert pr.status == "paid"


@pytest.mark.django_db
def test_cancelling_twice_is_refused(api, merchant):
    pr = make_request(merchant)
    assert api.post(f"{URL}/{pr.public_id}/cancel", {}, format="json").status_code == 200
    assert api.post(f"{URL}/{pr.public_id}/cancel", {}, format="json").status_code == 409


@pytest.mark.django_db
def test_an_expired_request_cannot_be_cancelled_nor_paid(merchant):
    pr = make_request(merchant)
    services.payment_request_expire(payment_request=pr)
    pr.refresh_from_db()
    assert pr.status == "expired"
    assert set(pr.participants.values_list("status", flat=True)) == {"expired"}
    with pytest.raises(StateConflict):
        services.payment_request_cancel(payment_request=pr)
    with pytest.raises(StateConflict):
        services.participant_record_payment(participant=pr.participants.first(), amount=1000)


@pytest.mark.django_db
def test_partial_payments_move_the_request_through_its_states(merchant):
    pr = make_request(merchant)
    first, second, third = pr.participants.all()

    services.participant_record_payment(participant=first, amount=400)
    pr.refresh_from_db()
    first.refresh_from_db()
    assert (pr.status, pr.amount_paid, first.status) == ("partially_paid", 400, "pending")

    services.participant_record_payment(participant=first, amount=600)
    services.participant_record_payment(participant=second, amount=1000)
    pr.refresh_from_db()
    assert pr.status == "partially_paid"

    services.participant_record_payment(participant=third, amount=1000)
    pr.refresh_from_db()
    assert (pr.status, pr.amount_paid) == ("paid", 3000)
    history = list(
        StatusChange.objects.filter(request=pr, participant=None).values_list(
            "from_status", "to_status"
        )
    )
    assert history == [("open", "partially_paid"), ("partially_paid", "paid")]


@pytest.mark.django_db
def test_a_payment_above_the_share_is_refused(merchant):
    pr = make_request(merchant)
    with pytest.raises(InvalidInput) as refused:
        services.participant_record_payment(participant=pr.participants.first(), amount=1001)
    assert refused.value.code == "amount_above_due"
    pr.refresh_from_db()
    assert pr.amount_paid == 0


@pytest.mark.django_db
def test_the_transition_table_has_no_way_out_of_final_states():
    for final in (
        PaymentRequest.Status.EXPIRED,
        PaymentRequest.Status.CANCELLED,
        PaymentRequest.Status.REFUNDED,
    ):
        assert PaymentRequest.TRANSITIONS[final] == set()
    # Paid and closed only move on by giving money back, never back to collecting.
    for kept in (PaymentRequest.Status.PAID, PaymentRequest.Status.CLOSED):
        assert PaymentRequest.TRANSITIONS[kept] == {
            PaymentRequest.Status.PARTIALLY_REFUNDED,
            PaymentRequest.Status.REFUNDED,
        }
    with pytest.raises(IllegalTransition):
        services._transition_request(
            PaymentRequest(status=PaymentRequest.Status.PAID), PaymentRequest.Status.OPEN
        )


@pytest.mark.django_db
def test_adding_a_participant_in_fixed_mode_raises_the_total_by_their_share(api, merchant):
    pr = make_request(merchant)
    response = api.post(
        f"{URL}/{pr.public_id}/participants",
        {"name": "Dan", "email": "dan@example.com", "amount": 1500},
        format="json",
        HTTP_IDEMPOTENCY_KEY="add-dan",
    )
    assert response.status_code == 201, response.content
    assert response.json()["id"].startswith("pa_")
    assert response.json()["payment_url"].startswith("http://testserver/pay/")
    pr.refresh_from_db()
    assert pr.total_amount == 4500
    assert sorted(pr.participants.values_list("amount", flat=True)) == [1000, 1000, 1000, 1500]

    replay = api.post(
        f"{URL}/{pr.public_id}/participants",
        {"name": "Dan", "email": "dan@example.com", "amount": 1500},
        format="json",
        HTTP_IDEMPOTENCY_KEY="add-dan",
    )
    assert replay.json()["id"] == response.json()["id"]
    assert pr.participants.count() == 4


@pytest.mark.django_db
def test_adding_a_participant_without_a_share_in_fixed_mode_is_refused(api, merchant):
    pr = make_request(merchant)
    response = api.post(
        f"{URL}/{pr.public_id}/participants",
        {"name": "Dan", "email": "dan@example.com"},
        format="json",
    )
    assert (response.status_code, response.json()["error"]["field"]) == (422, "amount")
    assert pr.participants.count() == 3


@pytest.mark.django_db
def test_adding_to_a_paid_request_is_refused(merchant):
    pr = make_request(merchant)
    pay_all(pr)
    with pytest.raises(StateConflict):
        services.participant_add(
            payment_request=pr, data=ParticipantData(name="Late", email="l@example.com", amount=100)
        )


@pytest.mark.django_db
def test_removing_an_unpaid_participant_lowers_the_total(api, merchant):
    pr = make_request(merchant)
    victim = pr.participants.last()

    response = api.delete(f"{URL}/{pr.public_id}/participants/{victim.public_id}")

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["total_amount"] == 2000
    assert [p["status"] for p in data["participants"]] == ["pending", "pending", "cancelled"]


@pytest.mark.django_db
def test_removing_the_last_unpaid_participant_can_complete_the_request(api, merchant):
    pr = make_request(merchant)
    first, second, third = pr.participants.all()
    services.participant_record_payment(participant=first, amount=1000)
    services.participant_record_payment(participant=second, amount=1000)

    response = api.delete(f"{URL}/{pr.public_id}/participants/{third.public_id}")

    assert response.json()["status"] == "paid"
    assert response.json()["total_amount"] == 2000


@pytest.mark.django_db
def test_a_paid_participant_cannot_be_removed(api, merchant):
    pr = make_request(merchant)
    payer = pr.participants.first()
    services.participant_record_payment(participant=payer, amount=1000)
    response = api.delete(f"{URL}/{pr.public_id}/participants/{payer.public_id}")
    assert (response.status_code, response.json()["error"]["code"]) == (
        409,
        "participant_not_removable",
    )
    pr.refresh_from_db()
    assert pr.total_amount == 3000


@pytest.mark.django_db
def test_the_last_participant_cannot_be_removed(api, merchant):
    pr = make_request(
        merchant,
        total_amount=1000,
        participants=[ParticipantData(name="Solo", email="s@example.com", amount=1000)],
    )
    only = pr.participants.get()
    response = api.delete(f"{URL}/{pr.public_id}/participants/{only.public_id}")
    assert response.json()["error"]["code"] == "last_participant"


@pytest.mark.django_db
def test_free_mode_respects_bounds_and_target(merchant):
    pr = make_request(
        merchant,
        amount_mode="free",
        total_amount=5000,
        min_amount=500,
        max_amount=3000,
        participants=[
            ParticipantData(name="A", email="a@example.com"),
            ParticipantData(name="B", email="b@example.com"),
            ParticipantData(name="C", email="c@example.com"),
        ],
    )
    a, b, _ = pr.participants.all()
    for amount, code in ((100, "amount_below_minimum"), (3001, "amount_above_maximum")):
        with pytest.raises(InvalidInput) as refused:
            services.participant_record_payment(participant=a, amount=amount)
        assert refused.value.code == code
    services.participant_record_payment(participant=a, amount=3000)
    with pytest.raises(InvalidInput) as refused:
        services.participant_record_payment(participant=b, amount=2500)
    assert refused.value.code == "amount_above_remaining"
    services.participant_record_payment(participant=b, amount=2000)
    pr.refresh_from_db()
    assert (pr.status, pr.amount_paid) == ("paid", 5000)


@pytest.mark.parametrize("status", PaymentRequest.Status.values)
@pytest.mark.parametrize("closed", [False, True])
def test_one_predicate_says_whether_a_request_still_collects(status, closed):
    payment_request = PaymentRequest(status=status, closed_at=timezone.now() if closed else None)
    participant = Participant(request=payment_request, status=Participant.Status.PENDING)

    collecting = status in PaymentRequest.COLLECTING

    assert payment_request.is_collecting is collecting
    assert selectors.participant_can_pay(participant=participant) is collecting


@pytest.mark.django_db
def test_a_request_closed_at_expiry_with_money_in_is_closed_and_takes_nothing_more(merchant):
    pr = make_request(merchant)
    first = pr.participants.first()
    services.participant_record_payment(participant=first, amount=1000)

    with time_machine.travel(pr.expires_at + timedelta(minutes=1)):
        pr = services.payment_request_expire(payment_request=pr)

    assert (pr.status, pr.is_collecting) == ("closed", False)
    assert pr.closed_at is not None
    change = StatusChange.objects.filter(request=pr, participant=None).last()
    assert (change.from_status, change.to_status, change.reason) == (
        "partially_paid",
        "closed",
        "expired",
    )
    with pytest.raises(StateConflict) as refused:
        services.participant_record_payment(participant=pr.participants.last(), amount=1000)
    assert refused.value.code == "payment_not_expected"
