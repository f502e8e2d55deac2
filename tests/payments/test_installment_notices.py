"""What a payer on an installment plan is told: the summary with every date and amount, a
notice before each charge (once), the failure notice with a link to pay another way, the
receipt of each charge; and no "unpaid" reminders of the request while the plan runs."""

import re
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import time_machine

from notifications.dispatcher import dispatch_due
from notifications.selectors import template_for_stage
from payments.installments import services
from payments.installments.notices import installment_due_notices_emit
from payments.models import InstallmentPlan, SandboxLedgerEntry
from payments.sandbox.selectors import sandbox_card_balance
from requests_app.links import plan_url
from requests_app.models import RequestEvent
from scenarios.models import Dispatch, OutboxMessage
from tests.factories import make_request, participants
from tests.payments.conftest import SUCCEEDS
from tests.payments.test_installment_plans import refuse_merchant_initiated_charges
from tests.scenarios.helpers import make_scenario, step

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbox")]

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2030, 1, 10, 12, 0, tzinfo=PARIS)
INSTALLMENT_STEPS = (
    "installment_plan_confirmed",
    "installment_due",
    "installment_failed",
    "installment_succeeded",
    "installment_plan_completed",
)


@pytest.fixture
def outbox(settings):
    settings.EMAIL_BACKEND = "notifications.outbox_backend.OutboxEmailBackend"
    settings.SMS_BACKEND = "outbox"
    settings.SCENARIOS_ENQUEUE_ON_COMMIT = False
    return settings


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def at(moment: datetime, job) -> object:
    with time_machine.travel(moment, tick=False):
        return job()


def send(moment: datetime) -> list[OutboxMessage]:
    before = set(OutboxMessage.objects.values_list("pk", flat=True))
    at(moment, lambda: dispatch_due(worker_id="t"))
    return list(OutboxMessage.objects.exclude(pk__in=before).order_by("id"))


def charge(moment: datetime) -> int:
    return at(moment, lambda: services.installments_charge_due(now=moment, worker_id="t"))


def notices(moment: datetime) -> int:
    return at(moment, lambda: installment_due_notices_emit(now=moment))


def scenario_of_installment_steps(merchant, *extra):
    steps = [
        step(trigger, None, channel="email", audience="all_participants")
        for trigger in INSTALLMENT_STEPS
    ]
    return make_scenario(merchant, [*steps, *extra])


def plan_for(merchant, payer_count=1, scenario=None, language="fr"):
    with time_machine.travel(START, tick=False):
        payment_request = make_request(
            merchant,
            total_amount=30000 * payer_count,
            participants=participants(payer_count, amount=30000),
            deadline=START + timedelta(days=200),
            expires_at=START + timedelta(days=300),
            scenario=scenario,
            language=language,
        )
    return payment_request, list(payment_request.participants.order_by("position"))


def test_every_installment_trigger_has_a_french_and_english_email_and_sms_installed(merchant):
    for stage in (
        "installment_plan_confirmed",
        "installment_due_soon",
        "installment_failed",
        "installment_succeeded",
        "installment_plan_completed",
        "installment_plan_defaulted",
        "installment_plan_cancelled",
    ):
        for channel in ("email", "sms"):
            template = template_for_stage(merchant=merchant, stage=stage, channel=channel)
            assert template is not None, (stage, channel)
            assert set(template.body_text) == {"fr", "en"}, (stage, channel)


def test_a_scenario_step_may_name_each_new_trigger_and_gets_its_default(merchant):
    scenario = scenario_of_installment_steps(
        merchant,
        step("installment_plan_defaulted", None, channel="sms"),
        step("installment_plan_cancelled", None, channel="email"),
    )
    stages = [s.template.default_stage for s in scenario.steps.order_by("position")]
    assert stages == [
        "installment_plan_confirmed",
        "installment_due_soon",
        "installment_failed",
        "installment_succeeded",
        "installment_plan_completed",
        "installment_plan_defaulted",
        "installment_plan_cancelled",
    ]


