"""Installment plans: start one at checkout, charge what falls due, retry, default.

The first charge (the deposit, or the first installment) is an ordinary checkout taken
while the payer is there; later ones are merchant-initiated charges of the card token the
acquirer keeps. Every charge is a checkout tagged with its installment, so the saga's
guarantees (reserve, idempotency, recovery) apply unchanged, and a plan moves only when a
checkout's outcome is booked: ``payments.installments.reactions`` settles the installment
in the booking transaction from the ``payment_succeeded`` / ``payment_failed`` events.

Charging claims due installments as the outbox claims its rows: ``SKIP LOCKED`` under a
short transaction, a lease, and our own attempt counter, so several clusters never charge
one twice and a worker that dies mid-charge leaves a lease that runs out.

A plan's fee is money the payer pays for the plan, on top of their share. It rides on the
first installment after the deposit (with the rounding remainder), is kept apart on that
installment and its checkout (``fee_amount``), and is never booked on the share: the
participant's ``amount_paid`` reaches exactly the share on the last installment, which is
when the share counts as paid. Refunds give back the share collected, never the fee.
"""

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from pushpay.errors import DomainError, InvalidInput, StateConflict
from requests_app.events import event_record
from requests_app.locks import lock_request
from requests_app.models import Participant

from ..models import Checkout, Leg
from .models import DEFAULT_RETRY_DAYS, Installment, InstallmentPlan
from .outbox import default_alert_plan
from .schedule import schedule_build

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
# ``leased_by`` of installments a pay-off holds while it runs.
PAYOFF = "payoff"
# ``leased_by`` of a failed installment the payer is paying from their link with another card.
PAYER = "payer"
HELD_BY_PAYER = (PAYOFF, PAYER)
# The failure of a charge the payer's bank wants them to authenticate (FailureReason).
AUTHENTICATION_REQUIRED = "authentication_required"
# Merchant-initiated charges run at this local hour on their due date.
CHARGE_HOUR = time(9, 0)


def _zone(plan_or_merchant) -> ZoneInfo:
    merchant = getattr(plan_or_merchant, "merchant", plan_or_merchant)
    return ZoneInfo(merchant.time_zone)


def _charge_at(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, CHARGE_HOUR, tzinfo=zone)


def _plan_transition(plan: InstallmentPlan, target: str) -> None:
    if plan.status != target and target not in InstallmentPlan.TRANSITIONS[plan.status]:
        raise StateConflict(
            f"A {plan.status} plan cannot become {target}.",
            code="invalid_status_transition",
            field="status",
        )
    plan.status = target
    plan.save(update_fields=["status", "updated_at"])


def _schedule_payload(plan: InstallmentPlan) -> list[dict]:
    return [
        {
            "installment": item.public_id,
            "due_date": item.due_date.isoformat(),
            "amount": item.amount,
            "deposit": item.is_deposit,
        }
        for item in plan.installments.all()
    ]


def _event(plan: InstallmentPlan, type: str, **payload) -> None:
    event_record(
        type=type,
        payment_request=plan.request,
        participant=plan.participant,
        payload={"plan": plan.public_id, **payload},
    )


