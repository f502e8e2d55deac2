"""scenarios owns what a merchant plans to send and when: scenarios and their steps, and the
transactional outbox of planned dispatches (ARCHITECTURE.md guarantee 4).

The planner functions (``dispatches_*``) run inside the caller's transaction and never commit
on their own: the rows they write commit together with the change that caused them, or not
at all. Rows due right away are also handed to django-q2 on commit, for latency only; the
every-minute sweep in ``notifications.dispatcher`` is what guarantees they go out.

Dedupe keys are deterministic, so planning the same thing twice writes nothing new:

- time-based steps: ``t:<request>:<step>:<participant|m>:<repetition>[:<due epoch>]`` (the
  creation notice leaves out the due time, so it is never sent twice when ``send_at`` moves;
  deadline reminders keep it, so a moved deadline earns new reminders);
- event steps: ``e:<event>:<step>:<participant|m>:<repetition>``;
- resends: ``r:<original dispatch>:<random>``."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from merchants.models import Merchant
from notifications.services import outbox_nudge_on_commit
from pushpay.bulk import insert_rows
from pushpay.errors import InvalidInput, StateConflict
from pushpay.ids import random_string
from requests_app.models import Participant, PaymentRequest, RequestEvent
from requests_app.selectors import participants_in_order

from ..models import (
    COLLECTING_TRIGGERS,
    TIME_TRIGGERS,
    Audience,
    Channel,
    Dispatch,
    Scenario,
    ScenarioBinding,
    Step,
    Trigger,
)


@dataclass(frozen=True)
class _Target:
    participant: Participant | None
    recipient: str
    language: str


def _binding_for(
    payment_request: PaymentRequest,
    scenario: Scenario | None,
    *,
    create: bool,
    unbound: bool = False,
) -> ScenarioBinding | None:
    """The scenario version a request follows; fixed on first planning. ``unbound``: the
    caller knows the request has no binding yet (it was created in this transaction)."""
    binding = None
    if not unbound:
        binding = (
            ScenarioBinding.objects.filter(request_id=payment_request.pk)
            .select_related("scenario")
            .first()
        )
    if binding is not None or not create:
        return binding
    if scenario is None:
        # requests_app is to carry the scenario a request names; read it if it does.
        scenario = getattr(payment_request, "scenario", None)
    if scenario is None:
        return None
    if scenario.merchant_id != payment_request.merchant_id:
        raise InvalidInput("No such scenario.", code="scenario_not_found", field="scenario")
    return ScenarioBinding.objects.create(
        merchant_id=payment_request.merchant_id,
        request=payment_request,
        scenario=scenario,
        version=scenario.version,
    )


def _steps(binding: ScenarioBinding, triggers: Iterable[str]) -> list[Step]:
    return list(
        Step.objects.filter(
            scenario_id=binding.scenario_id, version=binding.version, trigger__in=list(triggers)
        ).select_related("webhook_endpoint")
    )


def _address(step: Step, participant: Participant | None, merchant: Merchant) -> str:
    if step.channel == Channel.WEBHOOK:
        return step.webhook_endpoint.url if step.webhook_endpoint else ""
    if participant is None:
        return merchant.contact_email if step.channel == Channel.EMAIL else ""
    return participant.email if step.channel == Channel.EMAIL else participant.phone


def _owes(participant: Participant | None, payment_request: PaymentRequest) -> int | None:
    if participant is None:
        if payment_request.total_amount is None:
            return None
        return max(payment_request.total_amount - payment_request.amount_paid, 0)
    return participant.amount_due


def _targets(
    step: Step,
    participants: list[Participant],
    payment_request: PaymentRequest,
    merchant: Merchant,
    concerned: Participant | None = None,
) -> list[_Target]:
    """Who receives a step. For an event about one participant (a failed payment), the
    participant audiences narrow to that participant."""
    active = [p for p in participants if p.status != Participant.Status.CANCELLED]
    if step.audience == Audience.MERCHANT:
        people: list[Participant | None] = [None]
    elif step.audience == Audience.INITIATOR:
        people = active[:1]
    else:
        pool = [concerned] if concerned is not None else active
        if step.audience == Audience.UNPAID_PARTICIPANTS:
            pool = [p for p in pool if p.status in Participant.UNPAID]
        people = pool
    targets = []
    for person in people:
        language = person.language if person is not None else payment_request.language
        if step.language and language != step.language:
            continue
        if step.only_if_unpaid and person is not None and person.status not in Participant.UNPAID:
            continue
        if step.min_amount is not None:
            owed = _owes(person, payment_request)
            if owed is not None and owed < step.min_amount:
                continue
        targets.append(_Target(person, _address(step, person, merchant), language))
    return targets


def _outside_quiet_hours(when: datetime, step: Step, time_zone: str) -> datetime:
    """Push a due time that falls in the step's quiet hours to their end, local time."""
    if step.quiet_start is None or step.quiet_end is None:
        return when
    zone = ZoneInfo(time_zone)
    local = when.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    start, end = step.quiet_start, step.quiet_end
    if start < end:
        quiet = start <= clock < end
        end_day = local.date()
    else:  # the window spans midnight, e.g. 21:00 -> 08:00
        quiet = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1 if clock >= start else 0)
    if not quiet:
        return when
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(when.tzinfo)


