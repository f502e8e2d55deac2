"""Creating many payment requests in one go, each accepted or refused on its own.

The one place batch semantics live, for the API's batch endpoint and the back office's CSV
import alike: one transaction for the batch, one savepoint per item. A refusal rolls back
that item only; anything else (a bug, the database going away) rolls back the whole batch,
so a caller never holds half a batch and no answer saying which half. A caller that records
its own progress (an idempotency record, a CSV job's counters) does it inside ``then``, in
the batch's transaction, so the progress and the creations commit or vanish together.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db import transaction

from pushpay.errors import DomainError, InvalidInput

from ..models import PaymentRequest

MAX_BATCH_SIZE = 1000


@dataclass(frozen=True)
class BatchOutcome:
    """One item's fate: ``created`` or ``refusal`` (the exception that refused it)."""

    index: int
    created: PaymentRequest | None = None
    refusal: Exception | None = None


def payment_request_create_batch(
    *,
    creations: Sequence[Callable[[], PaymentRequest]],
    refused: tuple[type[Exception], ...] = (),
    then: Callable[[list[BatchOutcome]], None] | None = None,
) -> list[BatchOutcome]:
    """Run each creation (a call of ``payment_request_create`` with its caller's arguments,
    after whatever reading of the input that caller needs) in its own savepoint, in order.

    A ``DomainError`` (or one of ``refused``: the API's validation errors, the CSV import's
    row errors) refuses that item alone; ``then`` runs with every outcome before the batch
    commits."""
    if not creations:
        raise InvalidInput("A batch needs at least one item.", code="empty_batch")
    if len(creations) > MAX_BATCH_SIZE:
        raise InvalidInput(
            f"A batch holds at most {MAX_BATCH_SIZE} requests; this one has {len(creations)}.",
            code="batch_too_large",
        )
    outcomes: list[BatchOutcome] = []
    with transaction.atomic():
        for index, create in enumerate(creations):
            try:
                with transaction.atomic():
                    created = create()
            except (DomainError, *refused) as exc:
                outcomes.append(BatchOutcome(index=index, refusal=exc))
            else:
                outcomes.append(BatchOutcome(index=index, created=created))
        if then is not None:
            then(outcomes)
    return outcomes