def installment_plan_start(
    *,
    participant: Participant,
    source: str,
    count: int,
    interval_unit: str,
    interval_count: int = 1,
    start_date: date | None = None,
    deposit_amount: int = 0,
    deposit_date: date | None = None,
    fee_amount: int = 0,
    language: str = "",
    return_url: Callable[[Checkout], str] | None = None,
    retry_days: list[int] | None = None,
) -> InstallmentPlan:
    """Spread the participant's remaining share and take the first charge now.

    Returns the plan: active when the first charge was taken, pending while the payer
    passes 3-D Secure, cancelled when it was refused (the payer may try again).
    """
    from .. import services as payment_services  # the saga; imported late (it imports us)

    payment_request = participant.request
    if participant.amount is None:
        raise InvalidInput(
            "Installments spread a fixed share.", code="installments_need_a_share", field="amount"
        )
    retry_days = DEFAULT_RETRY_DAYS if retry_days is None else retry_days
    if not isinstance(retry_days, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 60 for d in retry_days
    ):
        raise InvalidInput(
            "Retries are days after the due date (1 to 60).", code="invalid", field="retry_days"
        )
    zone = _zone(payment_request.merchant)
    schedule = schedule_build(
        amount=participant.amount_due,
        currency=payment_request.currency,
        count=count,
        interval_unit=interval_unit,
        interval_count=interval_count,
        start_date=start_date,
        deposit_amount=deposit_amount,
        deposit_date=deposit_date,
        fee_amount=fee_amount,
        today=timezone.localdate(timezone=zone),
    )
    lines = ([schedule.deposit] if schedule.deposit else []) + list(schedule.installments)
    with transaction.atomic():
        lock_request(payment_request.pk)
        if InstallmentPlan.objects.filter(
            participant=participant,
            status__in=[InstallmentPlan.Status.PENDING, InstallmentPlan.Status.ACTIVE],
        ).exists():
            raise StateConflict(
                "This share is already being paid in installments.",
                code="plan_already_running",
                field="installments",
            )
        plan = InstallmentPlan.objects.create(
            merchant=payment_request.merchant,
            livemode=payment_request.livemode,
            request=payment_request,
            participant=participant,
            currency=payment_request.currency,
            amount=schedule.total,
            fee_amount=schedule.fee_amount,
            count=count,
            interval_unit=interval_unit,
            interval_count=interval_count,
            source=source,
            retry_days=retry_days,
            language=language or participant.language,
        )
        # The fee rides on the first installment after the deposit (schedule_build's rule).
        fee_at = 1 if schedule.deposit else 0
        items = [
            Installment.objects.create(
                plan=plan,
                position=index,
                is_deposit=bool(schedule.deposit) and index == 0,
                due_date=line.due_date,
                amount=line.amount,
                fee_amount=schedule.fee_amount if index == fee_at else 0,
                next_attempt_at=_charge_at(line.due_date, zone),
            )
            for index, line in enumerate(lines)
        ]
        first = items[0]
        first.status, first.attempts = Installment.Status.PROCESSING, 1
        first.save(update_fields=["status", "attempts", "updated_at"])
    try:
        payment_services.checkout_start(
            participant=participant,
            method=plan.method,
            source=source,
            amount=first.amount,
            language=plan.language,
            return_url=return_url,
            installment=first.public_id,
            fee_amount=first.fee_amount,
        )
    except DomainError:
        with transaction.atomic():
            Installment.objects.filter(plan=plan).update(status=Installment.Status.CANCELLED)
            _plan_transition(
                InstallmentPlan.objects.select_for_update().get(pk=plan.pk), "cancelled"
            )
        raise
    plan.refresh_from_db()
    return plan