def test_a_plan_whose_second_charge_fails_once_then_succeeds_tells_the_payer_each_step(
    merchant, tokenise, monkeypatch
):
    scenario = scenario_of_installment_steps(merchant)
    _request, (payer,) = plan_for(merchant, scenario=scenario)
    token = at(START, lambda: tokenise(SUCCEEDS))
    at(
        START,
        lambda: services.installment_plan_start(
            participant=payer, source=token, count=3, interval_unit="month"
        ),
    )

    sent = send(START)
    # The scenario's installment_succeeded step is the charge's receipt: payments' own
    # receipt steps aside, so the payer gets one message per charge, not two.
    assert not [m for m in sent if m.subject.startswith("Votre paiement à")]
    summary, first_receipt = sent
    text = plain(summary.text)
    assert payer.email in str(summary.to)
    assert "Votre échéancier" in summary.subject
    for line in (
        "- 10 janvier 2030 : 100,00 €",
        "- 10 février 2030 : 100,00 €",
        "- 10 mars 2030 : 100,00 €",
    ):
        assert line in text, text
    assert plain(summary.html).count("<li>") == 3
    assert "Échéance réglée" in first_receipt.subject
    assert "100,00 €" in plain(first_receipt.text)
    assert "- 10 février 2030 : 100,00 €" in plain(first_receipt.text)  # what comes next
    assert "10 janvier 2030" not in plain(first_receipt.text).split("Prochaines")[1]

    # Three days before the second charge (09:00 on 10 February, Paris).
    assert notices(datetime(2030, 2, 6, 9, 0, tzinfo=PARIS)) == 0
    assert notices(datetime(2030, 2, 7, 10, 0, tzinfo=PARIS)) == 1
    (due,) = send(datetime(2030, 2, 7, 10, 0, tzinfo=PARIS))
    assert "Prochaine échéance le 10 février 2030 à 09:00" in plain(due.subject)
    assert "100,00 €" in plain(due.text)

    refuse_merchant_initiated_charges(monkeypatch, times=1)
    assert charge(datetime(2030, 2, 10, 9, 5, tzinfo=PARIS)) == 1
    (failure,) = send(datetime(2030, 2, 10, 9, 5, tzinfo=PARIS))
    text = plain(failure.text)
    assert "Échéance impayée" in failure.subject
    assert "100,00 €" in text
    assert "11 février 2030 à 09:00" in text  # the next automatic try
    # The link goes to the plan's own page, where this installment is paid another way.
    link = plan_url(payer, InstallmentPlan.objects.get(participant=payer).public_id)
    assert link in text
    assert f'href="{link}"' in failure.html

    assert charge(datetime(2030, 2, 11, 9, 5, tzinfo=PARIS)) == 1
    (receipt,) = send(datetime(2030, 2, 11, 9, 5, tzinfo=PARIS))
    assert "Échéance réglée" in receipt.subject
    assert "- 10 mars 2030 : 100,00 €" in plain(receipt.text)
    assert "10 février 2030 :" not in plain(receipt.text)

    plan_notices = [
        m.subject
        for m in OutboxMessage.objects.order_by("id")
        if not m.subject.startswith("Votre paiement à")
    ]
    assert len(plan_notices) == 5  # summary, receipt, due, failure, receipt


