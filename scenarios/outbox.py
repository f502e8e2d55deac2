"""The scenario steps' kind of outbox row: how notifications re-checks and builds them.

Registered with ``notifications.kinds`` from ``ScenariosConfig.ready()``. ``prepare`` reads the
request, the participant and the participant an event is about afresh, just before each
send, so the re-check ("already paid? paused? cancelled?") never trusts what the batch read.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils import timezone

from notifications.channels import OutgoingMessage
from notifications.kinds import OutboxKind, outbox_kind_register
from notifications.rendering import MessageData, ScheduleItem, render_message
from notifications.webhooks import webhook_endpoint_record_attempt
from payments.installments import selectors as installment_selectors
from payments.selectors import checkout_methods_paid
from requests_app.links import payment_url, plan_url
from requests_app.models import Participant, PaymentRequest, RequestEvent

from .models import COLLECTING_TRIGGERS, INSTALLMENT_TRIGGERS, Channel, Dispatch, Trigger

KIND = "scenario_step"


def _prepare_many(dispatches: list[Dispatch]) -> None:
    """The re-check's reads for a chunk of rows sent together, in three queries instead of
    two per row: the rows' participants and requests as they are now (each request read
    once, however many of its payers the chunk holds), and which of those payers are on a
    running installment plan. Read just before the chunk is prepared, so the re-check still
    sees a payment made until the chunk's sends start."""
    participants = Participant.objects.in_bulk(
        {d.participant_id for d in dispatches if d.participant_id}
    )
    requests = PaymentRequest.objects.in_bulk({d.request_id for d in dispatches if d.request_id})
    on_plan = installment_selectors.participants_on_running_plan(
        participant_ids=sorted(participants)
    )
    for dispatch in dispatches:
        request = requests.get(dispatch.request_id)
        participant = participants.get(dispatch.participant_id)
        if request is None or (dispatch.participant_id and participant is None):
            continue  # gone meanwhile: ``_prepare`` reads it for itself, as it always did
        dispatch.prefetched = (request, participant, dispatch.participant_id in on_plan)


def _prepare(dispatch: Dispatch) -> str:
    prefetched = dispatch.__dict__.pop("prefetched", None)
    if prefetched is None:
        fresh = Dispatch.objects.select_related("request", "participant").get(pk=dispatch.pk)
        request, participant, on_plan = fresh.request, fresh.participant, None
    else:
        request, participant, on_plan = prefetched
    request.merchant = dispatch.request.merchant  # loaded with the batch; never changes
    dispatch.request, dispatch.participant = request, participant
    dispatch.on_running_plan = on_plan
    dispatch.concerned = None
    dispatch.payment = None
    dispatch.installment = None
    if dispatch.event_id:
        dispatch.concerned = Participant.objects.filter(events__pk=dispatch.event_id).first()
        dispatch.payment = _payment_of(dispatch)
        dispatch.installment = _installment_of(dispatch)
    return _skip_reason(dispatch, dispatch.concerned)


# Events whose amount was taken (a failed attempt's payload has an amount too: nothing paid).
_PAID_EVENTS = (
    RequestEvent.Type.PAYMENT_SUCCEEDED,
    RequestEvent.Type.PARTICIPANT_PAID,
    RequestEvent.Type.INSTALLMENT_SUCCEEDED,
)


@dataclass(frozen=True)
class _Payment:
    amount: int
    methods: tuple[str, ...]
    paid_at: datetime


def _payment_of(dispatch: Dispatch) -> _Payment | None:
    """The payment the triggering event is about, for receipts (``amount_paid`` and friends).

    The event's own amount, not the participant's running total: a second instalment's
    receipt states that instalment. Events that are not about a payment have none.
    """
    event = RequestEvent.objects.filter(
        pk=dispatch.event_id, request_id=dispatch.request_id, type__in=_PAID_EVENTS
    ).first()
    if event is None or not isinstance(event.payload.get("amount"), int):
        return None
    methods: tuple[str, ...] = ()
    paid_at = event.created_at
    if event.payload.get("checkout"):
        methods = checkout_methods_paid(
            merchant_id=dispatch.request.merchant_id, public_id=event.payload["checkout"]
        )
    return _Payment(amount=event.payload["amount"], methods=methods, paid_at=paid_at)


@dataclass(frozen=True)
class _InstallmentNotice:
    amount: int | None  # the installment concerned, when the event is about one
    when: datetime | None  # its charge (installment_due) or next try (installment_failed)
    schedule: tuple[ScheduleItem, ...] = field(default_factory=tuple)
    plan: str = ""  # ip_… of the plan, whose payer page the notice links to