def installment_settle(
    *, checkout_public_id: str, installment_public_id: str, paid: bool, reason: str = ""
) -> None:
    """Move an installment (and its plan) on the outcome of its checkout. Runs inside the
    booking transaction (an event reaction); replaying an outcome changes nothing."""
    installment = (
        Installment.objects.select_for_update()
        .select_related("plan", "plan__request", "plan__participant", "plan__merchant")
        .filter(public_id=installment_public_id)
        .first()
    )
    if installment is None or installment.status not in (
        Installment.Status.PROCESSING,
        Installment.Status.SCHEDULED,
        Installment.Status.FAILED,
    ):
        return
    plan = InstallmentPlan.objects.select_for_update().get(pk=installment.plan_id)
    by_payer = installment.leased_by == PAYER
    installment.checkout = checkout_public_id
    installment.lease_until, installment.leased_by = None, ""
    if by_payer and not paid:
        # The payer's other card was refused while they were on the page, which tells them:
        # the installment waits for its next automatic try as before, and this attempt
        # counts against no retry (a payer trying cards must never default their plan).
        installment.status = Installment.Status.FAILED
        installment.save()
        return
    if paid:
        installment.status, installment.failure_reason = Installment.Status.PAID, ""
        installment.save()
        if by_payer or plan.status == InstallmentPlan.Status.PENDING:
            # The first charge (or the payer's own) may have saved the card with the
            # provider (Stripe keeps it for charges made without the payer): it is the
            # plan's card from now on.
            _source_replace(plan, checkout_public_id)
        if plan.status == InstallmentPlan.Status.PENDING:
            _plan_transition(plan, InstallmentPlan.Status.ACTIVE)
            _event(
                plan,
                "installment_plan_confirmed",
                schedule=_schedule_payload(plan),
                total=plan.amount,
            )
        _event(
            plan,
            "installment_succeeded",
            installment=installment.public_id,
            amount=installment.amount,
        )
        if not plan.installments.exclude(
            status__in=[Installment.Status.PAID, Installment.Status.CANCELLED]
        ).exists():
            _plan_transition(plan, InstallmentPlan.Status.COMPLETED)
            _event(plan, "installment_plan_completed", total=plan.amount)
        return
    installment.failure_reason = reason[:32]
    if plan.status == InstallmentPlan.Status.PENDING:
        # The first charge was refused: nothing to collect later, the payer may start over.
        installment.status = Installment.Status.CANCELLED
        installment.save()
        plan.installments.exclude(pk=installment.pk).update(status=Installment.Status.CANCELLED)
        _plan_transition(plan, InstallmentPlan.Status.CANCELLED)
        return
    retries = plan.retry_days
    if reason == AUTHENTICATION_REQUIRED and 0 < installment.attempts < len(retries):
        # The bank wants the payer for this charge: trying again without them would fail
        # the same way. The failure notice sends them to the plan page to pay it (3-D
        # Secure there); the one automatic try left is at the end of the retry window.
        installment.attempts = len(retries)
    if installment.attempts <= len(retries):
        retry_at = _charge_at(
            installment.due_date + timedelta(days=retries[installment.attempts - 1]), _zone(plan)
        )
        installment.status, installment.next_attempt_at = Installment.Status.FAILED, retry_at
        installment.save()
        _event(
            plan,
            "installment_failed",
            installment=installment.public_id,
            amount=installment.amount,
            reason=reason,
            retry_at=retry_at.isoformat(),
        )
        return
    installment.status = Installment.Status.DEFAULTED
    installment.save()
    plan.installments.filter(status__in=Installment.DUE).update(status=Installment.Status.CANCELLED)
    _plan_transition(plan, InstallmentPlan.Status.DEFAULTED)
    default_alert_plan(plan=plan)
    _event(
        plan,
        "installment_failed",
        installment=installment.public_id,
        amount=installment.amount,
        reason=reason,
        retry_at=None,
    )
    _event(plan, "installment_plan_defaulted", installment=installment.public_id)


def _source_replace(plan: InstallmentPlan, checkout_public_id: str) -> None:
    """The card that just paid becomes the plan's card for the charges still to come; only
    once it has paid, so a mistyped or refused card never replaces one that works."""
    saved, given, *card = (
        Leg.objects.filter(checkout__public_id=checkout_public_id, method=plan.method)
        .values_list(
            "saved_source",
            "source",
            "source_brand",
            "source_last4",
            "source_exp_month",
            "source_exp_year",
        )
        .first()
    ) or ("", "", "", "", None, None)
    source = saved or given
    if source and source != plan.source:
        plan.source = source
        # What the provider told us of that card when it was saved: the plan page shows
        # it (and its expiry warning) without asking the provider each time.
        if saved:
            _source_card_set(plan, *card)
        else:
            _source_card_set(plan, "", "", None, None)
        plan.save(update_fields=["source", *SOURCE_CARD_FIELDS, "updated_at"])


SOURCE_CARD_FIELDS = ("source_brand", "source_last4", "source_exp_month", "source_exp_year")


def _source_card_set(plan: InstallmentPlan, brand, last4, exp_month, exp_year) -> None:
    plan.source_brand, plan.source_last4 = brand or "", last4 or ""
    plan.source_exp_month, plan.source_exp_year = exp_month, exp_year


def installments_claim(*, now: datetime, worker_id: str, batch_size: int = 50) -> list[int]:
    """Lease due installments of active plans (and those whose lease ran out)."""
    with transaction.atomic():
        rows = list(
            Installment.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(plan__status=InstallmentPlan.Status.ACTIVE)
            # Held by a pay-off or by the payer on their page: see the sweeps.
            .exclude(leased_by__in=HELD_BY_PAYER)
            .filter(
                Q(status__in=Installment.DUE, next_attempt_at__lte=now)
                | Q(status=Installment.Status.PROCESSING, lease_until__lt=now)
            )
            .order_by("next_attempt_at", "id")[:batch_size]
        )
        for row in rows:
            row.status = Installment.Status.PROCESSING
            row.lease_until, row.leased_by = now + LEASE, worker_id[:80]
            row.save(update_fields=["status", "lease_until", "leased_by", "updated_at"])
    return [row.pk for row in rows]