def test_a_second_charge_that_fails_twice_is_paid_from_the_failure_notices_link(
    merchant, tokenise, client, settings
):
    """The issue's scenario, end to end with the real sandbox: a card that expires in
    January pays the first of three installments, is refused for expiry on 10 and 11
    February, and the payer follows the second failure notice's link and pays that
    installment with another card, which then pays the third."""
    scenario = scenario_of_installment_steps(merchant)
    _request, (payer,) = plan_for(merchant, scenario=scenario)
    expiring = at(START, lambda: tokenise(SUCCEEDS, exp_month=1, exp_year=2030))
    plan = at(
        START,
        lambda: services.installment_plan_start(
            participant=payer, source=expiring, count=3, interval_unit="month"
        ),
    )
    summary, first_receipt = send(START)
    assert "Votre échéancier" in summary.subject
    assert "Échéance réglée" in first_receipt.subject

    failures = []
    for day in (10, 11):
        moment = datetime(2030, 2, day, 9, 5, tzinfo=PARIS)
        assert charge(moment) == 1
        (failure,) = send(moment)
        failures.append(failure)
    second = plan.installments.get(position=1)
    assert (second.status, second.attempts, second.failure_reason) == (
        "failed",
        2,
        "expired_card",
    )
    assert all("Échéance impayée" in f.subject for f in failures)
    assert "13 février 2030 à 09:00" in plain(failures[1].text)  # the next automatic try

    # The payer follows the link of the last notice, as their mail client would.
    link = re.search(r'href="([^"]+/plan/[^"]+)"', failures[1].html)[1]
    assert link == plan_url(payer, plan.public_id)
    assert link.startswith(settings.PUBLIC_BASE_URL)
    later = datetime(2030, 2, 11, 18, 0, tzinfo=PARIS)
    with time_machine.travel(later, tick=False):
        page = client.get(link)
        assert page.status_code == 200
        html = unescape(page.content.decode())
        assert "Cette carte a expiré" in html  # why the charge failed
        assert 'data-testid="card-expiry"' in html  # the card on file will not last
        other = tokenise("5555 5555 5555 4444")
        paid = client.post(
            link,
            {"action": "pay_installment", "installment": second.public_id, "card_token": other},
        )
    assert paid.status_code == 302
    (receipt,) = send(later)
    assert "Échéance réglée" in receipt.subject
    assert "- 10 mars 2030 : 100,00 €" in plain(receipt.text)

    third_day = datetime(2030, 3, 10, 9, 5, tzinfo=PARIS)
    assert charge(third_day) == 1
    last_receipt, completed = send(third_day)
    assert "Échéance réglée" in last_receipt.subject
    assert "Échéancier terminé" in completed.subject

    # The acquirer's books: one debit on the expiring card, two refused holds, two debits
    # on the card that replaced it; nothing else.
    assert sandbox_card_balance(token=expiring).debited == 10000
    assert sandbox_card_balance(token=other).debited == 20000
    entries = [
        (e.kind, e.amount, e.status, e.failure_reason)
        for e in SandboxLedgerEntry.objects.filter(merchant=merchant).order_by("id")
    ]
    assert entries == [
        ("hold", 10000, "succeeded", ""),
        ("capture", 10000, "succeeded", ""),
        ("hold", 10000, "failed", "expired_card"),
        ("hold", 10000, "failed", "expired_card"),
        ("hold", 10000, "succeeded", ""),
        ("capture", 10000, "succeeded", ""),
        ("hold", 10000, "succeeded", ""),
        ("capture", 10000, "succeeded", ""),
    ]
    # And the payer's messages: exactly these, in this order.
    subjects = [
        re.split(r" pour | :", m.subject)[0]
        for m in OutboxMessage.objects.order_by("id")
        if not m.subject.startswith("Votre paiement à")
    ]
    assert subjects == [
        "Votre échéancier",
        "Échéance réglée",
        "Échéance impayée",
        "Échéance impayée",
        "Échéance réglée",
        "Échéance réglée",
        "Échéancier terminé",
    ], subjects
    plan.refresh_from_db()
    assert (plan.status, plan.source) == ("completed", other)


def test_installment_due_is_recorded_once_per_installment(merchant, tokenise):
    _request, (payer,) = plan_for(merchant)
    token = at(START, lambda: tokenise(SUCCEEDS))
    at(
        START,
        lambda: services.installment_plan_start(
            participant=payer, source=token, count=3, interval_unit="month"
        ),
    )
    second, third = payer.installment_plans.get().installments.filter(position__gt=0)

    assert notices(datetime(2030, 2, 7, 8, 59, tzinfo=PARIS)) == 0
    assert notices(datetime(2030, 2, 7, 9, 0, tzinfo=PARIS)) == 1  # three days before
    assert notices(datetime(2030, 2, 8, 9, 1, tzinfo=PARIS)) == 0
    assert notices(datetime(2030, 2, 9, 9, 1, tzinfo=PARIS)) == 0
    charge(datetime(2030, 2, 10, 9, 5, tzinfo=PARIS))
    assert notices(datetime(2030, 3, 8, 9, 0, tzinfo=PARIS)) == 1
    assert notices(datetime(2030, 3, 8, 9, 0, tzinfo=PARIS)) == 0

    recorded = RequestEvent.objects.filter(type="installment_due").order_by("id")
    assert [e.payload["installment"] for e in recorded] == [second.public_id, third.public_id]
    assert recorded[0].payload["amount"] == 10000
    assert recorded[0].payload["due_at"] == second.next_attempt_at.isoformat()


