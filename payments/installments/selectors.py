"""Merchant- and mode-scoped reads of installment plans."""

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from merchants.models import Merchant
from pushpay.errors import DomainError

from .models import Installment, InstallmentPlan
from .offers import InstallmentOffer, installment_offer_schedule
from .schedule import Schedule, ScheduleLine


def installment_plans(
    *, merchant: Merchant, livemode: bool, participant_public_id: str | None = None
) -> QuerySet[InstallmentPlan]:
    plans = (
        InstallmentPlan.objects.filter(merchant=merchant, livemode=livemode)
        .select_related("request", "participant")
        .prefetch_related("installments")
    )
    if participant_public_id is not None:
        plans = plans.filter(participant__public_id=participant_public_id)
    return plans


def installment_plan_get(
    *, merchant: Merchant, livemode: bool, public_id: str
) -> InstallmentPlan | None:
    return (
        installment_plans(merchant=merchant, livemode=livemode).filter(public_id=public_id).first()
    )


RUNNING = (InstallmentPlan.Status.PENDING, InstallmentPlan.Status.ACTIVE)
STILL_TO_CHARGE = (
    Installment.Status.SCHEDULED,
    Installment.Status.PROCESSING,
    Installment.Status.FAILED,
)


def participant_on_running_plan(*, participant_id: int) -> bool:
    """Whether the payer's share is being collected by a plan: its own messages then
    replace the request's "unpaid" reminders."""
    return InstallmentPlan.objects.filter(
        participant_id=participant_id, status__in=RUNNING
    ).exists()


def participants_on_running_plan(*, participant_ids: list[int]) -> set[int]:
    """``participant_on_running_plan`` for many payers in one read (the dispatcher re-checks
    a chunk of reminders together just before sending them)."""
    if not participant_ids:
        return set()
    return set(
        InstallmentPlan.objects.filter(
            participant_id__in=participant_ids, status__in=RUNNING
        ).values_list("participant_id", flat=True)
    )


def installments_still_to_charge(*, merchant_id: int, plan_public_id: str) -> list[Installment]:
    """A plan's installments not yet paid (nor stopped), in date order, for a notice read
    at send time: what the payer will still be charged."""
    return list(
        Installment.objects.filter(
            plan__merchant_id=merchant_id,
            plan__public_id=plan_public_id,
            status__in=STILL_TO_CHARGE,
        ).order_by("due_date", "position")
    )


def installment_get(*, merchant_id: int, public_id: str) -> Installment | None:
    return Installment.objects.filter(plan__merchant_id=merchant_id, public_id=public_id).first()


def installment_plans_by_participant(
    *, merchant: Merchant, livemode: bool, participant_ids: list[str]
) -> dict[str, InstallmentPlan]:
    """Each participant's latest plan (running or finished) with its installments, keyed by
    participant public id: what the request API shows per payer (two queries in all)."""
    if not participant_ids:
        return {}
    found: dict[str, InstallmentPlan] = {}
    plans = installment_plans(merchant=merchant, livemode=livemode).filter(
        participant__public_id__in=participant_ids
    )
    for plan in plans.order_by("-created_at", "-id"):
        found.setdefault(plan.participant.public_id, plan)
    return found


def installment_plan_latest(*, participant) -> InstallmentPlan | None:
    """The payer's latest plan, for their own page (reached by their link's token)."""
    return (
        InstallmentPlan.objects.filter(
            merchant_id=participant.merchant_id,
            livemode=participant.livemode,
            participant=participant,
        )
        .prefetch_related("installments")
        .order_by("-created_at", "-id")
        .first()
    )