def _charge(installment_pk: int) -> None:
    from .. import services as payment_services

    installment = Installment.objects.select_related(
        "plan", "plan__participant", "plan__participant__request"
    ).get(pk=installment_pk)
    plan = installment.plan
    last = Checkout.objects.filter(installment=installment.public_id).order_by("-id").first()
    if last is not None and last.status in Checkout.IN_FLIGHT:
        return  # the saga (or its recovery) is finishing it; its outcome settles this row
    if last is not None and last.status == Checkout.Status.SUCCEEDED:
        with transaction.atomic():
            installment_settle(
                checkout_public_id=last.public_id,
                installment_public_id=installment.public_id,
                paid=True,
            )
        return
    if last is not None and installment.checkout != last.public_id:
        # A lost outcome (the checkout was released, say): count it as a failed attempt.
        with transaction.atomic():
            installment_settle(
                checkout_public_id=last.public_id,
                installment_public_id=installment.public_id,
                paid=False,
                reason=last.failure_reason or "abandoned",
            )
        installment.refresh_from_db()
        if installment.status != Installment.Status.PROCESSING:
            return
    Installment.objects.filter(pk=installment.pk).update(attempts=installment.attempts + 1)
    try:
        payment_services.checkout_start(
            participant=plan.participant,
            method=plan.method,
            source=plan.source,
            amount=installment.amount,
            language=plan.language,
            installment=installment.public_id,
            fee_amount=installment.fee_amount,
        )
    except DomainError as exc:  # refused before any checkout existed
        with transaction.atomic():
            installment_settle(
                checkout_public_id="",
                installment_public_id=installment.public_id,
                paid=False,
                reason=exc.code,
            )


def installments_charge_due(
    *, now: datetime | None = None, worker_id: str = "", batch_size: int = 50
) -> int:
    """Charge the installments that fall due; returns how many were attempted."""
    now = now or timezone.now()
    _payoffs_sweep(now)
    _payer_holds_sweep(now)
    claimed = installments_claim(now=now, worker_id=worker_id or "worker", batch_size=batch_size)
    for pk in claimed:
        try:
            _charge(pk)
        except Exception:  # one broken row must not stop the batch; its lease runs out
            logger.exception("Charging installment %s failed", pk)
    return len(claimed)


def installment_plan_cancel(*, plan: InstallmentPlan) -> InstallmentPlan:
    """Stop a plan: nothing more is charged. What was collected stays (refund it apart)."""
    with transaction.atomic():
        plan = InstallmentPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.status not in (InstallmentPlan.Status.PENDING, InstallmentPlan.Status.ACTIVE):
            raise StateConflict(
                f"This plan is {plan.status}: there is nothing left to cancel.",
                code="plan_not_running",
                field="status",
            )
        _plan_transition(plan, InstallmentPlan.Status.CANCELLED)
        plan.installments.filter(
            status__in=[*Installment.DUE, Installment.Status.PROCESSING]
        ).update(status=Installment.Status.CANCELLED, lease_until=None, leased_by="")
        _event(plan, "installment_plan_cancelled")
    return plan


def _running(plan: InstallmentPlan) -> InstallmentPlan:
    # The request, then the plan alone (``of=("self",)``), as the saga's booking locks them:
    # locking the joined merchant, request and participant rows too took them in another
    # order than the booking's, and two payers' posts (a pay-off and a booking) could
    # deadlock on PostgreSQL.
    lock_request(plan.request_id)
    plan = (
        InstallmentPlan.objects.select_for_update(of=("self",))
        .select_related("request", "participant", "merchant")
        .get(pk=plan.pk)
    )
    if plan.status != InstallmentPlan.Status.ACTIVE:
        raise StateConflict(
            f"This plan is {plan.status}: its schedule can no longer change.",
            code="plan_not_active",
            field="status",
        )
    return plan


def _remaining(plan: InstallmentPlan) -> list[Installment]:
    """The installments still to collect; refused while one is being charged, since its
    outcome could change what is left."""
    rows = list(
        plan.installments.select_for_update().exclude(
            status__in=[
                Installment.Status.PAID,
                Installment.Status.CANCELLED,
                Installment.Status.DEFAULTED,
            ]
        )
    )
    if any(row.status == Installment.Status.PROCESSING for row in rows):
        raise StateConflict(
            "An installment of this plan is being charged; try again in a few minutes.",
            code="installment_processing",
            field="installments",
        )
    return rows