def _installment_of(dispatch: Dispatch) -> _InstallmentNotice | None:
    """What an installment notice tells: the confirmation lists the schedule as confirmed
    (from the event), the others what is still to be charged, read now."""
    if dispatch.step.trigger not in INSTALLMENT_TRIGGERS:
        return None
    event = RequestEvent.objects.filter(
        pk=dispatch.event_id, request_id=dispatch.request_id, type=dispatch.step.trigger
    ).first()
    payload = event.payload if event is not None else {}
    if not isinstance(payload, dict) or not isinstance(payload.get("plan"), str):
        return None
    merchant_id = dispatch.request.merchant_id
    if event.type == Trigger.INSTALLMENT_PLAN_CONFIRMED:
        schedule = tuple(
            ScheduleItem(due_date=date.fromisoformat(item["due_date"]), amount=item["amount"])
            for item in payload.get("schedule") or ()
        )
    else:
        schedule = tuple(
            ScheduleItem(due_date=item.due_date, amount=item.amount)
            for item in installment_selectors.installments_still_to_charge(
                merchant_id=merchant_id, plan_public_id=payload["plan"]
            )
        )
    amount = payload.get("amount") if isinstance(payload.get("amount"), int) else None
    when = None
    if event.type == Trigger.INSTALLMENT_FAILED and payload.get("retry_at"):
        when = datetime.fromisoformat(payload["retry_at"])
    elif event.type == Trigger.INSTALLMENT_DUE and payload.get("installment"):
        installment = installment_selectors.installment_get(
            merchant_id=merchant_id, public_id=payload["installment"]
        )
        when = installment.next_attempt_at if installment is not None else None
    return _InstallmentNotice(amount=amount, when=when, schedule=schedule, plan=payload["plan"])


def _build(dispatch: Dispatch) -> OutgoingMessage:
    return _outgoing(dispatch, getattr(dispatch, "concerned", None))


def register() -> None:
    outbox_kind_register(
        OutboxKind(
            name=KIND,
            prepare=_prepare,
            prepare_many=_prepare_many,
            build=_build,
            batch_related=(
                "step",
                "step__scenario",
                "step__template",
                "step__webhook_endpoint",
            ),
            after_attempt=_after_attempt,
        )
    )


def _after_attempt(dispatch: Dispatch, error) -> None:
    """A scenario's webhook step keeps the endpoint's health too: a 410 Gone from it
    disables the endpoint for subscriptions and steps alike."""
    if dispatch.channel == Channel.WEBHOOK and dispatch.step.webhook_endpoint_id:
        webhook_endpoint_record_attempt(endpoint_id=dispatch.step.webhook_endpoint_id, error=error)


def _skip_reason(dispatch: Dispatch, concerned: Participant | None) -> str:
    step = dispatch.step
    request: PaymentRequest = dispatch.request
    if step.scenario.is_paused or getattr(request, "notifications_paused", False):
        return "paused"
    if dispatch.resend_of_id is not None:
        return "" if dispatch.recipient else "no_recipient"  # an operator asked explicitly
    if step.trigger in COLLECTING_TRIGGERS and not request.is_collecting:
        return {
            PaymentRequest.Status.CANCELLED: "request_cancelled",
            PaymentRequest.Status.EXPIRED: "request_expired",
            PaymentRequest.Status.PAID: "already_paid",
        }.get(request.status, "request_closed")
    participant = dispatch.participant
    needs_unpaid = step.needs_unpaid or (step.repeat_until_paid and dispatch.repetition > 0)
    if participant is not None and needs_unpaid and participant.status not in Participant.UNPAID:
        return {
            Participant.Status.PAID: "already_paid",
            Participant.Status.REFUNDED: "already_paid",
            Participant.Status.CANCELLED: "participant_cancelled",
            Participant.Status.EXPIRED: "request_expired",
        }.get(participant.status, "not_due")
    if (
        participant is not None
        and needs_unpaid
        and step.trigger not in INSTALLMENT_TRIGGERS
        and _on_running_plan(dispatch, participant)
    ):
        return "on_installment_plan"  # the plan's own notices replace the reminders
    if step.min_amount is not None and participant is not None:
        owed = participant.amount_due
        if owed is not None and owed < step.min_amount:
            return "condition_not_met"
    if dispatch.channel == Channel.WEBHOOK and not (
        step.webhook_endpoint and step.webhook_endpoint.is_active
    ):
        return "endpoint_disabled"
    if dispatch.channel == Channel.WEBHOOK and step.webhook_endpoint.livemode != dispatch.livemode:
        # Scenarios serve both modes, endpoints only one: test events never reach a live
        # endpoint (and the reverse), whatever the scenario says.
        return "endpoint_other_mode"
    if not dispatch.recipient:
        return "no_recipient"
    return ""


