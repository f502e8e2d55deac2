"""The recurring jobs the product needs, in one list, installed by ``install_schedules``."""

from django.db import transaction
from django_q.models import Schedule

SCHEDULES = [
    {
        "name": "recover-stale-checkouts",
        "func": "payments.tasks.recover_stale_checkouts",
        "schedule_type": Schedule.MINUTES,
        "minutes": 5,
    },
    {
        "name": "release-abandoned-checkouts",
        "func": "payments.tasks.release_abandoned_checkouts",
        "schedule_type": Schedule.MINUTES,
        "minutes": 5,
    },
    {
        "name": "charge-due-installments",
        "func": "payments.tasks.charge_due_installments",
        "schedule_type": Schedule.MINUTES,
        "minutes": 5,
    },
    {
        "name": "close-expired-requests",
        "func": "requests_app.tasks.close_expired_requests",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
    {
        "name": "redrive-event-reactions",
        "func": "requests_app.tasks.redrive_event_reactions",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
    {
        "name": "purge-old-events",
        "func": "requests_app.tasks.purge_old_events",
        "schedule_type": Schedule.HOURLY,
    },
    {
        "name": "purge-audit-trail",
        "func": "audit.tasks.purge_audit_trail",
        "schedule_type": Schedule.DAILY,
    },
    {
        "name": "purge-idempotency-keys",
        "func": "merchants.tasks.purge_idempotency_keys",
        "schedule_type": Schedule.MINUTES,
        "minutes": 60,
    },
    {
        "name": "dispatch-due-notifications",
        "func": "notifications.tasks.dispatch_due",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
    {
        # Hourly, so each merchant's yesterday is built soon after its own midnight;
        # rebuilding a day replaces its row, so the repeats cost nothing but a query.
        "name": "build-daily-reconciliations",
        "func": "payments.tasks.build_daily_reconciliations",
        "schedule_type": Schedule.HOURLY,
    },
    {
        "name": "expire-wallet-credits",
        "func": "payments.wallet.tasks.expire_wallet_credits",
        "schedule_type": Schedule.MINUTES,
        "minutes": 15,
    },
    {
        "name": "purge-old-csv-jobs",
        "func": "requests_app.tasks.purge_old_csv_jobs",
        "schedule_type": Schedule.HOURLY,
    },
]


@transaction.atomic
def install_schedules() -> list[str]:
    """Create or update every schedule; safe to run on each deploy and from several hosts."""
    names = []
    for spec in SCHEDULES:
        spec = dict(spec)
        name = spec.pop("name")
        Schedule.objects.update_or_create(name=name, defaults={**spec, "repeats": -1})
        names.append(name)
    return names