def _occurrences(step: Step, anchor: datetime) -> list[datetime]:
    count = step.repeat_max if step.repeat_every_seconds else 1
    every = timedelta(seconds=step.repeat_every_seconds or 0)
    return [anchor + every * n for n in range(count)]


def _time_anchor(step: Step, payment_request: PaymentRequest) -> datetime | None:
    offset = timedelta(seconds=step.offset_seconds)
    if step.trigger == Trigger.REQUEST_CREATED:
        return (payment_request.send_at or payment_request.created_at) + offset
    if payment_request.deadline is None:
        return None
    if step.trigger == Trigger.BEFORE_DEADLINE:
        return payment_request.deadline - offset
    return payment_request.deadline + offset


@dataclass(frozen=True, slots=True)
class _Planned:
    """One outbox row to write: the columns that vary between rows, and what the planner
    compares before writing. Not a model instance: building one per row, and compiling it
    through the ORM, was most of the cost of planning a large request (pushpay.bulk)."""

    dedupe_key: str
    step: Step
    due_at: datetime
    status: str
    columns: dict


def _row(
    *,
    key: str,
    step: Step,
    target: _Target,
    payment_request: PaymentRequest,
    due: datetime,
    repetition: int,
    event_id: int | None = None,
) -> _Planned:
    status, reason = Dispatch.Status.PLANNED, ""
    if not target.recipient:
        status, reason = Dispatch.Status.SKIPPED, "no_recipient"
    return _Planned(
        dedupe_key=key,
        step=step,
        due_at=due,
        status=status,
        columns={
            "participant_id": target.participant.pk if target.participant else None,
            "step_id": step.pk,
            "repetition": repetition,
            "channel": step.channel,
            "recipient": target.recipient,
            "language": target.language,
            "due_at": due,
            "next_attempt_at": due,
            "status": status,
            "skip_reason": reason,
            "dedupe_key": key,
            "event_id": event_id,
        },
    )


@dataclass(frozen=True)
class TimeSlot:
    """One message of a time-based step: its repetition, the moment the step names
    (``when``, part of the dedupe key) and when it is due once quiet hours are applied."""

    step: Step
    repetition: int
    when: datetime
    due: datetime


def _time_slots(step: Step, payment_request: PaymentRequest, time_zone: str) -> Iterable[TimeSlot]:
    anchor = _time_anchor(step, payment_request)
    if anchor is None:
        return
    for repetition, when in enumerate(_occurrences(step, anchor)):
        if step.trigger == Trigger.BEFORE_DEADLINE and when > payment_request.deadline:
            break
        if payment_request.expires_at is not None and when > payment_request.expires_at:
            break
        yield TimeSlot(step, repetition, when, _outside_quiet_hours(when, step, time_zone))


