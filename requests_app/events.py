"""Recording request events. Call only from inside a service's transaction."""

from scenarios.services import dispatches_plan_for_event

from .models import Participant, PaymentRequest, RequestEvent


def event_record(
    *,
    type: str,
    payment_request: PaymentRequest,
    participant: Participant | None = None,
    payload: dict | None = None,
) -> RequestEvent:
    if type not in RequestEvent.Type.values:
        raise ValueError(f"Unknown event type {type!r}")
    event = RequestEvent.objects.create(
        merchant_id=payment_request.merchant_id,
        livemode=payment_request.livemode,
        request=payment_request,
        participant=participant,
        type=type,
        payload=payload or {},
    )
    # The notifications this event triggers are planned in the same transaction (outbox).
    dispatches_plan_for_event(event=event)
    return event
