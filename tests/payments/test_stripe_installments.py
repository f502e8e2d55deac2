"""Installments with a card saved at Stripe: the deposit through Stripe Checkout keeps the
card (``setup_future_usage=off_session`` on a Customer of the participant's), the charging
job takes the later installments off-session, and the outcomes Stripe gives those charges
(``authentication_required``, a decline, no answer in time) take their own paths."""

import re
import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from notifications.dispatcher import dispatch_due
from payments.adapters.stripe_card import StripeCardAdapter, is_saved_source
from payments.installments import services
from payments.models import Checkout, Installment, InstallmentPlan, Leg, LegOperation
from payments.registry import adapter_for
from payments.sandbox.models import SandboxAuthorisation
from payments.services.recovery import STALE_AFTER, checkouts_recover_stale
from requests_app.links import plan_url
from requests_app.models import RequestEvent
from requests_app.services import ParticipantData
from scenarios.models import OutboxMessage
from tests.factories import make_request
from tests.payments.conftest import STRIPE_TEST_KEY
from tests.payments.stripe_helpers import VISA, _path
from tests.scenarios.helpers import make_scenario, step

# Stripe's test cards for saved cards: authenticated on Checkout, then charged later.
SAVES_AND_CHARGES = "4000002500003155"
ALWAYS_AUTHENTICATE = "4000002760003184"
CHARGES_DECLINED = "4000000000000341"


def make(merchant, language="en", scenario=None, **offer):
    zone = ZoneInfo(merchant.time_zone)
    today = timezone.localdate(timezone=zone)
    pr = make_request(
        merchant,
        description="Summer camp",
        total_amount=30000,
        participants=[
            ParticipantData(name="Zoé", email="zoe@example.com", amount=30000, language=language)
        ],
        installments={
            "count": 2,
            "interval_unit": "month",
            "start_date": (today + timedelta(days=10)).isoformat(),
            "deposit_amount": 10000,
            **offer,
        },
        deadline=timezone.now() + timedelta(days=20),
        expires_at=timezone.now() + timedelta(days=30),
        scenario=scenario,
    )
    return pr.participants.get()


def schedule_page(payer) -> str:
    return f"/pay/{payer.link_token}/installments/"


def plan_page(payer, plan) -> str:
    return f"/pay/{payer.link_token}/plan/{plan.public_id}/"


def fingerprint(html: str) -> str:
    marker = 'name="schedule" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def pay_deposit(client, payer, stub, card=VISA, **expiry):
    """The payer accepts the schedule on our page and types the card on Stripe's."""
    html = client.get(schedule_page(payer)).content.decode()
    assert 'name="card_token"' not in html  # Stripe's page collects the card
    response = client.post(schedule_page(payer), {"schedule": fingerprint(html)})
    assert response.status_code == 302, response.content.decode()[:300]
    assert response.url.startswith(f"{stub.base_url}/pay/cs_test_")
    status, where = stub.complete(response.url, card, **expiry)
    assert status == 303, where
    back = client.get(_path(where))
    assert back.status_code == 302 and "/receipt/" in back.url, back
    return InstallmentPlan.objects.get(participant=payer, status="active")


def charge_second(plan) -> Installment:
    second = plan.installments.get(position=1)
    moment = second.next_attempt_at + timedelta(minutes=5)
    assert services.installments_charge_due(now=moment, worker_id="t") == 1
    second.refresh_from_db()
    return second


def account(stub):
    return stub.account(STRIPE_TEST_KEY)


def intent_of_leg(stub, leg) -> dict:
    (intent,) = [
        i for i in account(stub).intents.values() if i["metadata"].get("leg") == leg.public_id
    ]
    return intent


def off_session_creates(stub) -> list[dict]:
    return [call for call in stub.calls("POST") if call["path"] == "/v1/payment_intents"]


pytestmark = pytest.mark.django_db