def timeline_preview(
    *,
    steps: list[Step],
    sent_at: datetime,
    deadline: datetime | None,
    time_zone: str,
    expires_at: datetime | None = None,
) -> list[TimeSlot]:
    """When each time-based step would go for an example request, in due order, by the
    very rules the outbox is planned with (the back office's scenario timeline). Steps may be
    unsaved; nothing is read or written."""
    example = PaymentRequest(
        send_at=sent_at, created_at=sent_at, deadline=deadline, expires_at=expires_at
    )
    slots = [
        slot
        for step in steps
        if step.trigger in TIME_TRIGGERS
        for slot in _time_slots(step, example, time_zone)
    ]
    return sorted(slots, key=lambda slot: (slot.due, slot.step.position, slot.repetition))


def _time_rows(
    steps: list[Step],
    payment_request: PaymentRequest,
    participants: list[Participant],
    merchant: Merchant,
) -> list[_Planned]:
    rows = []
    for step in steps:
        slots = list(_time_slots(step, payment_request, merchant.time_zone))
        if not slots:
            continue
        targets = _targets(step, participants, payment_request, merchant)
        for slot in slots:
            repetition, when, due = slot.repetition, slot.when, slot.due
            for target in targets:
                who = target.participant.pk if target.participant else "m"
                key = f"t:{payment_request.pk}:{step.pk}:{who}:{repetition}"
                if step.trigger != Trigger.REQUEST_CREATED:
                    key += f":{int(when.timestamp())}"
                rows.append(
                    _row(
                        key=key,
                        step=step,
                        target=target,
                        payment_request=payment_request,
                        due=due,
                        repetition=repetition,
                    )
                )
    return rows


def _load(payment_request: PaymentRequest) -> tuple[PaymentRequest, list[Participant], Merchant]:
    # Re-read: the caller's instance may predate the change that made it plan.
    fresh = PaymentRequest.objects.select_related("merchant").get(pk=payment_request.pk)
    participants = list(Participant.objects.filter(request_id=fresh.pk).order_by("position", "id"))
    return fresh, participants, fresh.merchant


def _existing_keys(payment_request: PaymentRequest) -> dict[str, tuple[int, str, datetime]]:
    return {
        key: (pk, status, due)
        for key, pk, status, due in Dispatch.objects.filter(
            request_id=payment_request.pk
        ).values_list("dedupe_key", "pk", "status", "due_at")
    }


def _insert(rows: list[_Planned], payment_request: PaymentRequest) -> int:
    # Conflicts skipped: a concurrent planner of the same request wrote the same keys first.
    insert_rows(
        Dispatch,
        [row.columns for row in rows],
        shared={
            "merchant_id": payment_request.merchant_id,
            "livemode": payment_request.livemode,
            "request_id": payment_request.pk,
        },
    )
    outbox_nudge_on_commit(rows)
    return len(rows)


def dispatches_plan_for_request(
    *,
    payment_request: PaymentRequest,
    scenario: Scenario | None = None,
    just_created: bool = False,
    steps: list[Step] | None = None,
) -> int:
    """Write the time-based dispatches of a new request (creation notice, reminders before
    and after the deadline) in the caller's transaction; return how many rows were written.

    ``scenario`` binds the request to that scenario's current version; without it the
    request's own ``scenario`` (when requests_app carries one) is used. A request without a
    scenario plans nothing. The number of queries does not depend on the participants.

    ``just_created``: the request was created in this very transaction and the caller holds
    it as written (its participants in hand, see ``participants_in_order``). Nothing can be
    bound or planned for it yet, so neither is read, and it is not read again: four queries
    fewer on every creation. ``steps``: the bound version's time-based steps, when the
    caller read them with the scenario.
    """
    binding = _binding_for(payment_request, scenario, create=True, unbound=just_created)
    if binding is None:
        return 0
    if steps is None:
        steps = _steps(binding, TIME_TRIGGERS)
    if not steps:
        return 0
    if just_created:
        participants = participants_in_order(payment_request)
        merchant = payment_request.merchant
        existing = {}
    else:
        payment_request, participants, merchant = _load(payment_request)
        existing = _existing_keys(payment_request)
    now = timezone.now()
    rows = [
        row
        for row in _time_rows(steps, payment_request, participants, merchant)
        if row.dedupe_key not in existing
        and (row.step.trigger == Trigger.REQUEST_CREATED or row.due_at >= now)
    ]
    return _insert(rows, payment_request)


