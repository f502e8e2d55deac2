"""Every lifecycle fact is written as an event in the same transaction as the change."""

import pytest

from requests_app import services
from requests_app.models import RequestEvent
from tests.factories import make_request


def types(pr):
    return list(RequestEvent.objects.filter(request=pr).values_list("type", flat=True))


@pytest.mark.django_db
def test_creating_paying_and_completing_record_events_in_order(merchant):
    pr = make_request(merchant)
    first, second, third = pr.participants.all()
    services.participant_record_payment(participant=first, amount=500)
    assert types(pr) == ["request_created"]

    services.participant_record_payment(participant=first, amount=500)
    services.participant_record_payment(participant=second, amount=1000)
    services.participant_record_payment(participant=third, amount=1000)

    assert types(pr) == [
        "request_created",
        "participant_paid",
        "participant_paid",
        "participant_paid",
        "request_completed",
    ]
    paid = RequestEvent.objects.filter(type="participant_paid").first()
    assert paid.participant == first
    assert paid.payload == {"amount": 500, "amount_paid": 1000}


@pytest.mark.django_db
def test_cancel_and_expire_record_events(merchant):
    cancelled = make_request(merchant, reference="C")
    services.payment_request_cancel(payment_request=cancelled, reason="no show")
    expired = make_request(merchant, reference="E")
    services.payment_request_expire(payment_request=expired)

    assert types(cancelled)[-1] == "request_cancelled"
    assert RequestEvent.objects.get(type="request_cancelled").payload == {"reason": "no show"}
    assert types(expired)[-1] == "request_expired"


@pytest.mark.django_db
def test_a_refused_change_records_no_event(merchant):
    pr = make_request(merchant)
    services.payment_request_cancel(payment_request=pr)
    with pytest.raises(Exception):  # noqa: B017 - the type is tested elsewhere
        services.payment_request_cancel(payment_request=pr)
    assert types(pr) == ["request_created", "request_cancelled"]
