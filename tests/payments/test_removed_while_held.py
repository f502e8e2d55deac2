"""Issue 11, holds in collections: a participant removed while their share is held is never
debited, and their hold never counts towards completing the collection."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from payments.models import Checkout
from payments.sandbox.selectors import sandbox_card_balance
from requests_app import services as request_services
from requests_app.events import events_redrive
from tests.requests_app.test_collections import GOOD_CARDS, on_completion_request, pay

pytestmark = pytest.mark.django_db


def test_removing_a_held_participant_voids_the_hold_and_the_others_complete_alone(
    merchant, tokenise, django_capture_on_commit_callbacks
):
    payment_request = on_completion_request(merchant)
    first, second, third = payment_request.participants.all()
    tokens = [tokenise(card) for card in GOOD_CARDS]
    assert pay(first, tokens[0]).status == "authorised"

    with django_capture_on_commit_callbacks(execute=True):
        request_services.participant_remove(payment_request=payment_request, participant=first)

    assert sandbox_card_balance(token=tokens[0]).held == 0
    assert Checkout.objects.get(participant=first).status == "cancelled"
    pay(second, tokens[1])
    pay(third, tokens[2])
    payment_request.refresh_from_db()
    assert (payment_request.status, payment_request.amount_paid) == ("paid", 2000)
    debited = [sandbox_card_balance(token=token).debited for token in tokens]
    assert debited == [0, 1000, 1000]


def test_a_hold_whose_release_was_lost_never_counts_and_is_released_by_the_sweep(
    merchant, tokenise
):
    payment_request = on_completion_request(merchant)
    first, second, third = payment_request.participants.all()
    tokens = [tokenise(card) for card in GOOD_CARDS]
    pay(first, tokens[0])
    request_services.participant_remove(payment_request=payment_request, participant=first)
    assert sandbox_card_balance(token=tokens[0]).held == 1000  # the after-commit run was lost

    pay(second, tokens[1])
    pay(third, tokens[2])

    assert sandbox_card_balance(token=tokens[0]).debited == 0  # not captured at completion
    payment_request.refresh_from_db()
    assert (payment_request.status, payment_request.amount_paid) == ("paid", 2000)
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        events_redrive()
    assert sandbox_card_balance(token=tokens[0]).held == 0
    assert Checkout.objects.get(participant=first).status == "cancelled"
