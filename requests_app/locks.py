"""Row locks for requests and participants, always taken in one order: request, then its
participants by id. Taking them in one order everywhere is what keeps two services from
deadlocking each other (Saleor's lock_objects). On SQLite select_for_update is a no-op and
IMMEDIATE transactions serialise writers instead.
"""

from .models import Participant, PaymentRequest


def lock_request(request_pk: int) -> PaymentRequest:
    # ``of=("self",)``: the merchant is read, not locked. Locking its row too would serialise
    # every request of a merchant, and deadlock against any insert that names the merchant
    # (a foreign key check takes a share lock on the row it points to).
    return (
        PaymentRequest.objects.select_for_update(of=("self",))
        .select_related("merchant")
        .get(pk=request_pk)
    )


def lock_participants(request_pk: int) -> list[Participant]:
    return list(
        Participant.objects.select_for_update().filter(request_id=request_pk).order_by("id")
    )
