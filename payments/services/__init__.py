"""payments owns how money moves: payment-method adapters and their per-merchant enablement
(``methods``), the payer's pay use case (``pay``), the checkout saga over legs (``saga``),
recovery after a crash (``recovery``), the payer's cancel (``abandon``), refunds
(``refunds``) and disputes reported by providers (``disputes``); the built-in sandbox card
acquirer is ``payments.sandbox``.
Callers import from here.
"""

from ..wallet.services import (
    cashback_rule_set,
    wallet_of_participant,
    wallet_source_check,
)
from .abandon import PAYER_CANCELLED, checkout_abandon
from .combinations import (
    combination_check,
    payment_method_configure,
    payment_settings_update,
)
from .disputes import DisputeOutcome, dispute_record, disputed_amounts_by_leg
from .methods import (
    payment_method_disable,
    payment_method_enable,
)
from .pay import (
    PayLeg,
    checkout_pay,
    pay_answers_refusals,
)
from .recovery import (
    STALE_AFTER,
    checkouts_recover_stale,
)
from .refunds import (
    PENDING_REFUND_STALE_AFTER,
    RefundLine,
    payment_request_refund,
    refunds_finish_pending,
    refunds_recover_stale,
)
from .saga import (
    ABANDONED_AFTER,
    IN_FLIGHT_STATUSES,
    RELEASABLE,
    LegRequest,
    checkout_open,
    checkout_resume,
    checkout_start,
    checkouts_release,
    checkouts_release_abandoned,
    checkouts_waiting,
)

__all__ = [
    "ABANDONED_AFTER",
    "IN_FLIGHT_STATUSES",
    "PAYER_CANCELLED",
    "PENDING_REFUND_STALE_AFTER",
    "RELEASABLE",
    "STALE_AFTER",
    "DisputeOutcome",
    "LegRequest",
    "PayLeg",
    "RefundLine",
    "cashback_rule_set",
    "checkout_abandon",
    "checkout_open",
    "checkout_pay",
    "checkout_resume",
    "checkout_start",
    "checkouts_recover_stale",
    "checkouts_release",
    "checkouts_release_abandoned",
    "checkouts_waiting",
    "combination_check",
    "dispute_record",
    "disputed_amounts_by_leg",
    "pay_answers_refusals",
    "payment_method_configure",
    "payment_method_disable",
    "payment_method_enable",
    "payment_request_refund",
    "payment_settings_update",
    "refunds_finish_pending",
    "refunds_recover_stale",
    "wallet_of_participant",
    "wallet_source_check",
]

# Reconciliation ("lettrage"): fee rules, per-request statements, daily statements.
from .reconciliation import (
    DAILY_CSV_HEADER,
    REQUEST_CSV_HEADER,
    csv_cell,
    daily_reconciliation_build,
    daily_reconciliations_build,
    fee_rule_remove,
    fee_rule_set,
    reconciliation_csv,
    reconciliation_refresh,
    reconciliations_catch_up,
)

__all__ += [
    "DAILY_CSV_HEADER",
    "REQUEST_CSV_HEADER",
    "csv_cell",
    "daily_reconciliation_build",
    "daily_reconciliations_build",
    "fee_rule_remove",
    "fee_rule_set",
    "reconciliation_csv",
    "reconciliation_refresh",
    "reconciliations_catch_up",
]

# Merchants' own provider accounts (Stripe) and the events they send.
from .credentials import (  # noqa: E402
    provider_credentials_delete,
    provider_credentials_rotate,
    provider_credentials_save,
    provider_credentials_test,
)
from .provider_events import stripe_event_receive  # noqa: E402
from .refunds import refund_record_at_provider  # noqa: E402

__all__ += [
    "provider_credentials_delete",
    "provider_credentials_rotate",
    "provider_credentials_save",
    "provider_credentials_test",
    "refund_record_at_provider",
    "stripe_event_receive",
]
