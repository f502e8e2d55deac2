"""The events API: each key reads its own merchant's events of its own mode, newest first,
under their integrator names, filtered by type, object and time; junk filters are a 422."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from requests_app import services
from requests_app.events import CATALOGUE, events_purge
from requests_app.models import RequestEvent
from tests.factories import api_secret_for, make_request

pytestmark = pytest.mark.django_db

URL = "/api/v1/events"


def client_with(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def ids(api, **params) -> list[str]:
    response = api.get(URL, params)
    assert response.status_code == 200, response.content
    return [e["id"] for e in response.json()["results"]]


def event_id(payment_request, type: str) -> str:
    return RequestEvent.objects.get(request=payment_request, type=type).public_id


def pay_whole_request(payment_request) -> None:
    for participant in payment_request.participants.all():
        services.participant_record_payment(participant=participant, amount=participant.amount)


def test_the_list_shows_every_event_newest_first_in_the_public_shape(api, merchant):
    payment_request = make_request(merchant)
    pay_whole_request(payment_request)
    first = payment_request.participants.order_by("id").first()

    body = api.get(URL).json()

    events = RequestEvent.objects.filter(request=payment_request).order_by("-created_at", "-id")
    assert [e["id"] for e in body["results"]] == [e.public_id for e in events]
    assert [e["type"] for e in body["results"]][-1] == "payment_request.created"
    assert body["results"][0]["type"] == "payment_request.paid"
    paid = next(
        e
        for e in body["results"]
        if e["type"] == "participant.paid" and e["participant"] == first.public_id
    )
    assert set(paid) == {
        "id",
        "type",
        "version",
        "livemode",
        "created_at",
        "request",
        "participant",
        "data",
    }
    assert paid["id"].startswith("ev_")
    assert paid["version"] == 1
    assert paid["livemode"] is False
    assert paid["request"] == payment_request.public_id
    assert paid["data"] == {"amount": 1000, "amount_paid": 1000}
    assert body["results"][0]["participant"] is None


def test_the_detail_shows_one_event(api, merchant):
    payment_request = make_request(merchant)
    created = event_id(payment_request, "request_created")

    response = api.get(f"{URL}/{created}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == created
    assert body["type"] == "payment_request.created"
    assert set(body["data"]) == set(CATALOGUE["request_created"].payload)


def test_cursor_pagination_walks_every_event_once(api, merchant):
    for _ in range(4):
        make_request(merchant)
    expected = list(
        RequestEvent.objects.filter(merchant=merchant)
        .order_by("-created_at", "-id")
        .values_list("public_id", flat=True)
    )

    seen, url = [], f"{URL}?limit=3"
    while url:
        page = api.get(url).json()
        seen += [e["id"] for e in page["results"]]
        url = page["next"]

    assert seen == expected


def test_it_filters_by_type_repeatable(api, merchant):
    payment_request = make_request(merchant)
    pay_whole_request(payment_request)

    assert ids(api, type="payment_request.paid") == [event_id(payment_request, "request_completed")]
    both = ids(api, type=["payment_request.paid", "payment_request.created"])
    assert set(both) == {
        event_id(payment_request, "request_completed"),
        event_id(payment_request, "request_created"),
    }


def test_it_filters_by_request_participant_and_payload_object(api, merchant):
    mine = make_request(merchant)
    other = make_request(merchant)
    pay_whole_request(mine)
    first = mine.participants.order_by("id").first()

    by_request = ids(api, object=mine.public_id)
    assert set(by_request) == set(
        RequestEvent.objects.filter(request=mine).values_list("public_id", flat=True)
    )
    assert event_id(other, "request_created") not in by_request
    by_participant = ids(api, object=first.public_id)
    assert event_id(mine, "request_created") not in by_participant
    assert set(by_participant) >= set(
        RequestEvent.objects.filter(participant=first).values_list("public_id", flat=True)
    )
    assert ids(api, object="pr_" + "A" * 24) == []


def test_an_object_named_only_in_the_payload_finds_its_event(api, merchant):
    payment_request = make_request(merchant)
    event = RequestEvent.objects.get(request=payment_request)
    RequestEvent.objects.create(
        merchant=merchant,
        request=payment_request,
        type="reconciliation_ready",
        payload={"reconciliation": "rc_only_in_payload", "version": 1},
    )

    found = ids(api, object="rc_only_in_payload")

    assert len(found) == 1
    assert found[0] != event.public_id


def test_it_filters_by_creation_time(api, merchant):
    old = make_request(merchant)
    RequestEvent.objects.filter(request=old).update(created_at=timezone.now() - timedelta(days=10))
    new = make_request(merchant)
    week_ago = (timezone.now() - timedelta(days=7)).isoformat()

    assert ids(api, created_after=week_ago) == [event_id(new, "request_created")]
    assert ids(api, created_before=week_ago) == [event_id(old, "request_created")]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"type": "payment_request.exploded"}, "unknown_event_type"),
        ({"type": "request_created"}, "unknown_event_type"),  # internal names are not public
        ({"type": ["payment_request.paid", "nope"]}, "unknown_event_type"),
        ({"created_after": "not-a-date"}, "invalid_datetime"),
        ({"created_before": "2026-13-45T99:00"}, "invalid_datetime"),
        ({"created_after": "0001-01-01T00:00:00+10:00"}, "invalid_datetime"),
        ({"object": "9" * 400}, "invalid_object_id"),
    ],
)
def test_a_junk_filter_is_a_clear_422_naming_the_parameter(api, merchant, params, code):
    make_request(merchant)

    response = api.get(URL, params)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == code
    assert error["field"] == next(iter(params))


@pytest.mark.parametrize("junk", ["x", "ev_" + "A" * 24, "..", "é☃", "9" * 400, "'; DROP"])
def test_a_junk_id_is_a_404(api, junk):
    response = api.get(f"{URL}/{junk}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_another_merchants_event_is_a_404_and_never_listed(api, other_api, merchant):
    created = event_id(make_request(merchant), "request_created")

    assert other_api.get(f"{URL}/{created}").status_code == 404
    assert other_api.get(URL).json()["results"] == []
    assert api.get(f"{URL}/{created}").status_code == 200


def test_the_other_modes_event_is_a_404_and_never_listed(merchant, live_cards):
    test_api = client_with(api_secret_for(merchant, mode="test"))
    live_api = client_with(api_secret_for(merchant, mode="live"))
    test_event = event_id(make_request(merchant), "request_created")
    live_event = event_id(make_request(merchant, livemode=True), "request_created")

    assert live_api.get(f"{URL}/{test_event}").status_code == 404
    assert test_api.get(f"{URL}/{live_event}").status_code == 404
    assert ids(live_api) == [live_event]
    assert ids(test_api) == [test_event]
    assert live_api.get(f"{URL}/{live_event}").json()["livemode"] is True


def test_internal_only_types_are_not_listed(api, merchant, monkeypatch):
    payment_request = make_request(merchant)
    hidden = CATALOGUE["request_created"]
    monkeypatch.setitem(
        CATALOGUE,
        "request_created",
        type(hidden)(hidden.name, "", hidden.version, hidden.payload, hidden.trigger, ""),
    )

    assert ids(api) == []
    assert api.get(f"{URL}/{event_id(payment_request, 'request_created')}").status_code == 404


def test_list_query_count_does_not_grow_with_events(api, merchant):
    make_request(merchant)
    api.get(URL)  # warm up: the first call of a key records its last use
    with CaptureQueriesContext(connection) as small:
        api.get(URL)
    for _ in range(5):
        pay_whole_request(make_request(merchant))
    with CaptureQueriesContext(connection) as large:
        assert len(api.get(URL).json()["results"]) > 10

    assert len(large) == len(small)


# --- Retention ------------------------------------------------------------------------------


def test_the_purge_keeps_young_events_and_those_with_pending_reactions(merchant, settings):
    settings.EVENTS_RETENTION_DAYS = 30
    payment_request = make_request(merchant)
    now = timezone.now()

    def event(age_days: float, *, pending: bool = False) -> int:
        return RequestEvent.objects.create(
            merchant=merchant,
            request=payment_request,
            type="request_updated",
            reactions_pending=pending,
            pending_reactions=["x"] if pending else [],
        ).pk

    old = event(31)
    old_pending = event(400, pending=True)
    young = event(29)
    for pk, age in ((old, 31), (old_pending, 400), (young, 29)):
        RequestEvent.objects.filter(pk=pk).update(created_at=now - timedelta(days=age))

    assert events_purge(now=now) == 1

    left = set(RequestEvent.objects.values_list("pk", flat=True))
    assert old not in left
    assert {old_pending, young} <= left


def test_the_purge_follows_the_retention_setting(merchant, settings):
    payment_request = make_request(merchant)
    RequestEvent.objects.filter(request=payment_request).update(
        created_at=timezone.now() - timedelta(days=60)
    )

    settings.EVENTS_RETENTION_DAYS = 90
    assert events_purge() == 0
    settings.EVENTS_RETENTION_DAYS = 45
    assert events_purge() == 1
    assert not RequestEvent.objects.exists()


def test_the_purge_is_scheduled():
    from pushpay.schedules import SCHEDULES

    assert any(s["func"] == "requests_app.tasks.purge_old_events" for s in SCHEDULES)


def test_a_checkout_id_finds_its_payment_event(api, merchant):
    payment_request = make_request(merchant)
    participant = payment_request.participants.order_by("id").first()
    services.participant_record_payment(
        participant=participant,
        amount=participant.amount,
        payment={"checkout": "co_walkerCheckout", "method": "card"},
    )

    found = api.get(URL, {"object": "co_walkerCheckout"}).json()["results"]

    assert [e["type"] for e in found] == ["checkout.succeeded"]
    assert found[0]["data"] == {"checkout": "co_walkerCheckout", "amount": 1000, "method": "card"}