def test_the_deposit_through_stripe_checkout_saves_the_card_on_a_customer_of_the_payer(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = make(merchant)

    plan = pay_deposit(client, payer, stripe_stub)

    (customer_call,) = stripe_stub.calls("POST", "customers")
    assert customer_call["idempotency_key"] == f"{payer.public_id}:customer"
    assert customer_call["params"] == {"metadata": {"participant": payer.public_id}}
    (customer,) = account(stripe_stub).customers.values()
    session = stripe_stub.calls("POST", "checkout/sessions")[0]["params"]
    assert session["customer"] == customer["id"]
    assert session["payment_intent_data"]["setup_future_usage"] == "off_session"
    assert session["payment_intent_data"]["capture_method"] == "manual"
    # The plan keeps Stripe's ids of the Customer and the card, never the card itself.
    (payment_method,) = account(stripe_stub).payment_methods.values()
    assert payment_method["customer"] == customer["id"]
    assert plan.source == f"{customer['id']}/{payment_method['id']}"
    assert VISA not in plan.source and VISA[-4:] not in plan.source
    deposit = Leg.objects.get()
    assert (deposit.source, deposit.saved_source) == ("card", plan.source)
    assert (deposit.source_brand, deposit.source_last4) == ("visa", "4242")
    assert plan.installments.get(position=0).status == "paid"
    assert not SandboxAuthorisation.objects.exists()


def test_a_plain_stripe_payment_saves_no_card_and_makes_no_customer(
    client, merchant, stripe_test_account, stripe_stub
):
    from tests.payments.stripe_helpers import pay_by_card

    payer = make(merchant)
    pay_by_card(client, payer, stripe_stub)

    session = stripe_stub.calls("POST", "checkout/sessions")[0]["params"]
    assert "customer" not in session
    assert "setup_future_usage" not in session["payment_intent_data"]
    assert not stripe_stub.calls("POST", "customers")
    assert Leg.objects.get().saved_source == ""


def test_due_installments_are_charged_off_session_by_the_job_once(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = make(merchant)
    plan = pay_deposit(client, payer, stripe_stub, SAVES_AND_CHARGES)

    second = charge_second(plan)

    assert second.status == "paid"
    (create,) = off_session_creates(stripe_stub)
    leg = Leg.objects.get(checkout__installment=second.public_id)
    customer, payment_method = plan.source.split("/")
    params = create["params"]
    assert (params["customer"], params["payment_method"]) == (customer, payment_method)
    assert (params["off_session"], params["confirm"], params["capture_method"]) == (
        "true",
        "true",
        "manual",
    )
    assert (params["amount"], params["currency"]) == (str(second.amount), "eur")
    assert create["idempotency_key"] == f"{leg.public_id}:authorise"
    intent = account(stripe_stub).intents[leg.provider_reference]
    assert (intent["status"], intent["amount_received"]) == ("succeeded", second.amount)
    assert (leg.status, leg.source_brand, leg.source_last4) == ("captured", "visa", "3155")
    # Run again at the same moment: nothing more is charged.
    moment = second.next_attempt_at + timedelta(minutes=6)
    assert services.installments_charge_due(now=moment, worker_id="t") == 0
    assert len(off_session_creates(stripe_stub)) == 1


def test_a_second_attempt_of_an_installment_uses_a_key_of_its_own(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = make(merchant)
    plan = pay_deposit(client, payer, stripe_stub, CHARGES_DECLINED)

    second = charge_second(plan)
    assert services.installments_charge_due(now=second.next_attempt_at, worker_id="t") == 1

    keys = [call["idempotency_key"] for call in off_session_creates(stripe_stub)]
    assert len(keys) == 2 and len(set(keys)) == 2
    assert len(account(stripe_stub).intents) == 3  # the deposit's and one per attempt


@pytest.fixture
def outbox(settings):
    settings.EMAIL_BACKEND = "notifications.outbox_backend.OutboxEmailBackend"
    settings.SMS_BACKEND = "outbox"
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    return settings


def test_authentication_required_fails_the_installment_and_its_notice_links_the_plan_page(
    client, merchant, stripe_test_account, stripe_stub, outbox
):
    scenario = make_scenario(
        merchant,
        [step("installment_failed", None, channel="email", audience="all_participants")],
    )
    payer = make(merchant, scenario=scenario)
    plan = pay_deposit(client, payer, stripe_stub, ALWAYS_AUTHENTICATE)

    second = charge_second(plan)

    # Failed for what it is, with no string of automatic tries that would fail the same
    # way: the one try left is at the end of the retry window.
    assert (second.status, second.failure_reason) == ("failed", "authentication_required")
    assert second.attempts == len(plan.retry_days)
    last_try = (second.due_date + timedelta(days=plan.retry_days[-1])).isoformat()
    assert second.next_attempt_at.astimezone(ZoneInfo(merchant.time_zone)).date().isoformat() == (
        last_try
    )
    event = RequestEvent.objects.get(type="installment_failed")
    assert event.payload["reason"] == "authentication_required"
    assert Leg.objects.get(checkout__installment=second.public_id).failure_reason == (
        "authentication_required"
    )
    (create,) = off_session_creates(stripe_stub)
    assert create["params"]["off_session"] == "true"
    dispatch_due(worker_id="t")
    (notice,) = OutboxMessage.objects.filter(subject__startswith="Installment failed")
    link = re.search(r'href="([^"]+/plan/[^"]+)"', notice.html)[1]
    assert link == plan_url(payer, plan.public_id)

    # The payer follows the link and pays the installment themselves, through Checkout
    # (where their bank runs 3-D Secure); the card they use there is the plan's from now.
    page = client.get(plan_page(payer, plan)).content.decode()
    assert 'data-testid="pay-installment-form"' in page and 'name="card_token"' not in page
    assert "Your bank wants you to confirm this payment yourself" in page
    response = client.post(
        plan_page(payer, plan), {"action": "pay_installment", "installment": second.public_id}
    )
    assert response.status_code == 302 and response.url.startswith(stripe_stub.base_url)
    status, where = stripe_stub.complete(response.url, SAVES_AND_CHARGES)
    assert status == 303
    back = client.get(_path(where))

    assert back.status_code == 302 and "paid=co_" in back.url
    second.refresh_from_db()
    assert second.status == "paid"
    old_source = plan.source
    plan.refresh_from_db()
    assert plan.source != old_source and is_saved_source(plan.source)
    assert account(stripe_stub).payment_methods[plan.source.split("/")[1]]["card"]["last4"] == (
        "3155"
    )
    # Still one Customer for this payer: the new card is saved on the one the plan has.
    assert len(account(stripe_stub).customers) == 1
    assert len(stripe_stub.calls("POST", "customers")) == 1
    sessions = stripe_stub.calls("POST", "checkout/sessions")
    assert sessions[-1]["params"]["customer"] == old_source.split("/")[0]
    assert sessions[-1]["params"]["payment_intent_data"]["setup_future_usage"] == "off_session"
    third = plan.installments.get(position=2)
    assert services.installments_charge_due(now=third.next_attempt_at, worker_id="t") == 1
    third.refresh_from_db()
    assert third.status == "paid"


def test_an_intent_left_waiting_for_3d_secure_is_cancelled_and_the_payer_is_asked(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = make(merchant)
    plan = pay_deposit(client, payer, stripe_stub, ALWAYS_AUTHENTICATE)
    stripe_stub.off_session_authentication = "requires_action"

    second = charge_second(plan)

    assert (second.status, second.failure_reason) == ("failed", "authentication_required")
    intent = intent_of_leg(stripe_stub, Leg.objects.get(checkout__installment=second.public_id))
    assert intent["status"] == "canceled"  # nobody can authorise it later behind our back
    assert intent["amount_received"] == 0


def test_a_declined_off_session_charge_takes_the_normal_retry_path(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = make(merchant)
    plan = pay_deposit(client, payer, stripe_stub, CHARGES_DECLINED)

    second = charge_second(plan)

    assert (second.status, second.failure_reason, second.attempts) == ("failed", "declined", 1)
    zone = ZoneInfo(merchant.time_zone)
    assert second.next_attempt_at.astimezone(zone).date() == second.due_date + timedelta(
        days=plan.retry_days[0]
    )
    assert RequestEvent.objects.get(type="installment_failed").payload["reason"] == "declined"


def test_a_capture_timeout_leaves_the_attempt_unknown_and_recovery_retrieves_the_intent(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = make(merchant)
    plan = pay_deposit(client, payer, stripe_stub, SAVES_AND_CHARGES)
    stripe_stub.fail("POST", "payment_intents/*/capture", "timeout")

    second = charge_second(plan)

    # Stripe took it, but its answer came too late: nothing is booked, nothing is retried.
    assert second.status == "processing"
    checkout = Checkout.objects.get(installment=second.public_id)
    leg = checkout.legs.get()
    assert checkout.status == "pending" and leg.provider_reference.startswith("pi_")
    assert LegOperation.objects.filter(leg=leg, result="no_answer").count() == 1
    later = second.next_attempt_at + timedelta(minutes=30)
    services.installments_charge_due(now=later, worker_id="t")
    assert len(off_session_creates(stripe_stub)) == 1  # in flight: left to recovery

    assert checkouts_recover_stale(now=timezone.now() + STALE_AFTER * 2) == 1

    retrieved = stripe_stub.calls("GET", f"payment_intents/{leg.provider_reference}")
    assert retrieved, "recovery asks Stripe for the PaymentIntent"
    leg.refresh_from_db()
    second.refresh_from_db()
    assert (leg.status, second.status) == ("captured", "paid")
    assert intent_of_leg(stripe_stub, leg)["amount_received"] == second.amount
    assert len(off_session_creates(stripe_stub)) == 1


def test_an_off_session_charge_whose_answer_is_lost_is_found_by_its_key_and_released(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = make(merchant)
    plan = pay_deposit(client, payer, stripe_stub, SAVES_AND_CHARGES)
    stripe_stub.fail("POST", "payment_intents", "timeout")

    second = charge_second(plan)

    # The saga asks again at once with the same key: Stripe replays the PaymentIntent it
    # made, which is released, and the installment takes the retry path (one hold, none
    # taken, never a second PaymentIntent for the attempt).
    creates = off_session_creates(stripe_stub)
    assert len(creates) == 2 and creates[0]["idempotency_key"] == creates[1]["idempotency_key"]
    leg = Leg.objects.get(checkout__installment=second.public_id)
    intent = intent_of_leg(stripe_stub, leg)
    assert (intent["status"], intent["amount_received"]) == ("canceled", 0)
    assert (second.status, second.failure_reason, second.attempts) == (
        "failed",
        "provider_error",
        1,
    )


def test_the_expiry_of_a_saved_card_is_read_from_its_payment_method(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = make(merchant)
    today = timezone.localdate()
    plan = pay_deposit(client, payer, stripe_stub, exp_month=today.month, exp_year=today.year)
    adapter = adapter_for(merchant=merchant, method="card", livemode=False)
    assert isinstance(adapter, StripeCardAdapter)
    last = plan.installments.order_by("-position").first().due_date

    assert adapter.expires_before(plan.source, last) is True
    assert adapter.expires_before(plan.source, today) is False
    assert adapter.expires_before("card", last) is False  # nothing saved: nothing to say


def test_the_plan_page_shows_the_saved_card_and_its_expiry_without_asking_stripe(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = make(merchant)
    today = timezone.localdate()
    plan = pay_deposit(client, payer, stripe_stub, exp_month=today.month, exp_year=today.year)
    # Kept when the deposit saved it, from Stripe's own description of the card.
    assert (plan.source_brand, plan.source_last4) == ("visa", "4242")
    assert (plan.source_exp_month, plan.source_exp_year) == (today.month, today.year)
    stripe_stub.requests.clear()

    page = client.get(plan_page(payer, plan)).content.decode()
    page_again = client.get(plan_page(payer, plan)).content.decode()

    assert 'data-testid="card-expiry"' in page and "visa •••• 4242" in page
    assert "visa •••• 4242" in page_again
    assert stripe_stub.requests == []  # not one call to Stripe per render
    # Nor on the back office's page of the plan.
    from tests.factories import MembershipFactory

    operator = Client()
    operator.force_login(MembershipFactory(merchant=merchant, role="viewer").user)
    back_office = operator.get(f"/app/installments/{plan.public_id}/")
    assert back_office.status_code == 200
    assert "4242" in back_office.content.decode()
    assert stripe_stub.requests == []


def test_a_card_saved_before_its_details_were_kept_is_still_described_by_stripe(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = make(merchant)
    today = timezone.localdate()
    plan = pay_deposit(client, payer, stripe_stub, exp_month=today.month, exp_year=today.year)
    InstallmentPlan.objects.filter(pk=plan.pk).update(
        source_brand="", source_last4="", source_exp_month=None, source_exp_year=None
    )
    stripe_stub.requests.clear()

    page = client.get(plan_page(payer, plan)).content.decode()

    assert 'data-testid="card-expiry"' in page and "visa •••• 4242" in page
    assert stripe_stub.calls("GET", "payment_methods")


def test_a_card_the_payer_pays_with_replaces_the_kept_card_details(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = make(merchant)
    plan = pay_deposit(client, payer, stripe_stub, CHARGES_DECLINED)
    second = charge_second(plan)
    assert second.status == "failed"

    response = client.post(
        plan_page(payer, plan), {"action": "pay_installment", "installment": second.public_id}
    )
    today = timezone.localdate()
    status, where = stripe_stub.complete(
        response.url, "5555555555554444", exp_month=today.month, exp_year=today.year
    )
    assert status == 303
    client.get(_path(where))

    plan.refresh_from_db()
    assert (plan.source_brand, plan.source_last4) == ("mastercard", "4444")
    assert (plan.source_exp_month, plan.source_exp_year) == (today.month, today.year)
    stripe_stub.requests.clear()
    page = client.get(plan_page(payer, plan)).content.decode()
    assert "mastercard •••• 4444" in page and stripe_stub.requests == []


def test_a_card_kept_with_a_later_expiry_is_not_flagged(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = make(merchant)
    plan = pay_deposit(client, payer, stripe_stub)
    page = client.get(plan_page(payer, plan)).content.decode()
    assert 'data-testid="card-expiry"' not in page


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_postgresql_charge_each_stripe_installment_once(
    merchant, stripe_test_account, stripe_stub, settings
):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://…)")
    # Concurrent calls to the stub on a loaded machine: not the timeout tests' short limit.
    settings.STRIPE_TIMEOUT_SECONDS = 15
    plans = [
        pay_deposit(Client(), make(merchant), stripe_stub, SAVES_AND_CHARGES) for _ in range(4)
    ]
    moment = max(p.installments.get(position=1).next_attempt_at for p in plans)
    moment += timedelta(minutes=5)
    barrier = threading.Barrier(2)
    counts = []

    def worker(name: str) -> None:
        try:
            barrier.wait()
            while True:
                claimed = services.installments_charge_due(now=moment, worker_id=name, batch_size=1)
                counts.append(claimed)
                if not claimed:
                    break
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sum(counts) == len(plans)
    second = Installment.objects.filter(position=1)
    assert set(second.values_list("status", flat=True)) == {"paid"}
    creates = off_session_creates(stripe_stub)
    assert len(creates) == len(plans)
    assert len({call["idempotency_key"] for call in creates}) == len(plans)
    captured = [i for i in account(stripe_stub).intents.values() if i["status"] == "succeeded"]
    assert len(captured) == len(plans) * 2  # the deposits, then one per second installment


def payoff(client, payer, plan):
    left = sum(
        item.amount for item in plan.installments.all() if item.status in ("scheduled", "failed")
    )
    response = client.post(
        plan_page(payer, plan), {"action": "payoff", "confirmed": "1", "amount": str(left)}
    )
    return left, response


def test_a_payoff_the_bank_wants_authenticated_goes_through_stripe_checkout_and_books_once(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = make(merchant)
    plan = pay_deposit(client, payer, stripe_stub, ALWAYS_AUTHENTICATE)
    old_source = plan.source

    left, response = payoff(client, payer, plan)

    # Off-session first; on authentication_required the payer, who is on the page, is sent
    # to Stripe Checkout for exactly what is left, on the Customer of the card saved.
    (create,) = off_session_creates(stripe_stub)
    assert create["params"]["off_session"] == "true"
    assert response.status_code == 302 and response.url.startswith(
        f"{stripe_stub.base_url}/pay/cs_test_"
    ), response.content.decode()[:300]
    session = stripe_stub.calls("POST", "checkout/sessions")[-1]["params"]
    assert session["line_items"][0]["price_data"]["unit_amount"] == str(left)
    assert session["customer"] == old_source.split("/")[0]
    assert session["payment_intent_data"]["setup_future_usage"] == "off_session"
    assert set(plan.installments.exclude(position=0).values_list("status", flat=True)) == {
        "processing"
    }
    # A second post while the payer is at Stripe starts nothing.
    _, again = payoff(client, payer, plan)
    assert again.status_code == 409
    assert len(stripe_stub.calls("POST", "checkout/sessions")) == 2
    assert len(off_session_creates(stripe_stub)) == 1
    # Not replaced before it has paid.
    plan.refresh_from_db()
    assert plan.source == old_source

    status, where = stripe_stub.complete(response.url, SAVES_AND_CHARGES)
    assert status == 303
    back = client.get(_path(where))
    back_again = client.get(_path(where))

    assert back.status_code == 302 and "paid=co_" in back.url
    assert back_again.status_code == 302
    plan.refresh_from_db()
    assert plan.status == "completed"
    assert set(plan.installments.values_list("status", flat=True)) == {"paid"}
    assert is_saved_source(plan.source) and plan.source != old_source
    assert plan.source.split("/")[0] == old_source.split("/")[0]
    assert plan.source_last4 == "3155"
    succeeded = [i for i in account(stripe_stub).intents.values() if i["status"] == "succeeded"]
    assert sorted(i["amount_received"] for i in succeeded) == sorted([10000, left])
    assert RequestEvent.objects.filter(type="installment_plan_completed").count() == 1


def test_a_payoff_left_at_stripe_checkout_keeps_the_card_and_the_schedule(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = make(merchant)
    plan = pay_deposit(client, payer, stripe_stub, ALWAYS_AUTHENTICATE)
    old_source = plan.source
    _, response = payoff(client, payer, plan)
    assert response.status_code == 302
    sid = response.url.rsplit("/", 1)[-1].partition("?")[0]
    cancel_url = account(stripe_stub).sessions[sid]["cancel_url"]

    back = client.get(_path(cancel_url))

    assert back.status_code in (200, 402)
    plan.refresh_from_db()
    assert (plan.status, plan.source) == ("active", old_source)
    assert set(plan.installments.exclude(position=0).values_list("status", flat=True)) == {
        "scheduled"
    }
    assert account(stripe_stub).sessions[sid]["status"] == "expired"
    # The schedule goes on: the job takes the next installment again.
    second = plan.installments.get(position=1)
    assert services.installments_charge_due(now=second.next_attempt_at, worker_id="t") == 1


def test_a_payoff_the_saved_card_pays_off_session_keeps_that_card(
    client, merchant, stripe_test_account, stripe_stub
):
    payer = make(merchant)
    plan = pay_deposit(client, payer, stripe_stub, SAVES_AND_CHARGES)
    old_source = plan.source

    _, response = payoff(client, payer, plan)

    assert response.status_code == 302 and "paid=co_" in response.url
    assert len(stripe_stub.calls("POST", "checkout/sessions")) == 1  # the deposit's only
    plan.refresh_from_db()
    assert (plan.status, plan.source, plan.source_last4) == ("completed", old_source, "3155")


@pytest.mark.django_db(transaction=True)
def test_two_payoff_posts_at_once_on_postgresql_start_one_payment_only(
    merchant, stripe_test_account, stripe_stub, settings
):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://…)")
    # Concurrent calls to the stub on a loaded machine: not the timeout tests' short limit.
    settings.STRIPE_TIMEOUT_SECONDS = 15
    payer = make(merchant)
    plan = pay_deposit(Client(), payer, stripe_stub, ALWAYS_AUTHENTICATE)
    barrier = threading.Barrier(2)
    answers = []

    def post() -> None:
        try:
            barrier.wait()
            answers.append(payoff(Client(), payer, plan)[1].status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(answers) == [302, 409]
    assert len(off_session_creates(stripe_stub)) == 1
    assert len(stripe_stub.calls("POST", "checkout/sessions")) == 2  # the deposit's, then one
