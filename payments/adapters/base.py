"""One interface for every payment method, whoever the provider is.

The checkout saga (ARCHITECTURE.md guarantee 2) only ever talks to this interface: it holds
money with ``authorise``, takes it with ``capture``, and unwinds with ``void`` or ``refund``.
Each provider answers in its own vocabulary; adapters translate it into one small, frozen
``PaymentResult`` so the saga has a single set of states to reason about.

Two kinds of trouble are kept apart on purpose:

- an answer from the provider, even a refusal (declined card, failed 3-D Secure), is a
  ``PaymentResult`` with ``status=failed`` and a ``failure_reason``: the state is known;
- no usable answer (timeout, connection reset, 5xx) is ``ProviderTimeout``: the state is
  unknown, and the only safe move is to retry with the *same* idempotency key, which the
  provider turns into a replay of whatever it did the first time.

Calls the saga must not make at all (capture more than held, capture a voided hold) raise
``pushpay.errors.StateConflict``: they are bugs or races on our side, not payer outcomes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from merchants.models import Merchant


class PaymentStatus(StrEnum):
    """Where the money stands after a call, in the saga's vocabulary."""

    AUTHORISED = "authorised"  # held on the payer's account, not taken yet
    REQUIRES_ACTION = "requires_action"  # the payer must authenticate (3-D Secure) first
    CAPTURED = "captured"  # taken (all or part of the hold)
    CANCELLED = "cancelled"  # the hold was released; nothing was taken
    REFUNDED = "refunded"  # taken, then given back (all or part)
    FAILED = "failed"  # refused by the provider or the payer; nothing is held


class FailureReason(StrEnum):
    """Why a call failed; coarse on purpose so payer messages do not depend on the provider."""

    DECLINED = "declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    AUTHENTICATION_FAILED = "authentication_failed"
    FRAUD = "fraud"
    NOT_ACCEPTED = "not_accepted"  # this method, card brand or currency is not accepted
    PROVIDER_ERROR = "provider_error"  # the provider answered, with an error of its own
    EXPIRED_CARD = "expired_card"  # the card's expiry date has passed (a later charge)
    # A charge made without the payer (an installment) that their bank wants them to
    # authenticate: only the payer can pay it, on a page of ours (3-D Secure there).
    AUTHENTICATION_REQUIRED = "authentication_required"


@dataclass(frozen=True)
class PaymentResult:
    """The normalised answer to any adapter call.

    ``provider_reference`` names the authorisation (one per leg) and is what ``capture``,
    ``void``, ``refund`` and ``retrieve`` take; ``operation_reference`` names this one
    operation in the provider's books (a capture, a refund …), for reconciliation.
    ``amount`` is what this call moved, in integer minor units of ``currency``.
    """

    status: PaymentStatus
    provider_reference: str
    amount: int
    currency: str
    failure_reason: FailureReason | None = None
    action_url: str = ""
    operation_reference: str = ""
    message: str = ""
    # The card as the provider saw it, when our ``source`` cannot say (a card typed on the
    # provider's own page): brand and last four digits for receipts, never more.
    source_brand: str = ""
    source_last4: str = ""
    # Its expiry (month 1-12, four-digit year) when the provider gives it, so a saved card's
    # expiry is known without asking the provider again on every page.
    source_exp_month: int | None = None
    source_exp_year: int | None = None
    # A token the provider kept for charges made later without the payer (installments).
    saved_source: str = ""
    # The provider's own fee for this movement, in minor units of ``currency``; None when
    # it reports none (yet), and ``fee_note`` says why the merchant's rule applies instead.
    fee: int | None = None
    fee_note: str = ""

    def __post_init__(self) -> None:
        # Results cross the saga's persistence boundary: refuse impossible ones at birth.
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 0:
            raise ValueError("amount must be a non-negative integer of minor units")
        if (self.status == PaymentStatus.FAILED) != (self.failure_reason is not None):
            raise ValueError("a failure_reason is given exactly when the status is failed")
        if (self.status == PaymentStatus.REQUIRES_ACTION) != bool(self.action_url):
            raise ValueError("an action_url is given exactly when the status is requires_action")
        if self.fee is not None and (
            isinstance(self.fee, bool) or not isinstance(self.fee, int) or self.fee < 0
        ):
            raise ValueError("a fee is a non-negative integer of minor units")

    @property
    def succeeded(self) -> bool:
        return self.status != PaymentStatus.FAILED


def movement_result(
    status: PaymentStatus, *, provider_reference: str, currency: str, entry
) -> PaymentResult:
    """A capture, void or refund as the saga sees it, from a provider's statement line
    (``entry``, with ``amount`` and ``public_id``; None when nothing moved)."""
    return PaymentResult(
        status=status,
        provider_reference=provider_reference,
        amount=entry.amount if entry else 0,
        currency=currency,
        operation_reference=entry.public_id if entry else "",
    )


class ProviderError(Exception):
    """The provider could not be reached or gave no usable answer."""


class ProviderTimeout(ProviderError):
    """State unknown: the provider may or may not have done it.

    Retry the same call with the same idempotency key; never with a new key, which could
    hold or take the money a second time.
    """