def dispatches_plan_for_new_request(
    *, payment_request: PaymentRequest, scenario_public_id: str
) -> int | None:
    """Bind a request created in this very transaction to the merchant's scenario
    ``scenario_public_id`` and plan its time-based dispatches; None when the merchant has
    no such scenario.

    The scenario comes with its current version's time-based steps in one read; only a
    scenario without such steps is read on its own (it is still bound: its event steps
    apply later)."""
    steps = list(
        Step.objects.filter(
            scenario__merchant_id=payment_request.merchant_id,
            scenario__public_id=scenario_public_id,
            version=F("scenario__version"),
            trigger__in=list(TIME_TRIGGERS),
        ).select_related("scenario", "webhook_endpoint")
    )
    if steps:
        scenario = steps[0].scenario
    else:
        scenario = Scenario.objects.filter(
            merchant_id=payment_request.merchant_id, public_id=scenario_public_id
        ).first()
        if scenario is None:
            return None
    return dispatches_plan_for_request(
        payment_request=payment_request, scenario=scenario, just_created=True, steps=steps
    )


def dispatches_replan_for_request(*, payment_request: PaymentRequest) -> int:
    """After the dates or participants of a request changed: cancel the pending time-based
    dispatches that no longer fit and plan the missing ones; return how many were written.

    Rows whose key is still wanted are left alone (same key, same row); a creation notice
    still waiting follows a moved ``send_at``.
    """
    binding = _binding_for(payment_request, None, create=False)
    if binding is None:
        return dispatches_plan_for_request(payment_request=payment_request)
    steps = _steps(binding, TIME_TRIGGERS)
    payment_request, participants, merchant = _load(payment_request)
    wanted = {
        row.dedupe_key: row for row in _time_rows(steps, payment_request, participants, merchant)
    }
    existing = _existing_keys(payment_request)
    now = timezone.now()

    stale = []
    moved = []
    for key, (pk, status, due) in existing.items():
        if status != Dispatch.Status.PLANNED or not key.startswith("t:"):
            continue
        if key not in wanted:
            stale.append(pk)
        elif wanted[key].due_at != due:
            moved.append(
                Dispatch(pk=pk, due_at=wanted[key].due_at, next_attempt_at=wanted[key].due_at)
            )
    if stale:
        _cancel(Dispatch.objects.filter(pk__in=stale), "rescheduled", free_keys=True)
    if moved:
        Dispatch.objects.bulk_update(moved, ["due_at", "next_attempt_at"])
    rows = [
        row
        for key, row in wanted.items()
        if key not in existing
        and (row.step.trigger == Trigger.REQUEST_CREATED or row.due_at >= now)
    ]
    return _insert(rows, payment_request) + len(moved)


