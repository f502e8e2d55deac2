"""When a request's statement is (re)written: the events after which it may be final.

In the transaction, like planning a receipt: the statement, its ``reconciliation_ready``
event and the merchant's email commit with the change that made the request final. The
reaction is idempotent (``reconciliation_refresh`` writes nothing when nothing changed),
so a payment booked, a refund or a cancel each bring at most one new version.
"""

import logging

from django.db import transaction

from requests_app.events import reaction_register
from requests_app.models import RequestEvent

T = RequestEvent.Type
# Completed (paid), expired with money in (closed), cancelled, a refund, and a late booking
# on a request already final.
TRIGGERS = (
    T.REQUEST_COMPLETED,
    T.REQUEST_EXPIRED,
    T.REQUEST_CANCELLED,
    T.PAYMENT_REFUNDED,
    T.PAYMENT_SUCCEEDED,
    # A chargeback opened, moved or closed: the statement shows it, and a lost one (or
    # Stripe's dispute fee) changes the net.
    T.DISPUTE_CREATED,
    T.DISPUTE_UPDATED,
    T.DISPUTE_CLOSED,
)


logger = logging.getLogger(__name__)


def _refresh(event: RequestEvent) -> None:
    """In a savepoint: a statement that cannot be written must never undo the booking of
    money already taken. The hourly ``reconciliations_catch_up`` writes it later."""
    from .services import reconciliation_refresh

    try:
        with transaction.atomic():
            reconciliation_refresh(payment_request=event.request)
    except Exception:
        logger.exception("Reconciliation of request %s failed; caught up later", event.request_id)


def register() -> None:
    reaction_register(name="payments.reconciliation_refresh", handler=_refresh, types=TRIGGERS)
