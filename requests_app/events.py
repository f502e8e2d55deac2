"""The event catalogue, and the only seam between requests_app and the apps downstream.

Every fact about a request is a ``RequestEvent`` row, written by the lifecycle service in the
same transaction as the change itself. Apps downstream (scenarios, payments, notifications …)
react to those facts through reactions they register here from their ``AppConfig.ready()``;
requests_app never calls them and never imports them. Two kinds of reaction:

- **in the transaction** (database only: planning messages, cancelling reminders): run by
  ``event_record`` itself, so they commit with the change or not at all;
- **after commit** (they call a provider, e.g. voiding card holds): their names are written on
  the event row, they run once the change has committed, and each one that succeeds is struck
  off. A sweep (``events_redrive``) re-runs what a crash, a lost task or a provider error left,
  so nothing between the commit and the reaction is lost. They must be idempotent.

No Django signals: the reactions are a plain list, in registration order, easy to read and to
test.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from .models import Participant, PaymentRequest, RequestEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventType:
    """One kind of event: its internal name (``RequestEvent.type``), the name integrators
    will see, the version and keys of its payload, and the scenario trigger it feeds."""

    name: str
    integrator_name: str
    version: int
    payload: tuple[str, ...]
    trigger: str | None
    about: str


T = RequestEvent.Type
CATALOGUE: dict[str, EventType] = {
    event.name: event
    for event in (
        EventType(
            T.REQUEST_CREATED,
            "payment_request.created",
            1,
            ("scenario", "form_version"),
            "request_created",
            "A request was created (its creation notice waits for send_at).",
        ),
        EventType(
            T.REQUEST_UPDATED,
            "payment_request.updated",
            1,
            ("changed",),
            None,
            "Dates or participants of a collecting request changed; reminders are replanned.",
        ),
        EventType(
            T.PAYMENT_SUCCEEDED,
            "checkout.succeeded",
            1,
            ("checkout", "amount", "method"),
            "payment_succeeded",
            "A payer's payment was captured (recorded before participant.paid).",
        ),
        EventType(
            T.PAYMENT_FAILED,
            "checkout.failed",
            1,
            ("reason", "checkout", "amount"),
            "payment_failed",
            "A payer's attempt failed; they may retry.",
        ),
        EventType(
            T.PAYMENT_REFUNDED,
            "refund.succeeded",
            1,
            ("participant", "amount", "amount_refunded", "checkouts"),
            None,
            "Money captured from a payer was given back (all or part of it, over one or "
            "several checkouts); the payer gets a refund notice.",
        ),
        EventType(
            T.PARTICIPANT_PAID,
            "participant.paid",
            1,
            ("amount", "amount_paid"),
            "participant_paid",
            "A participant has paid their whole share.",
        ),
        EventType(
            T.REQUEST_COMPLETED,
            "payment_request.paid",
            1,
            ("amount_paid",),
            "request_completed",
            "Every share (or the target) is collected.",
        ),
        EventType(
            T.REQUEST_EXPIRED,
            "payment_request.expired",
            1,
            ("amount_paid",),
            "request_expired",
            "The expiry closed the request; holds are released after commit.",
        ),
        EventType(
            T.REQUEST_CANCELLED,
            "payment_request.cancelled",
            1,
            ("reason",),
            None,
            "The merchant cancelled the request; holds are released after commit.",
        ),
        EventType(
            T.INSTALLMENT_PLAN_CONFIRMED,
            "installment_plan.confirmed",
            1,
            ("plan", "schedule"),
            "installment_plan_confirmed",
            "A payer chose to pay in installments; the summary lists every date and amount.",
        ),
        EventType(
            T.INSTALLMENT_DUE,
            "installment.due",
            1,
            ("plan", "installment", "amount", "due_at"),
            "installment_due",
            "An installment will be charged soon.",
        ),
        EventType(
            T.INSTALLMENT_SUCCEEDED,
            "installment.succeeded",
            1,
            ("plan", "installment", "amount"),
            "installment_succeeded",
            "An installment was charged.",
        ),
        EventType(
            T.INSTALLMENT_FAILED,
            "installment.failed",
            1,
            ("plan", "installment", "amount", "reason", "retry_at"),
            "installment_failed",
            "An installment charge failed; the payer may pay it with another card.",
        ),
        EventType(
            T.INSTALLMENT_PLAN_COMPLETED,
            "installment_plan.completed",
            1,
            ("plan",),
            "installment_plan_completed",
            "Every installment of a plan is paid.",
        ),
        EventType(
            T.INSTALLMENT_PLAN_DEFAULTED,
            "installment_plan.defaulted",
            1,
            ("plan",),
            "installment_plan_defaulted",
            "The last retry of an installment failed; the merchant is alerted.",
        ),
        EventType(
            T.INSTALLMENT_PLAN_CANCELLED,
            "installment_plan.cancelled",
            1,
            ("plan",),
            "installment_plan_cancelled",
            "A plan was cancelled before it completed.",
        ),
    )
}


# --- Reactions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reaction:
    name: str
    handler: Callable[[RequestEvent], object]
    types: frozenset[str]  # empty: every type
    after_commit: bool

    def wants(self, type: str) -> bool:
        return not self.types or type in self.types


_reactions: list[Reaction] = []


def reaction_register(
    *,
    name: str,
    handler: Callable[[RequestEvent], object],
    types: tuple[str, ...] = (),
    after_commit: bool = False,
) -> None:
    """Register a reaction to events of ``types`` (all when empty). Called from a downstream
    app's ``AppConfig.ready()``; registering the same name twice keeps the first."""
    unknown = [t for t in types if t not in CATALOGUE]
    if unknown:
        raise ValueError(f"Reaction {name!r} names events not in the catalogue: {unknown}")
    if any(r.name == name for r in _reactions):
        return
    _reactions.append(Reaction(name, handler, frozenset(types), after_commit))