def dispatches_plan_for_event(*, event: RequestEvent) -> int:
    """Write the dispatches of the steps this event triggers; return how many were written.

    ``request_created`` is planned by ``dispatches_plan_for_request`` (it honours
    ``send_at``), so it is ignored here.
    """
    if event.type not in Trigger.values or event.type in TIME_TRIGGERS:
        return 0
    payment_request = PaymentRequest.objects.get(pk=event.request_id)
    binding = _binding_for(payment_request, None, create=True)
    if binding is None:
        return 0
    steps = _steps(binding, [event.type])
    if not steps:
        return 0
    payment_request, participants, merchant = _load(payment_request)
    concerned = next((p for p in participants if p.pk == event.participant_id), None)
    start = event.created_at or timezone.now()
    rows = []
    for step in steps:
        targets = _targets(step, participants, payment_request, merchant, concerned)
        anchor = start + timedelta(seconds=step.offset_seconds)
        for repetition, when in enumerate(_occurrences(step, anchor)):
            due = _outside_quiet_hours(when, step, merchant.time_zone)
            for target in targets:
                who = target.participant.pk if target.participant else "m"
                rows.append(
                    _row(
                        key=f"e:{event.pk}:{step.pk}:{who}:{repetition}",
                        step=step,
                        target=target,
                        payment_request=payment_request,
                        due=due,
                        repetition=repetition,
                        event_id=event.pk,
                    )
                )
    existing = set(
        Dispatch.objects.filter(dedupe_key__in=[r.dedupe_key for r in rows]).values_list(
            "dedupe_key", flat=True
        )
    )
    return _insert([r for r in rows if r.dedupe_key not in existing], payment_request)


def _cancel(queryset, reason: str, *, free_keys: bool = False) -> int:
    """Planned -> cancelled. Freeing the key lets the same slot be planned again later
    (a deadline moved back to where it was)."""
    assert Dispatch.Status.CANCELLED in Dispatch.TRANSITIONS[Dispatch.Status.PLANNED]
    queryset = queryset.filter(status=Dispatch.Status.PLANNED)
    now = timezone.now()
    if not free_keys:
        return queryset.update(status=Dispatch.Status.CANCELLED, skip_reason=reason, updated_at=now)
    rows = list(queryset.only("pk", "dedupe_key"))
    for row in rows:
        row.status = Dispatch.Status.CANCELLED
        row.skip_reason = reason
        row.dedupe_key = f"{row.dedupe_key}#x{row.pk}"[:200]
        row.updated_at = now
    Dispatch.objects.bulk_update(rows, ["status", "skip_reason", "dedupe_key", "updated_at"])
    return len(rows)


def dispatches_cancel_for_participant(
    *, participant: Participant, reason: str = "already_paid"
) -> int:
    """Withdraw a payer's pending reminders (they paid, or left the request).

    Only steps that require the payer to still owe are cancelled; a receipt or an event
    notice planned in the same transaction stays.
    """
    return _cancel(
        Dispatch.objects.filter(participant_id=participant.pk).filter(
            Q(step__audience=Audience.UNPAID_PARTICIPANTS)
            | Q(step__only_if_unpaid=True)
            | Q(step__repeat_until_paid=True, repetition__gt=0)
        ),
        reason,
    )


def dispatches_cancel_for_request(*, payment_request: PaymentRequest, reason: str) -> int:
    """Withdraw everything pending that only makes sense while collecting (cancelled or
    expired request). Notices about the closing itself, planned from its event, stay."""
    return _cancel(
        Dispatch.objects.filter(
            request_id=payment_request.pk, step__trigger__in=list(COLLECTING_TRIGGERS)
        ),
        reason,
    )


@transaction.atomic
def dispatch_resend(*, dispatch: Dispatch) -> Dispatch:
    """A copy of a dispatch, due now, to the same recipient; the original stays as it was."""
    if dispatch.channel != Channel.WEBHOOK and not dispatch.recipient:
        raise StateConflict(
            "This notification has no recipient to send to.",
            code="no_recipient",
            field="recipient",
        )
    now = timezone.now()
    copy = Dispatch.objects.create(
        merchant_id=dispatch.merchant_id,
        livemode=dispatch.livemode,
        request_id=dispatch.request_id,
        participant_id=dispatch.participant_id,
        step_id=dispatch.step_id,
        repetition=dispatch.repetition,
        channel=dispatch.channel,
        recipient=dispatch.recipient,
        language=dispatch.language,
        due_at=now,
        next_attempt_at=now,
        dedupe_key=f"r:{dispatch.pk}:{random_string(16)}",
        event_id=dispatch.event_id,
        resend_of=dispatch,
    )
    outbox_nudge_on_commit([copy])
    return copy