def _on_running_plan(dispatch: Dispatch, participant: Participant) -> bool:
    known = getattr(dispatch, "on_running_plan", None)
    if known is not None:
        return known
    return installment_selectors.participant_on_running_plan(participant_id=participant.pk)


def _pay_url(participant: Participant | None) -> str:
    return payment_url(participant) if participant is not None else ""


def _message_data(dispatch: Dispatch, concerned: Participant | None) -> MessageData:
    request = dispatch.request
    merchant = request.merchant
    # Whom the message is about: the recipient, or for initiator/merchant notices of an
    # event (participant_paid), the participant concerned.
    payer = concerned if concerned is not None else dispatch.participant
    amount_due = None
    if payer is not None:
        amount_due = payer.amount_due
    elif request.total_amount is not None:
        amount_due = max(request.total_amount - request.amount_paid, 0)
    pay_url = _pay_url(payer)
    payment = getattr(dispatch, "payment", None)
    notice = getattr(dispatch, "installment", None)
    deadline = request.deadline
    retry_url = pay_url
    if notice is not None and notice.plan and payer is not None:
        # The plan's own page: where a failed installment is paid with another card and
        # the balance paid off (the request's page knows nothing of the schedule).
        retry_url = plan_url(payer, notice.plan)
    if notice is not None:
        # An installment notice speaks of that installment, not of the request's deadline.
        if notice.amount is not None and dispatch.step.trigger != Trigger.INSTALLMENT_SUCCEEDED:
            amount_due = notice.amount
        deadline = notice.when
    return MessageData(
        payer_name=payer.name if payer else "",
        payer_email=payer.email if payer else "",
        payer_phone=payer.phone if payer else "",
        merchant_name=merchant.name,
        reference=request.reference,
        description=request.description,
        amount_due=amount_due,
        amount_paid=payment.amount if payment else None,
        payment_methods=payment.methods if payment else (),
        paid_at=payment.paid_at if payment else None,
        currency=request.currency,
        deadline=deadline,
        time_zone=merchant.time_zone,
        pay_url=pay_url,
        retry_url=retry_url,
        schedule=notice.schedule if notice is not None else (),
    )


def _webhook_payload(dispatch: Dispatch, concerned: Participant | None) -> dict:
    request = dispatch.request
    participant = concerned or dispatch.participant
    return {
        "type": f"notification.{dispatch.step.trigger}",
        "livemode": dispatch.livemode,
        "timestamp": timezone.now().isoformat(),
        "data": {
            "notification": dispatch.public_id,
            "scenario": dispatch.step.scenario.public_id,
            "step": dispatch.step.position,
            "repetition": dispatch.repetition,
            "payment_request": {
                "id": request.public_id,
                "livemode": request.livemode,
                "reference": request.reference,
                "status": request.status,
                "currency": request.currency,
                "total_amount": request.total_amount,
                "amount_paid": request.amount_paid,
                "deadline": request.deadline.isoformat() if request.deadline else None,
            },
            "participant": None
            if participant is None
            else {
                "id": participant.public_id,
                "name": participant.name,
                "status": participant.status,
                "amount_due": participant.amount_due,
            },
        },
    }


def _outgoing(dispatch: Dispatch, concerned: Participant | None) -> OutgoingMessage:
    merchant = dispatch.request.merchant
    if dispatch.channel == Channel.WEBHOOK:
        endpoint = dispatch.step.webhook_endpoint
        return OutgoingMessage(
            message_id=dispatch.public_id,
            merchant_id=merchant.pk,
            to=endpoint.url,
            payload=_webhook_payload(dispatch, concerned),
            secret=endpoint.secret,
            livemode=dispatch.livemode,
        )
    rendered = render_message(
        template=dispatch.step.template,
        language=dispatch.language,
        data=_message_data(dispatch, concerned),
    )
    return OutgoingMessage(
        message_id=dispatch.public_id,
        merchant_id=merchant.pk,
        to=dispatch.recipient,
        subject=rendered.subject or "",
        text=rendered.text,
        html=rendered.html or "",
        reply_to=merchant.payer_reply_to,
        sender_name=merchant.sender_name,
        livemode=dispatch.livemode,
    )
