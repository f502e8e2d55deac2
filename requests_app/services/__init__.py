"""requests_app owns payment requests and their participants: creation, changes, lifecycle.

Every state change of a request or a participant goes through a function of this package,
in one transaction, through the two transition functions that refuse illegal moves and leave
an audit row (``rules``). Amounts are integer minor units (ARCHITECTURE.md guarantee 1). One
module per use case: ``create``, ``batch``, ``participants``, ``lifecycle``; callers import
from here.
"""

from .batch import MAX_BATCH_SIZE, BatchOutcome, payment_request_create_batch
from .create import (
    payment_request_create,
)
from .lifecycle import (
    payment_request_cancel,
    payment_request_expire,
    payment_request_set_notifications_paused,
    payment_request_update,
)
from .participants import (
    participant_add,
    participant_record_failure,
    participant_record_payment,
    participant_record_refund,
    participant_remove,
)
from .rules import (
    MAX_AMOUNT,
    MAX_PARTICIPANTS,
    METADATA_MAX_BYTES,
    METADATA_MAX_KEY_LENGTH,
    METADATA_MAX_KEYS,
    ParticipantData,
    _transition_request,
    check_payable_amount,
    has_control_characters,
    participants_refusals,
    validate_amount,
    validate_metadata,
    validate_return_url,
)

__all__ = [
    "MAX_AMOUNT",
    "MAX_BATCH_SIZE",
    "MAX_PARTICIPANTS",
    "METADATA_MAX_BYTES",
    "METADATA_MAX_KEYS",
    "METADATA_MAX_KEY_LENGTH",
    "BatchOutcome",
    "ParticipantData",
    "_transition_request",
    "check_payable_amount",
    "has_control_characters",
    "participant_add",
    "participant_record_failure",
    "participant_record_payment",
    "participant_record_refund",
    "participant_remove",
    "participants_refusals",
    "payment_request_cancel",
    "payment_request_create",
    "payment_request_create_batch",
    "payment_request_expire",
    "payment_request_set_notifications_paused",
    "payment_request_update",
    "validate_amount",
    "validate_metadata",
    "validate_return_url",
]