def installment_reschedule(
    *, plan: InstallmentPlan, installment_public_id: str, due_date: date
) -> InstallmentPlan:
    """Move one future installment's date (the amounts, hence the sum, stay as they are).
    The order of the schedule is kept: the new date falls after the previous installment
    and before the next one. The payer is told the new schedule."""
    with transaction.atomic():
        plan = _running(plan)
        rows = list(plan.installments.select_for_update())
        target = next((row for row in rows if row.public_id == installment_public_id), None)
        if target is None:
            raise InvalidInput(
                "No such installment in this plan.", code="unknown_installment", field="installment"
            )
        if target.status not in Installment.DUE:
            raise StateConflict(
                f"This installment is {target.status}: its date can no longer move.",
                code="installment_not_scheduled",
                field="installment",
            )
        today = timezone.localdate(timezone=_zone(plan))
        before = [row.due_date for row in rows if row.position < target.position]
        after = [row.due_date for row in rows if row.position > target.position]
        if (
            due_date <= today
            or (before and due_date <= max(before))
            or (after and due_date >= min(after))
        ):
            raise InvalidInput(
                "The new date must be in the future, after the previous installment and "
                "before the next one.",
                code="date_out_of_order",
                field="due_date",
            )
        target.due_date = due_date
        target.next_attempt_at = _charge_at(due_date, _zone(plan))
        target.save(update_fields=["due_date", "next_attempt_at", "updated_at"])
        _event(
            plan,
            "installment_plan_confirmed",
            change="rescheduled",
            schedule=_schedule_payload(plan),
            total=plan.amount,
        )
    return plan


def installment_plan_resplit(
    *,
    plan: InstallmentPlan,
    count: int,
    interval_unit: str,
    interval_count: int = 1,
    start_date: date | None = None,
) -> InstallmentPlan:
    """Spread what is left to collect over a new set of installments; the sum stays exact
    (the remainder goes on the first new one) and the payer is told the new schedule."""
    with transaction.atomic():
        plan = _running(plan)
        remaining = _remaining(plan)
        left = sum(row.amount for row in remaining)
        # A fee not yet collected stays a fee: it rides on the first new installment.
        fee_left = sum(row.fee_amount for row in remaining)
        if not left:
            raise StateConflict(
                "Nothing is left to collect.", code="nothing_left", field="installments"
            )
        zone = _zone(plan)
        today = timezone.localdate(timezone=zone)
        schedule = schedule_build(
            amount=left - fee_left,
            currency=plan.currency,
            count=count,
            interval_unit=interval_unit,
            interval_count=interval_count,
            start_date=start_date or today + timedelta(days=1),
            fee_amount=fee_left,
            today=today + timedelta(days=1),
        )
        for row in remaining:
            row.status = Installment.Status.CANCELLED
            row.save(update_fields=["status", "updated_at"])
        last = plan.installments.order_by("-position").values_list("position", flat=True)[0]
        for offset, line in enumerate(schedule.installments, start=1):
            Installment.objects.create(
                plan=plan,
                position=last + offset,
                due_date=line.due_date,
                amount=line.amount,
                fee_amount=fee_left if offset == 1 else 0,
                next_attempt_at=_charge_at(line.due_date, zone),
            )
        plan.count, plan.interval_unit, plan.interval_count = count, interval_unit, interval_count
        plan.save(update_fields=["count", "interval_unit", "interval_count", "updated_at"])
        _event(
            plan,
            "installment_plan_confirmed",
            change="resplit",
            schedule=_schedule_payload(plan),
            total=plan.amount,
        )
    return plan


