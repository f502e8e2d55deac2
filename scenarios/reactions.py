"""How scenarios react to request events: all database-only, inside the event's transaction,
so the planned messages commit with the fact that caused them (ARCHITECTURE.md guarantee 4)."""

from pushpay.errors import InvalidInput
from requests_app.events import reaction_register
from requests_app.models import RequestEvent
from requests_app.ports import sends_own_message_register

from . import services
from .selectors import request_notifies_on

T = RequestEvent.Type


def _plan_new_request(event: RequestEvent) -> None:
    public_id = event.payload.get("scenario")
    if not public_id:
        return
    # request_created is recorded by the creation itself, in its transaction, with the
    # request and its participants in hand (requests_app.services.payment_request_create).
    planned = services.dispatches_plan_for_new_request(
        payment_request=event.request, scenario_public_id=public_id
    )
    if planned is None:
        raise InvalidInput(
            f"No such scenario: '{public_id}'.", code="unknown_scenario", field="scenario"
        )


def _plan_event(event: RequestEvent) -> None:
    services.dispatches_plan_for_event(event=event)


def _cancel_payers_reminders(event: RequestEvent) -> None:
    # Paying cancels this payer's pending reminders in the same transaction.
    services.dispatches_cancel_for_participant(participant=event.participant, reason="already_paid")


_CLOSING_REASONS = {
    T.REQUEST_CANCELLED: "request_cancelled",
    T.REQUEST_EXPIRED: "request_expired",
    T.REQUEST_COMPLETED: "request_completed",
}


def _cancel_collecting_messages(event: RequestEvent) -> None:
    services.dispatches_cancel_for_request(
        payment_request=event.request, reason=_CLOSING_REASONS[event.type]
    )


def _replan(event: RequestEvent) -> None:
    services.dispatches_replan_for_request(payment_request=event.request)


def register() -> None:
    # Order matters: an event's own notices are planned before reminders are withdrawn.
    reaction_register(
        name="scenarios.plan_new_request", handler=_plan_new_request, types=(T.REQUEST_CREATED,)
    )
    reaction_register(name="scenarios.plan_event", handler=_plan_event)
    reaction_register(
        name="scenarios.cancel_payers_reminders",
        handler=_cancel_payers_reminders,
        types=(T.PARTICIPANT_PAID,),
    )
    reaction_register(
        name="scenarios.cancel_collecting_messages",
        handler=_cancel_collecting_messages,
        types=tuple(_CLOSING_REASONS),
    )
    reaction_register(name="scenarios.replan", handler=_replan, types=(T.REQUEST_UPDATED,))
    sends_own_message_register(
        lambda payment_request, trigger: request_notifies_on(
            payment_request=payment_request, trigger=trigger
        )
    )