def reactions_for(type: str, *, after_commit: bool) -> list[Reaction]:
    return [r for r in _reactions if r.after_commit == after_commit and r.wants(type)]


def event_record(
    *,
    type: str,
    payment_request: PaymentRequest,
    participant: Participant | None = None,
    payload: dict | None = None,
) -> RequestEvent:
    """Record a fact about a request and run its in-transaction reactions.

    Call only from inside a service's transaction: the event and what reacts to it commit
    with the change, or nothing does.
    """
    if type not in CATALOGUE:
        raise ValueError(f"Unknown event type {type!r}")
    pending = [r.name for r in reactions_for(type, after_commit=True)]
    event = RequestEvent.objects.create(
        merchant_id=payment_request.merchant_id,
        livemode=payment_request.livemode,
        request=payment_request,
        participant=participant,
        type=type,
        payload=payload or {},
        pending_reactions=pending,
        reactions_pending=bool(pending),
    )
    for reaction in reactions_for(type, after_commit=False):
        reaction.handler(event)
    if pending:
        transaction.on_commit(lambda: async_task("requests_app.tasks.event_react", event.pk))
    return event


class ReactionIncomplete(Exception):
    """A reaction did part of its job (a provider did not answer): run it again later."""


def event_react(*, event_pk: int) -> list[str]:
    """Run the after-commit reactions still pending on an event; return those left pending.

    Each reaction that succeeds is struck off under the event's row lock, so two runs at
    once (the on-commit task and the sweep) never lose an outcome; a reaction that fails
    stays for the next sweep. The slow part (the provider call) holds no lock.
    """
    event = RequestEvent.objects.select_related("request", "participant").get(pk=event_pk)
    by_name = {r.name: r for r in _reactions if r.after_commit}
    for name in list(event.pending_reactions):
        reaction = by_name.get(name)
        if reaction is not None:
            try:
                reaction.handler(event)
            except Exception:
                logger.exception(
                    "Reaction %s to event %s failed; it will run again", name, event.pk
                )
                continue
        else:
            logger.warning("Event %s names an unknown reaction %s; dropped", event.pk, name)
        _strike_off(event_pk, name)
    return list(RequestEvent.objects.values_list("pending_reactions", flat=True).get(pk=event_pk))