def installment_plan_pay_off(
    *,
    plan: InstallmentPlan,
    source: str = "",
    return_url: Callable[[Checkout], str] | None = None,
) -> Checkout:
    """The payer settles everything left at once (with the plan's card, or another one,
    which then replaces the token). Every remaining installment is held by the pay-off
    while it runs, so the charging job cannot take one of them as well."""
    from .. import services as payment_services

    with transaction.atomic():
        plan = _running(plan)
        remaining = _remaining(plan)
        if not remaining:
            raise StateConflict(
                "Nothing is left to collect.", code="nothing_left", field="installments"
            )
        previous = {row.pk: row.status for row in remaining}
        for row in remaining:
            row.status, row.leased_by = Installment.Status.PROCESSING, PAYOFF
            row.lease_until = timezone.now() + LEASE
            row.save(update_fields=["status", "leased_by", "lease_until", "updated_at"])
        if source and source != plan.source:
            # A token the payer gave here: its card is described by its adapter.
            plan.source = source
            _source_card_set(plan, "", "", None, None)
            plan.save(update_fields=["source", *SOURCE_CARD_FIELDS, "updated_at"])

    def start(source: str) -> Checkout | None:
        try:
            return payment_services.checkout_start(
                participant=plan.participant,
                method=plan.method,
                source=source,
                amount=sum(row.amount for row in remaining),
                language=plan.language,
                return_url=return_url,
                installment=plan.public_id,
                fee_amount=sum(row.fee_amount for row in remaining),
            )
        except DomainError:
            return None

    checkout = start(plan.source)
    on_session = _on_session_source(plan) if return_url is not None else ""
    if (
        checkout is not None
        and checkout.status == Checkout.Status.FAILED
        and checkout.failure_reason == AUTHENTICATION_REQUIRED
        and on_session
    ):
        # The saved card's bank wants the payer, and the payer is on the page: the same
        # amount on the provider's page (3-D Secure there), the installments still held.
        # The card they pay with there replaces the plan's once it has paid.
        checkout = start(on_session)
    if checkout is None or (
        checkout.status != Checkout.Status.SUCCEEDED and checkout.status not in Checkout.IN_FLIGHT
    ):
        # Refused: the schedule goes on as before. (Waiting for the payer, the hold stays:
        # the return books it, and the pay-off sweep keeps it while the checkout runs.)
        with transaction.atomic():
            for row in Installment.objects.select_for_update().filter(pk__in=previous):
                if row.status == Installment.Status.PROCESSING:
                    row.status, row.leased_by, row.lease_until = previous[row.pk], "", None
                    row.save(update_fields=["status", "leased_by", "lease_until", "updated_at"])
    if checkout is None:
        raise StateConflict(
            "The payment could not be started.", code="payoff_refused", field="installments"
        )
    return checkout


def _on_session_source(plan: InstallmentPlan) -> str:
    from ..registry import adapter_for  # the registry reads the adapters, which read us

    try:
        adapter = adapter_for(merchant=plan.merchant, method=plan.method, livemode=plan.livemode)
    except DomainError:
        return ""
    return adapter.on_session_source


def installment_payoff_release(*, plan: InstallmentPlan, checkout: Checkout) -> None:
    """A pay-off the payer left unpaid on the provider's page: the installments it held go
    back on the schedule now rather than when the hold runs out. Only the plan's latest
    pay-off releases, so an older one's return never frees a newer one's hold."""
    if checkout.status == Checkout.Status.SUCCEEDED or checkout.status in Checkout.IN_FLIGHT:
        return
    with transaction.atomic():
        plan = InstallmentPlan.objects.select_for_update().get(pk=plan.pk)
        latest = (
            Checkout.objects.filter(installment=plan.public_id)
            .order_by("-id")
            .values_list("public_id", flat=True)
            .first()
        )
        if latest != checkout.public_id:
            return
        rows = Installment.objects.select_for_update().filter(
            plan=plan, status=Installment.Status.PROCESSING, leased_by=PAYOFF
        )
        for row in rows:
            # Back to where it stood: a failed one keeps its reason and its next try.
            row.status = (
                Installment.Status.FAILED if row.failure_reason else Installment.Status.SCHEDULED
            )
            row.leased_by, row.lease_until = "", None
            row.save(update_fields=["status", "leased_by", "lease_until", "updated_at"])


def installment_payoff_settle(*, plan_public_id: str, checkout_public_id: str) -> None:
    """A pay-off was booked: every installment it held is paid, and the plan completes."""
    plan = (
        InstallmentPlan.objects.select_for_update()
        .select_related("request", "participant")
        .filter(public_id=plan_public_id)
        .first()
    )
    if plan is None or plan.status != InstallmentPlan.Status.ACTIVE:
        return
    plan.installments.filter(status=Installment.Status.PROCESSING, leased_by=PAYOFF).update(
        status=Installment.Status.PAID, checkout=checkout_public_id, leased_by="", lease_until=None
    )
    # Paid on the provider's page with another card (the saved one's bank wanted the
    # payer): that card is the plan's from now; paid with the saved card, it stays.
    _source_replace(plan, checkout_public_id)
    _event(plan, "installment_succeeded", payoff=True, checkout=checkout_public_id)
    if not plan.installments.exclude(
        status__in=[Installment.Status.PAID, Installment.Status.CANCELLED]
    ).exists():
        _plan_transition(plan, InstallmentPlan.Status.COMPLETED)
        _event(plan, "installment_plan_completed", total=plan.amount)