def test_no_due_notice_when_the_setting_is_zero(merchant, tokenise, settings):
    settings.INSTALLMENT_DUE_NOTICE_DAYS = 0
    _request, (payer,) = plan_for(merchant)
    token = at(START, lambda: tokenise(SUCCEEDS))
    at(
        START,
        lambda: services.installment_plan_start(
            participant=payer, source=token, count=3, interval_unit="month"
        ),
    )
    assert notices(datetime(2030, 2, 9, 9, 0, tzinfo=PARIS)) == 0


def test_a_payer_on_a_running_plan_gets_no_unpaid_reminders_but_the_others_do(merchant, tokenise):
    reminder = template_for_stage(
        merchant=merchant, stage="reminder_before_deadline", channel="email"
    )
    scenario = make_scenario(
        merchant,
        [
            step("before_deadline", reminder, offset="P2D"),
            step(
                "before_deadline",
                reminder,
                offset="P1D",
                audience="all_participants",
                conditions={"only_if_unpaid": True},
            ),
        ],
    )
    payment_request, (on_plan, other) = plan_for(merchant, payer_count=2, scenario=scenario)
    token = at(START, lambda: tokenise(SUCCEEDS))
    at(
        START,
        lambda: services.installment_plan_start(
            participant=on_plan, source=token, count=3, interval_unit="month"
        ),
    )

    send(START)  # the first charge's receipt
    sent = send(payment_request.deadline - timedelta(hours=1))

    recipients = sorted(str(m.to) for m in sent)
    assert len(sent) == 2
    assert all(other.email in r for r in recipients)
    skipped = Dispatch.objects.filter(participant=on_plan, step__trigger="before_deadline")
    assert skipped.count() == 2
    assert {d.status for d in skipped} == {"skipped"}
    assert {d.skip_reason for d in skipped} == {"on_installment_plan"}


def test_reminders_come_back_once_the_plan_is_cancelled(merchant, tokenise):
    reminder = template_for_stage(
        merchant=merchant, stage="reminder_before_deadline", channel="email"
    )
    scenario = make_scenario(merchant, [step("before_deadline", reminder, offset="P2D")])
    payment_request, (payer,) = plan_for(merchant, scenario=scenario)
    token = at(START, lambda: tokenise(SUCCEEDS))
    plan = at(
        START,
        lambda: services.installment_plan_start(
            participant=payer, source=token, count=3, interval_unit="month"
        ),
    )
    at(START, lambda: services.installment_plan_cancel(plan=plan))

    send(START)  # the first charge's receipt
    sent = send(payment_request.deadline - timedelta(days=1))

    assert len(sent) == 1


def test_the_defaulted_notice_links_to_the_plan_page_which_offers_the_balance(
    merchant, tokenise, client, monkeypatch
):
    scenario = scenario_of_installment_steps(
        merchant, step("installment_plan_defaulted", None, channel="email")
    )
    _request, (payer,) = plan_for(merchant, scenario=scenario)
    token = at(START, lambda: tokenise(SUCCEEDS))
    plan = at(
        START,
        lambda: services.installment_plan_start(
            participant=payer, source=token, count=3, interval_unit="month"
        ),
    )
    refuse_merchant_initiated_charges(monkeypatch, times=10)
    for day in (10, 11, 13, 17):
        charge(datetime(2030, 2, day, 9, 5, tzinfo=PARIS))
    sent = send(datetime(2030, 2, 17, 9, 5, tzinfo=PARIS))

    (stopped,) = [m for m in sent if "interrompu" in m.subject]
    link = plan_url(payer, plan.public_id)
    assert f'href="{link}"' in stopped.html and link in stopped.text
    with time_machine.travel(datetime(2030, 2, 17, 10, 0, tzinfo=PARIS), tick=False):
        html = client.get(link).content.decode()
    assert 'data-status="defaulted"' in html
    assert f'href="/pay/{payer.link_token}/?lang=fr"' in html  # pay the balance there
