"""The issue's acceptance test: a creation notice, a reminder two days before the deadline and
three overdue reminders every three days reach exactly the unpaid payers, at the right times."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from notifications.dispatcher import dispatch_due
from requests_app.models import Participant
from requests_app.services import participant_record_payment
from scenarios import services
from scenarios.models import Dispatch, OutboxMessage
from tests.factories import make_request
from tests.scenarios.helpers import acceptance_steps, make_scenario, outbox_recipients

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(days=10)

pytestmark = pytest.mark.usefixtures("outbox")


def drain() -> int:
    total = 0
    while handled := dispatch_due(batch_size=50, worker_id="test"):
        total += handled
    return total


def new_messages(seen: set[int]) -> list[str]:
    """Recipients of the outbox messages that arrived since last time."""
    fresh = OutboxMessage.objects.exclude(pk__in=seen).order_by("to")
    seen.update(fresh.values_list("pk", flat=True))
    return [message.to for message in fresh]


def test_each_message_reaches_the_unpaid_payers_at_its_time_and_never_the_paid_ones(
    merchant, email_template, api
):
    seen: set[int] = set()
    with time_machine.travel(T0, tick=False) as clock:
        # Given a request for three payers following the scenario
        scenario = make_scenario(merchant, acceptance_steps(email_template))
        payment_request = make_request(
            merchant, deadline=DEADLINE, expires_at=DEADLINE + timedelta(days=30)
        )
        planned = services.dispatches_plan_for_request(
            payment_request=payment_request, scenario=scenario
        )
        assert planned == 3 * (1 + 1 + 3)
        ann, bob, cid = payment_request.participants.order_by("position")

        # When the dispatcher runs at creation: the creation notice goes to all three
        drain()
        assert new_messages(seen) == [ann.email, bob.email, cid.email]

        # Ann pays on day 3; paying cancels her pending reminders in the same transaction
        clock.move_to(T0 + timedelta(days=3))
        participant_record_payment(participant=ann, amount=1000)
        drain()
        assert new_messages(seen) == []

        # A minute before "two days before the deadline", nothing; at it, Bob and Cid
        clock.move_to(DEADLINE - timedelta(days=2, minutes=1))
        drain()
        assert new_messages(seen) == []
        clock.move_to(DEADLINE - timedelta(days=2))
        drain()
        assert new_messages(seen) == [bob.email, cid.email]

        # Bob's payment lands the day before the deadline by a path that did not cancel his
        # reminders (say, a crash between two transactions): the dispatcher's own re-check
        # must skip them
        clock.move_to(DEADLINE - timedelta(days=1))
        Participant.objects.filter(pk=bob.pk).update(status="paid", amount_paid=1000)

        for day in (1, 4, 7):
            clock.move_to(DEADLINE + timedelta(days=day) - timedelta(minutes=1))
            drain()
            assert new_messages(seen) == []
            clock.move_to(DEADLINE + timedelta(days=day))
            drain()
            assert new_messages(seen) == [cid.email], f"overdue reminder of day {day}"

        clock.move_to(DEADLINE + timedelta(days=20))
        drain()
        assert new_messages(seen) == []

    # Then every row has a final state, with the reasons
    rows = Dispatch.objects.filter(request=payment_request)
    assert not rows.filter(status__in=Dispatch.PENDING).exists()
    by_payer = {
        p.email: sorted(rows.filter(participant=p).values_list("status", "skip_reason"))
        for p in (ann, bob, cid)
    }
    assert by_payer[ann.email] == [("cancelled", "already_paid")] * 4 + [("sent", "")]
    assert by_payer[bob.email] == [("sent", "")] * 2 + [("skipped", "already_paid")] * 3
    assert by_payer[cid.email] == [("sent", "")] * 5
    assert outbox_recipients() == sorted([ann.email] + [bob.email] * 2 + [cid.email] * 5)

    # And the integrator sees the same story
    body = api.get(f"/api/v1/payment-requests/{payment_request.public_id}/notifications").json()
    items = body["results"]
    assert len(items) == 15
    assert [i["due_at"] for i in items] == sorted(i["due_at"] for i in items)
    skipped = [i for i in items if i["status"] == "skipped"]
    assert {i["skip_reason"] for i in skipped} == {"already_paid"}
    assert all(i["recipient"] == bob.email for i in skipped)
    sent = [i for i in items if i["status"] == "sent"]
    assert all(i["sent_at"] and i["skip_reason"] is None for i in sent)
    assert {i["step"]["trigger"] for i in items} == {
        "request_created",
        "before_deadline",
        "after_deadline",
    }


def test_the_emails_carry_the_rendered_template(merchant, email_template):
    with time_machine.travel(T0, tick=False):
        scenario = make_scenario(merchant, acceptance_steps(email_template)[:1])
        payment_request = make_request(merchant, deadline=DEADLINE)
        services.dispatches_plan_for_request(payment_request=payment_request, scenario=scenario)
        drain()
    message = OutboxMessage.objects.filter(to="payer0@example.com").get()
    assert message.subject == f"Pay {payment_request.reference}"
    assert message.text.startswith("Hello Payer 0, pay €10.00: http://testserver/pay/")
    assert message.html == "<p>Hello Payer 0, pay €10.00</p>"
    assert message.merchant_id == merchant.pk
    dispatch = Dispatch.objects.get(public_id=message.dispatch_public_id)
    assert dispatch.status == "sent" and dispatch.subject == message.subject
