"""django-q2 entry points for payments: thin wrappers over services."""

from . import services


def release_abandoned_checkouts() -> int:
    return services.checkouts_release_abandoned()


def recover_stale_checkouts() -> int:
    """Checkouts a crash left pending, and refunds whose provider answer was lost."""
    return services.checkouts_recover_stale() + services.refunds_recover_stale()


def charge_due_installments() -> int:
    """Tell payers of the charges coming soon (``installment_due``), then charge those due."""
    from .installments.notices import installment_due_notices_emit
    from .installments.services import installments_charge_due

    installment_due_notices_emit()
    return installments_charge_due(worker_id="q")


def build_daily_reconciliations() -> int:
    """Statements a failed reaction left unwritten, then yesterday's capture-and-refund CSV
    for every merchant and mode that moved money."""
    services.reconciliations_catch_up()
    return services.daily_reconciliations_build()