@dataclass(frozen=True)
class PayerOffer:
    """The plan a payer may choose today: the offer and the exact schedule it gives for
    what is left of their share, in the merchant's time zone."""

    offer: InstallmentOffer
    schedule: Schedule

    @property
    def lines(self) -> list[ScheduleLine]:
        return ([self.schedule.deposit] if self.schedule.deposit else []) + list(
            self.schedule.installments
        )

    @property
    def first(self) -> ScheduleLine:
        return self.lines[0]

    @property
    def share(self) -> int:
        return self.schedule.total - self.schedule.fee_amount

    def fingerprint(self) -> str:
        """Names this exact schedule: a payer agrees to the one they saw, not to one that
        changed in between (a new day moves the dates)."""
        text = json.dumps(self.schedule.as_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def payer_installment_offer(*, participant) -> PayerOffer | None:
    """The plan this payer may choose now, or None: no offer, nothing left to spread, an
    offer that no longer fits (its dates have passed), no card to pay it with in the
    request's mode, or a smart form to answer (a plan's first charge does not carry the
    answers). The payer page and ``checkout_pay`` both ask this, so a payer is never told
    to pay in installments where no plan can be started."""
    from ..selectors import payment_methods_for_request  # payments.selectors reads models

    stored = participant.installment_offer
    due = participant.amount_due
    if not stored or not due:
        return None
    payment_request = participant.request
    if payment_request.form_version_id is not None:
        return None
    if "card" not in payment_methods_for_request(payment_request=payment_request):
        return None
    offer = InstallmentOffer.from_stored(stored)
    today = timezone.localdate(timezone=ZoneInfo(payment_request.merchant.time_zone))
    schedule = installment_offer_schedule(
        offer, amount=due, currency=payment_request.currency, today=today
    )
    return PayerOffer(offer=offer, schedule=schedule) if schedule is not None else None


def installment_plan_for_checkout(*, checkout) -> InstallmentPlan | None:
    """The plan a checkout charged (one installment, or a pay-off of the rest), if any."""
    tag = checkout.installment
    if not tag:
        return None
    plans = InstallmentPlan.objects.filter(
        merchant_id=checkout.merchant_id, participant_id=checkout.participant_id
    ).prefetch_related("installments")
    if tag.startswith("ip_"):
        return plans.filter(public_id=tag).first()
    return plans.filter(installments__public_id=tag).first()


def installment_plan_for_participant(*, participant, public_id: str) -> InstallmentPlan | None:
    """A plan as its payer's link reaches it: only the link's own participant's plans, so
    another payer's plan id behind this link is simply not found."""
    if not isinstance(public_id, str) or len(public_id) > 40:
        return None
    return (
        InstallmentPlan.objects.filter(participant_id=participant.pk, public_id=public_id)
        .select_related("merchant")
        .prefetch_related("installments")
        .first()
    )


def installment_plan_of_checkout(*, plan: InstallmentPlan, checkout) -> bool:
    """Whether ``checkout`` charged one of ``plan``'s installments (or paid it off)."""
    if not checkout.installment:
        return False
    if checkout.installment == plan.public_id:
        return True
    return any(item.public_id == checkout.installment for item in plan.installments.all())


def card_expires_before(
    *, merchant: Merchant, livemode: bool, source: str, day: date, method: str = "card"
) -> bool:
    """Whether the card behind ``source`` expires before ``day`` (a plan's last charge):
    the payer is warned and may give another card, or go on (a charge refused for expiry
    then takes the failure path, whose notice lets them pay with another card). Asked of
    the method's adapter; a method that cannot tell is never flagged."""
    from ..registry import adapter_for  # the registry reads the adapters, which read us

    if not source:
        return False
    try:
        adapter = adapter_for(merchant=merchant, method=method, livemode=livemode)
    except DomainError:
        return False
    return adapter.expires_before(source, day)


def plan_card_expires_before(*, plan: InstallmentPlan, day: date) -> bool:
    """Whether the plan's card on file expires before ``day``: from the expiry kept when the
    card was saved (no call to the acquirer on a page render), else asked of the adapter
    (a card saved before the expiry was kept)."""
    if plan.source_exp_month and plan.source_exp_year:
        return (plan.source_exp_year, plan.source_exp_month) < (day.year, day.month)
    return card_expires_before(
        merchant=plan.merchant,
        livemode=plan.livemode,
        source=plan.source,
        day=day,
        method=plan.method,
    )


def plan_card_label(*, plan: InstallmentPlan) -> str:
    """The plan's card as the payer knows it ("visa •••• 4242"), "" when unknown: as kept
    when it was saved, else asked of the adapter (a card saved before that was kept)."""
    from ..registry import adapter_for

    if plan.source_last4:
        return f"{plan.source_brand} •••• {plan.source_last4}"

    try:
        adapter = adapter_for(merchant=plan.merchant, method=plan.method, livemode=plan.livemode)
    except DomainError:
        return ""
    brand, last4 = adapter.describe_source(plan.source)
    return f"{brand} •••• {last4}" if last4 else ""


def installments_due_between(
    *, merchant: Merchant, livemode: bool, start: datetime, end: datetime
) -> QuerySet[Installment]:
    """Installments of running plans whose next charge (first try or retry) falls in
    [start, end): what the charging job will take, for the back office's week view."""
    return (
        Installment.objects.filter(
            plan__merchant=merchant,
            plan__livemode=livemode,
            plan__status=InstallmentPlan.Status.ACTIVE,
            status__in=STILL_TO_CHARGE,
            next_attempt_at__gte=start,
            next_attempt_at__lt=end,
        )
        .select_related("plan", "plan__request", "plan__participant")
        .order_by("next_attempt_at", "id")
    )


def installment_plans_defaulted(*, merchant: Merchant, livemode: bool) -> QuerySet:
    """Defaulted plans, latest first, each with what was collected and what was left."""
    paid = Q(installments__status=Installment.Status.PAID)
    return (
        InstallmentPlan.objects.filter(
            merchant=merchant, livemode=livemode, status=InstallmentPlan.Status.DEFAULTED
        )
        .select_related("request", "participant")
        .annotate(
            collected=Coalesce(Sum("installments__amount", filter=paid), 0),
        )
        .order_by("-updated_at", "-id")
    )