def _payoffs_sweep(now: datetime) -> None:
    """Pay-offs whose hold ran out: booked ones are settled, ones still running keep their
    hold, and the installments of one that ended unpaid go back on the schedule."""
    held = Installment.objects.filter(
        status=Installment.Status.PROCESSING, leased_by=PAYOFF, lease_until__lt=now
    ).values_list("plan_id", flat=True)
    for plan in InstallmentPlan.objects.filter(pk__in=set(held)):
        last = Checkout.objects.filter(installment=plan.public_id).order_by("-id").first()
        with transaction.atomic():
            rows = Installment.objects.select_for_update().filter(
                plan=plan, status=Installment.Status.PROCESSING, leased_by=PAYOFF
            )
            if last is not None and last.status in Checkout.IN_FLIGHT:
                rows.update(lease_until=now + LEASE)
            elif last is not None and last.status == Checkout.Status.SUCCEEDED:
                installment_payoff_settle(
                    plan_public_id=plan.public_id, checkout_public_id=last.public_id
                )
            else:
                rows.update(status=Installment.Status.SCHEDULED, leased_by="", lease_until=None)


def installment_pay_now(
    *,
    plan: InstallmentPlan,
    installment_public_id: str,
    source: str,
    return_url: Callable[[Checkout], str] | None = None,
) -> Checkout:
    """The payer pays one failed installment from their link, with another card.

    The installment is taken by a conditional UPDATE from ``failed`` to ``processing``
    (held by the payer), so two posts (or a post and the charging job) charge it once.
    Its outcome is settled like any charge's: paid, the card replaces the plan's token;
    refused, the installment waits for its next automatic try as before.
    """
    from .. import services as payment_services

    if not source:
        raise InvalidInput("Enter your card details.", code="source_required", field="source")
    with transaction.atomic():
        plan = _running(plan)
        installment = plan.installments.filter(public_id=installment_public_id).first()
        if installment is None:
            raise InvalidInput(
                "No such installment in this plan.", code="unknown_installment", field="installment"
            )
        taken = Installment.objects.filter(
            pk=installment.pk, status=Installment.Status.FAILED
        ).update(
            status=Installment.Status.PROCESSING,
            leased_by=PAYER,
            lease_until=timezone.now() + LEASE,
            updated_at=timezone.now(),
        )
        if not taken:
            installment.refresh_from_db()
            raise StateConflict(
                f"This installment is {installment.status}: it is not waiting for a payment.",
                code="installment_not_failed",
                field="installment",
            )
    try:
        return payment_services.checkout_start(
            participant=plan.participant,
            method=plan.method,
            source=source,
            amount=installment.amount,
            language=plan.language,
            return_url=return_url,
            installment=installment.public_id,
        )
    except DomainError:
        # Refused before any checkout existed (an unknown token …): nothing was charged.
        Installment.objects.filter(
            pk=installment.pk, status=Installment.Status.PROCESSING, leased_by=PAYER
        ).update(status=Installment.Status.FAILED, leased_by="", lease_until=None)
        raise


def _payer_holds_sweep(now: datetime) -> None:
    """Installments the payer took whose hold ran out: a checkout still waiting (3-D
    Secure) keeps it, a paid one is settled, and anything else goes back to ``failed``
    and its automatic retries."""
    held = list(
        Installment.objects.filter(
            status=Installment.Status.PROCESSING, leased_by=PAYER, lease_until__lt=now
        ).values_list("pk", "public_id")
    )
    for pk, public_id in held:
        last = Checkout.objects.filter(installment=public_id).order_by("-id").first()
        with transaction.atomic():
            rows = Installment.objects.select_for_update().filter(
                pk=pk, status=Installment.Status.PROCESSING, leased_by=PAYER
            )
            if not rows.exists():
                continue
            if last is not None and last.status in Checkout.IN_FLIGHT:
                rows.update(lease_until=now + LEASE)
            elif last is not None and last.status == Checkout.Status.SUCCEEDED:
                installment_settle(
                    checkout_public_id=last.public_id, installment_public_id=public_id, paid=True
                )
            else:
                rows.update(status=Installment.Status.FAILED, leased_by="", lease_until=None)