class PaymentMethodAdapter(ABC):
    """Base class of every payment method (card, holiday vouchers, wallets, PayPal …).

    An adapter is bound to one merchant, because providers keep accounts (credentials,
    idempotency keys, references) per merchant. Every call that changes money takes an
    ``idempotency_key``: the saga persists it before the call, so a retry after a crash or a
    ``ProviderTimeout`` replays instead of repeating.
    """

    code: ClassVar[str]
    label: ClassVar[str]
    # How long the provider keeps an authorisation before it lapses; capture_mode
    # on_completion is refused for requests that could outlive it.
    hold_window: ClassVar[timedelta] = timedelta(days=7)
    # A sandbox moves no real money: it may only ever serve test mode (the registry and
    # the adapter itself refuse anything else).
    is_sandbox: ClassVar[bool] = False
    # Who moves the money ("sandbox", "stripe" …): written on each leg when it is created,
    # so the leg's later calls reach the same provider whatever the merchant configures.
    provider: ClassVar[str] = ""
    # What the payer page includes to collect this method's details (a provider's hosted
    # fields that hand back a token); the template gets ``token_field`` and ``card_error``.
    payer_fields_template: ClassVar[str] = ""
    # True when authorise answers at once, never sending the payer to another page
    # (vouchers, wallets): a combined checkout asks these legs first.
    authorises_in_place: ClassVar[bool] = False
    # True for methods whose payer holds a balance (holiday vouchers, a cashback wallet):
    # the payer page shows it and offers "Use my balance" (``balance``).
    has_balance: ClassVar[bool] = False
    # True when the payer types no details: the source is found from the participant
    # (``participant_source``), as a wallet is found from its holder's email or phone.
    source_from_participant: ClassVar[bool] = False
    # True when the provider can keep the payer's card for later charges made without them:
    # the saga then passes ``save_for`` to ``authorise`` on an installment's checkout (the
    # participant's id, or a source saved for them before, whose holder is reused), and the
    # result's ``saved_source`` becomes the plan's card.
    saves_sources: ClassVar[bool] = False
    # The source that sends a payer who is on our page to the provider's own page to pay now
    # (3-D Secure there), for when a saved card charged without them needs their bank's
    # authentication (a pay-off); "" for methods that cannot.
    on_session_source: ClassVar[str] = ""

    def __init__(self, *, merchant: Merchant, livemode: bool = False):
        if livemode and self.is_sandbox:
            raise ImproperlyConfigured(f"{type(self).__name__} is a sandbox: test mode only.")
        self.merchant = merchant
        self.livemode = livemode

    @classmethod
    def is_configured(cls, *, merchant: Merchant, livemode: bool) -> bool:
        """Whether this merchant can use the adapter in this mode (credentials present).

        Sandboxes need nothing; a real provider answers from the merchant's credentials.
        """
        return True

    @classmethod
    def owns_source(cls, source: str) -> bool:
        """Whether ``source`` is one of this provider's tokens; sandboxes answer it so that a
        sandbox token can be refused on a live request before anything is created."""
        return False

    @abstractmethod
    def authorise(
        self,
        *,
        amount: int,
        currency: str,
        source: str,
        idempotency_key: str,
        return_url: str = "",
    ) -> PaymentResult:
        """Hold ``amount`` on the payer's ``source`` (a provider token, never card data).

        May answer ``requires_action`` with an ``action_url`` to send the payer to; the payer
        comes back to ``return_url`` and ``retrieve`` tells the outcome.
        """

    @abstractmethod
    def capture(self, *, reference: str, amount: int, idempotency_key: str) -> PaymentResult:
        """Take ``amount`` (at most what is still held) from the authorisation."""

    @abstractmethod
    def void(self, *, reference: str, idempotency_key: str) -> PaymentResult:
        """Release whatever is still held; the saga's way to unwind an uncaptured leg."""

    @abstractmethod
    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> PaymentResult:
        """Give back ``amount`` (at most what was taken and not yet refunded)."""

    def balance(self, *, source: str, currency: str) -> int:
        """What the payer can spend now with ``source``, in minor units of ``currency``
        (``has_balance`` methods only); refuses an unknown source with ``InvalidInput``."""
        raise NotImplementedError(f"{type(self).__name__} keeps no balance.")

    def participant_source(self, participant) -> str:
        """The source that belongs to this participant ("" when none), for
        ``source_from_participant`` methods; a payer can never name another's."""
        return ""

    def expires_before(self, source: str, day: date) -> bool:
        """Whether the card behind ``source`` stops working before ``day``, so a plan whose
        last charge falls later can warn the payer now rather than fail then. False when
        the method has no expiry or the provider does not tell it."""
        return False

    def describe_source(self, source: str) -> tuple[str, str]:
        """Brand and last four digits of a source, for receipts; empty when unknown."""
        return "", ""

    @abstractmethod
    def retrieve(self, *, reference: str) -> PaymentResult:
        """The authorisation as it stands now: how the saga learns a 3-D Secure outcome."""
