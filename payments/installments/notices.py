"""``installment_due``: the notice an offset before each merchant-initiated charge.

Scenario steps only count forward from an event (``offset`` after it), so "three days before
each installment" cannot be planned from the confirmation. Instead the charging job records
``installment_due`` once an installment's charge is within ``INSTALLMENT_DUE_NOTICE_DAYS``;
scenarios turn the event into messages like any other (``installment_due`` trigger).

Once per installment: the row is locked while the event is looked for and written, so two
clusters running the job at the same moment record it once. A retry after a failed charge
gets no second notice (the failure notice already told the payer), and a date moved later
keeps the notice already sent.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from requests_app.events import event_record
from requests_app.models import RequestEvent

from .models import Installment, InstallmentPlan


def _already_noticed(installment: Installment) -> bool:
    return RequestEvent.objects.filter(
        request_id=installment.plan.request_id,
        type=RequestEvent.Type.INSTALLMENT_DUE,
        payload__installment=installment.public_id,
    ).exists()


def installment_due_notices_emit(*, now: datetime | None = None, batch_size: int = 200) -> int:
    """Record ``installment_due`` for the charges coming within the notice period; returns
    how many were recorded."""
    now = now or timezone.now()
    days = settings.INSTALLMENT_DUE_NOTICE_DAYS
    if days <= 0:
        return 0
    candidates = list(
        Installment.objects.filter(
            plan__status=InstallmentPlan.Status.ACTIVE,
            status=Installment.Status.SCHEDULED,
            attempts=0,
            next_attempt_at__gt=now,
            next_attempt_at__lte=now + timedelta(days=days),
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:batch_size]
    )
    recorded = 0
    for pk in candidates:
        with transaction.atomic():
            installment = (
                Installment.objects.select_for_update(of=("self",))
                .select_related("plan", "plan__request", "plan__participant")
                .filter(pk=pk, status=Installment.Status.SCHEDULED, attempts=0)
                .first()
            )
            if installment is None or _already_noticed(installment):
                continue
            plan = installment.plan
            event_record(
                type=RequestEvent.Type.INSTALLMENT_DUE,
                payment_request=plan.request,
                participant=plan.participant,
                payload={
                    "plan": plan.public_id,
                    "installment": installment.public_id,
                    "amount": installment.amount,
                    "due_at": installment.next_attempt_at.isoformat(),
                },
            )
            recorded += 1
    return recorded