def _strike_off(event_pk: int, name: str) -> None:
    with transaction.atomic():
        event = RequestEvent.objects.select_for_update().get(pk=event_pk)
        left = [n for n in event.pending_reactions if n != name]
        RequestEvent.objects.filter(pk=event_pk).update(
            pending_reactions=left, reactions_pending=bool(left)
        )


# A reaction usually runs seconds after its commit; the sweep leaves it that long first.
REDRIVE_AFTER = timedelta(minutes=1)


def events_redrive(*, now=None, limit: int = 200) -> int:
    """Re-run the after-commit reactions a crash, a lost task or a provider error left
    pending; return how many events were looked at. Runs every minute."""
    cutoff = (now or timezone.now()) - REDRIVE_AFTER
    pks = list(
        RequestEvent.objects.filter(reactions_pending=True, created_at__lt=cutoff)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in pks:
        event_react(event_pk=pk)
    return len(pks)


# Appended, not in the tuple above, so that the payments app's event keeps to its own lines.
CATALOGUE[T.RECONCILIATION_READY] = EventType(
    T.RECONCILIATION_READY,
    "reconciliation.ready",
    1,
    ("reconciliation", "version", "status", "currency", "totals"),
    None,
    "A final request's statement (every captured or refunded leg with fee and net) is "
    "ready; a refund after it makes the next version. The merchant's contact is emailed.",
)

# The payments app's disputes (payments.services.disputes), appended for the same reason.
_DISPUTE_PAYLOAD = (
    "dispute",
    "checkout",
    "leg",
    "amount",
    "currency",
    "reason",
    "status",
    "evidence_due_by",
)
CATALOGUE[T.DISPUTE_CREATED] = EventType(
    T.DISPUTE_CREATED,
    "dispute.created",
    1,
    _DISPUTE_PAYLOAD,
    None,
    "A payer's bank disputes a captured payment (a chargeback or an inquiry); the merchant's "
    "contact is emailed with the amount, the reason and the date evidence is due.",
)
CATALOGUE[T.DISPUTE_UPDATED] = EventType(
    T.DISPUTE_UPDATED,
    "dispute.updated",
    1,
    (*_DISPUTE_PAYLOAD, "previous_status"),
    None,
    "A dispute's status or evidence due date changed.",
)
CATALOGUE[T.DISPUTE_CLOSED] = EventType(
    T.DISPUTE_CLOSED,
    "dispute.closed",
    1,
    (*_DISPUTE_PAYLOAD, "previous_status"),
    None,
    "A dispute ended: won (the money comes back), lost (it stays taken back and can no "
    "longer be refunded) or an inquiry closed.",
)


def integrator_types() -> list[str]:
    """Internal names of the events integrators see (an event without an integrator name is
    internal and stays out of the events API)."""
    return [name for name, event in CATALOGUE.items() if event.integrator_name]


def by_integrator_name() -> dict[str, EventType]:
    return {e.integrator_name: e for e in CATALOGUE.values() if e.integrator_name}


# Purging deletes in slices, so one run never holds a long lock over a busy table.
PURGE_BATCH = 1000


def events_purge(*, now=None, retention_days: int | None = None) -> int:
    """Delete events older than ``EVENTS_RETENTION_DAYS``; return how many went.

    An event whose after-commit reactions are still pending is kept whatever its age: the
    redrive sweep still needs it, and deleting it would lose the reaction for good.
    """
    days = settings.EVENTS_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    while True:
        pks = list(
            RequestEvent.objects.filter(created_at__lt=cutoff, reactions_pending=False)
            .order_by("created_at", "id")
            .values_list("pk", flat=True)[:PURGE_BATCH]
        )
        if not pks:
            return deleted
        # The condition is checked again: a row may have changed since it was read.
        count, _ = RequestEvent.objects.filter(pk__in=pks, reactions_pending=False).delete()
        deleted += count
