"""Cards through the merchant's own Stripe account (the official ``stripe`` SDK).

Each card leg is one Stripe Checkout Session in ``payment`` mode whose PaymentIntent has
``capture_method=manual``: Stripe's page collects the card and runs 3-D Secure, so no card
number ever reaches our servers (PCI DSS SAQ A). The leg's reference is the session
(``cs_…``) until the payer has authorised, then the PaymentIntent (``pi_…``); capture,
cancel (= void) and refunds act on the PaymentIntent.

Every call builds its own ``StripeClient`` with the merchant's key (never the SDK's global
``stripe.api_key``: two merchants' calls in one process must never share a key), no SDK
retries (the saga retries with the same idempotency key, which it persisted first), and
``STRIPE_API_BASE`` so tests talk to a local stub. Parameters of a money-moving call are a
pure function of the leg, so a replay with the same key is the same request to Stripe.

Answers map onto the saga's three outcomes: a Stripe answer (even a decline) is a
``PaymentResult``; a 5xx, 429, timeout or broken connection is ``ProviderTimeout`` (the
state is unknown: retry with the same key, or ``retrieve``); a call Stripe refuses because
of the object's state (capture a cancelled intent, refund more than taken, a key reused with
other parameters) is ``StateConflict``.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import stripe
from django.conf import settings

from pushpay.errors import InvalidInput, StateConflict
from pushpay.money import currency_exponent

from .accounts import configured_modes, credential_of
from .base import (
    FailureReason,
    PaymentMethodAdapter,
    PaymentResult,
    PaymentStatus,
    ProviderError,
    ProviderTimeout,
)

logger = logging.getLogger(__name__)

PROVIDER = "stripe"

# Stripe's minor units differ from ISO 4217's for a few currencies: these take no decimals
# at all; ISK is zero-decimal for the payer but the API takes it with two (a multiple of
# 100); the three-decimal currencies take three, the last of which must be 0.
ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
TWO_DECIMAL_IN_API = frozenset({"isk"})


class StripeKeyRejected(Exception):
    """Stripe refused the merchant's key (revoked, wrong account, missing permission)."""


class AmountNotRepresentable(InvalidInput):
    pass


def stripe_exponent(currency: str) -> int:
    code = currency.lower()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    if code in TWO_DECIMAL_IN_API:
        return 2
    return currency_exponent(code.upper())


def to_stripe_amount(amount: int, currency: str) -> int:
    """Our integer minor units (ISO 4217 exponent) as Stripe's ``amount``, exactly."""
    ours, theirs = currency_exponent(currency.upper()), stripe_exponent(currency)
    if theirs >= ours:
        value = amount * 10 ** (theirs - ours)
    else:
        factor = 10 ** (ours - theirs)
        if amount % factor:
            raise _not_representable(currency)
        value = amount // factor
    if currency.lower() in THREE_DECIMAL and value % 10:
        raise _not_representable(currency)
    return value


def from_stripe_amount(value: int, currency: str) -> int:
    """Stripe's ``amount`` back in our minor units (the exact inverse of the above)."""
    ours, theirs = currency_exponent(currency.upper()), stripe_exponent(currency)
    if theirs >= ours:
        return int(value) // 10 ** (theirs - ours)
    return int(value) * 10 ** (ours - theirs)


def _not_representable(currency: str) -> AmountNotRepresentable:
    return AmountNotRepresentable(
        f"Stripe cannot take this amount in {currency.upper()} (its smallest unit is larger).",
        code="amount_not_representable",
        field="amount",
    )


def stripe_client(secret_key: str) -> stripe.StripeClient:
    """A client for one merchant's key, for one use."""
    base = settings.STRIPE_API_BASE
    return stripe.StripeClient(
        secret_key,
        base_addresses={"api": base} if base else None,
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
    )


def _configured_modes(merchant) -> frozenset[bool]:
    return configured_modes(merchant, PROVIDER)


def _credential(merchant, livemode: bool):
    return credential_of(merchant, livemode, PROVIDER)


def stripe_account_of(credential) -> str:
    """Who the stored key belongs to (``acct_…``): the back office's connection test."""
    from payments.credentials import decrypt

    try:
        account = stripe_client(
            decrypt(credential.secret_key_encrypted)
        ).v1.accounts.retrieve_current()
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        raise StripeKeyRejected(f"Stripe refused the key: {exc.user_message or exc}") from None
    except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as exc:
        raise ProviderTimeout(f"Stripe did not answer: {exc.user_message or exc}") from None
    except stripe.StripeError as exc:
        raise StripeKeyRejected(f"Stripe refused the request: {exc.user_message or exc}") from None
    return str(_get(account, "id") or "")


def _no_answer(exc: stripe.StripeError) -> bool:
    return isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or (
        isinstance(exc, stripe.APIError) and not isinstance(exc, stripe.InvalidRequestError)
    )


_FRAUD = {"fraudulent", "stolen_card", "lost_card", "pickup_card", "merchant_blacklist"}
_AUTHENTICATION = {"authentication_required", "payment_intent_authentication_failure"}


def _reason_of(error: dict | None) -> FailureReason:
    error = error or {}
    code, decline = error.get("code") or "", error.get("decline_code") or ""
    if code in _AUTHENTICATION or decline in _AUTHENTICATION:
        return FailureReason.AUTHENTICATION_FAILED
    if decline == "insufficient_funds" or code == "insufficient_funds":
        return FailureReason.INSUFFICIENT_FUNDS
    if decline in _FRAUD:
        return FailureReason.FRAUD
    return FailureReason.DECLINED


_MESSAGES = {
    FailureReason.AUTHENTICATION_REQUIRED: "The bank wants the payer to authenticate this charge.",
    FailureReason.DECLINED: "The card was declined.",
    FailureReason.INSUFFICIENT_FUNDS: "The card has insufficient funds.",
    FailureReason.AUTHENTICATION_FAILED: "The payer did not pass 3-D Secure authentication.",
    FailureReason.FRAUD: "The card was refused for security reasons.",
}


class StripeCardAdapter(PaymentMethodAdapter):
    """Cards through Stripe Checkout; ``source`` is ``"card"`` (the payer types nothing
    here: the card is entered on Stripe's page)."""

    code = "card"
    provider = PROVIDER
    label = "Card"
    payer_fields_template = ""
    saves_sources = True
    on_session_source = "card"  # a Checkout Session, where Stripe runs 3-D Secure

    @classmethod
    def is_configured(cls, *, merchant, livemode: bool) -> bool:
        return livemode in _configured_modes(merchant)

    def _client(self) -> stripe.StripeClient:
        from payments.credentials import decrypt

        credential = _credential(self.merchant, self.livemode)
        if credential is None:
            raise InvalidInput(
                "No Stripe account is configured for this mode.",
                code="payment_method_unavailable",
                field="method",
            )
        return stripe_client(decrypt(credential.secret_key_encrypted))

    def _call(self, fn, *args, **kwargs) -> Any:
        """One SDK call; lost answers become ``ProviderTimeout``, a refused key a failure
        of ours to report, the rest is left to the caller (``stripe.StripeError``)."""
        try:
            return fn(*args, **kwargs)
        except stripe.StripeError as exc:
            if _no_answer(exc):
                raise ProviderTimeout(
                    f"Stripe did not answer ({exc.http_status or 'no response'}); retry with "
                    "the same idempotency key."
                ) from None
            if isinstance(exc, stripe.IdempotencyError):
                raise StateConflict(
                    "Stripe refused an idempotency key reused with other parameters.",
                    code="idempotency_key_reused",
                    field="idempotency_key",
                ) from None
            raise

    # --- the saga's calls -----------------------------------------------------------------

    def authorise(
        self,
        *,
        amount: int,
        currency: str,
        source: str,
        idempotency_key: str,
        return_url: str = "",
        save_for: str = "",
    ) -> PaymentResult:
        """A Checkout Session for the payer to authorise on Stripe's page; with a saved card
        (``cus_…/pm_…``, see ``saved_source``) an off-session PaymentIntent confirmed at
        once. ``save_for`` keeps the card typed on Stripe's page for later charges: on the
        Customer of a card saved before (``cus_…/pm_…``), else on one made for that
        participant (``pa_…``)."""
        try:
            api_amount = to_stripe_amount(amount, currency)
        except AmountNotRepresentable as exc:
            return self._failed(amount, currency, FailureReason.NOT_ACCEPTED, exc.message)
        leg = idempotency_key.partition(":")[0]  # Leg.idempotency_key: "<leg id>:<operation>"
        if is_saved_source(source):
            return self._charge_saved(source, amount, currency, api_amount, leg, idempotency_key)
        separator = "&" if "?" in return_url else "?"
        params = {
            "mode": "payment",
            "payment_method_types": ["card"],
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": api_amount,
                        "product_data": {"name": self.merchant.name[:200] or "Payment"},
                    },
                }
            ],
            "payment_intent_data": {"capture_method": "manual", "metadata": {"leg": leg}},
            "metadata": {"leg": leg},
            "client_reference_id": leg,
            "success_url": return_url,
            # Back from Stripe without paying: our return page releases the checkout.
            "cancel_url": f"{return_url}{separator}provider_cancelled=1",
            "locale": "auto",
        }
        client = self._client()
        if save_for:
            try:
                customer = (
                    save_for.partition("/")[0]
                    if is_saved_source(save_for)
                    else self._customer(client, save_for)
                )
            except (stripe.InvalidRequestError, stripe.CardError) as exc:
                return self._failed(amount, currency, FailureReason.NOT_ACCEPTED, _said(exc))
            except (stripe.AuthenticationError, stripe.PermissionError) as exc:
                return self._failed(amount, currency, FailureReason.PROVIDER_ERROR, _said(exc))
            params["customer"] = customer
            # Stripe keeps the card on the Customer for charges made without the payer, and
            # asks the bank for it now (3-D Secure on its page if the bank wants it).
            params["payment_intent_data"]["setup_future_usage"] = "off_session"
        try:
            session = self._call(
                client.v1.checkout.sessions.create,
                params,
                {"idempotency_key": idempotency_key},
            )
        except stripe.InvalidRequestError as exc:
            return self._failed(amount, currency, FailureReason.NOT_ACCEPTED, _said(exc))
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            return self._failed(amount, currency, FailureReason.PROVIDER_ERROR, _said(exc))
        except stripe.CardError as exc:
            return self._failed(amount, currency, _reason_of(_plain(exc.error)), _said(exc))
        return PaymentResult(
            status=PaymentStatus.REQUIRES_ACTION,
            provider_reference=session["id"],
            amount=amount,
            currency=currency,
            action_url=session["url"],
        )

    def capture(self, *, reference: str, amount: int, idempotency_key: str) -> PaymentResult:
        client = self._client()
        intent_id, currency = self._intent_of(client, reference)
        try:
            intent = self._call(
                client.v1.payment_intents.capture,
                intent_id,
                {
                    "amount_to_capture": to_stripe_amount(amount, currency),
                    # Stripe's fee for reconciliation, in the same answer (no second call).
                    "expand": ["latest_charge.balance_transaction"],
                },
                {"idempotency_key": idempotency_key},
            )
        except stripe.CardError as exc:
            return self._failed(
                amount, currency, _reason_of(_plain(exc.error)), _said(exc), intent_id
            )
        except stripe.StripeError as exc:
            raise _conflict(exc) from None
        if intent["status"] != "succeeded":
            raise ProviderTimeout(f"Stripe's capture is still {intent['status']}.")
        charge = _get(intent, "latest_charge")
        fee, note = _fee_of(_get(charge, "balance_transaction"), currency)
        return PaymentResult(
            status=PaymentStatus.CAPTURED,
            provider_reference=intent["id"],
            amount=from_stripe_amount(intent["amount_received"], currency),
            currency=currency.upper(),
            operation_reference=_id_of(charge),
            fee=fee,
            fee_note=note,
            **_card_of(charge),
        )

    def void(self, *, reference: str, idempotency_key: str) -> PaymentResult:
        client = self._client()
        if reference.startswith("cs_"):
            session = self._session(client, reference)
            intent = _get(session, "payment_intent")
            if session["status"] == "open":
                # Not paid yet: close Stripe's page so the payer can no longer authorise.
                try:
                    self._call(
                        client.v1.checkout.sessions.expire,
                        reference,
                        None,
                        {"idempotency_key": idempotency_key},
                    )
                except stripe.StripeError as exc:
                    raise _conflict(exc) from None
                return self._released(reference, session["currency"], 0)
            if not intent or session["status"] == "expired":
                return self._released(reference, session["currency"], 0)
            reference = _id_of(intent)
        try:
            intent = self._call(
                client.v1.payment_intents.cancel,
                reference,
                None,
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _conflict(exc) from None
        currency = intent["currency"]
        return self._released(
            intent["id"], currency, from_stripe_amount(intent["amount"], currency)
        )

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> PaymentResult:
        client = self._client()
        intent_id, currency = self._intent_of(client, reference)
        try:
            refund = self._call(
                client.v1.refunds.create,
                {
                    "payment_intent": intent_id,
                    "amount": to_stripe_amount(amount, currency),
                    "expand": ["balance_transaction"],
                },
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _conflict(exc) from None
        if refund["status"] in ("failed", "canceled"):
            reason = _get(refund, "failure_reason") or refund["status"]
            return self._failed(
                amount, currency, FailureReason.PROVIDER_ERROR, f"Stripe: {reason}", intent_id
            )
        fee, note = _fee_of(_get(refund, "balance_transaction"), currency)
        return PaymentResult(
            status=PaymentStatus.REFUNDED,
            provider_reference=intent_id,
            amount=from_stripe_amount(refund["amount"], currency),
            currency=currency.upper(),
            operation_reference=refund["id"],
            fee=fee,
            fee_note=note,
        )

    def retrieve(self, *, reference: str) -> PaymentResult:
        client = self._client()
        if not reference.startswith("cs_"):
            return self._result_of_intent(self._intent(client, reference))
        session = self._session(client, reference)
        intent = _get(session, "payment_intent")
        error = _get(intent, "last_payment_error") if intent else None
        if session["status"] == "open" and error:
            # Refused at Stripe's page. Close the page before saying so: a leg we call failed
            # must not be authorised by another try there afterwards.
            try:
                self._call(
                    client.v1.checkout.sessions.expire,
                    reference,
                    None,
                    {"idempotency_key": f"{reference}:expire"},
                )
            except stripe.StripeError:
                return self._result_of_session(client, reference)  # the payer finished first
            reason = _reason_of(_plain(error))
            total = from_stripe_amount(session["amount_total"], session["currency"])
            return self._failed(total, session["currency"], reason, _MESSAGES.get(reason, ""))
        return self._result_of_session(client, reference, session)

    # --- reading Stripe's objects ---------------------------------------------------------

    def _session(self, client, reference: str):
        try:
            return self._call(
                client.v1.checkout.sessions.retrieve,
                reference,
                {"expand": ["payment_intent", "payment_intent.latest_charge"]},
            )
        except stripe.StripeError as exc:
            raise _conflict(exc) from None

    def _intent(self, client, reference: str):
        try:
            return self._call(
                client.v1.payment_intents.retrieve,
                reference,
                {"expand": ["latest_charge.balance_transaction"]},
            )
        except stripe.StripeError as exc:
            raise _conflict(exc) from None

    def _intent_of(self, client, reference: str) -> tuple[str, str]:
        """The PaymentIntent behind a leg's reference, and its currency."""
        if reference.startswith("cs_"):
            session = self._session(client, reference)
            intent = _get(session, "payment_intent")
            if not intent:
                raise StateConflict(
                    "The payer has not authorised this Stripe Checkout Session.",
                    code="invalid_status_transition",
                    field="status",
                )
            return _id_of(intent), session["currency"]
        intent = self._intent(client, reference)
        return intent["id"], intent["currency"]

    def _result_of_session(self, client, reference: str, session=None) -> PaymentResult:
        session = session or self._session(client, reference)
        intent = _get(session, "payment_intent")
        if intent and _get(intent, "status") not in (None, "requires_payment_method"):
            return self._result_of_intent(intent)
        currency = session["currency"]
        total = from_stripe_amount(session["amount_total"], currency)
        if session["status"] == "expired":
            return self._released(reference, currency, 0)
        if session["status"] == "complete":
            raise ProviderTimeout("Stripe's session is complete but its payment is not settled.")
        return PaymentResult(
            status=PaymentStatus.REQUIRES_ACTION,
            provider_reference=reference,
            amount=total,
            currency=currency.upper(),
            action_url=session["url"],
        )

    def _result_of_intent(self, intent) -> PaymentResult:
        currency = intent["currency"]
        status = intent["status"]
        reference = intent["id"]
        charge = _get(intent, "latest_charge")
        seen = {**_card_of(charge), "saved_source": _saved_of(intent)}
        if status == "requires_capture":
            return PaymentResult(
                status=PaymentStatus.AUTHORISED,
                provider_reference=reference,
                amount=from_stripe_amount(intent["amount_capturable"], currency),
                currency=currency.upper(),
                **seen,
            )
        if status == "succeeded":
            refunded = _get(charge, "amount_refunded", 0) if not isinstance(charge, str) else 0
            if refunded:
                return PaymentResult(
                    status=PaymentStatus.REFUNDED,
                    provider_reference=reference,
                    amount=from_stripe_amount(refunded, currency),
                    currency=currency.upper(),
                    operation_reference=_id_of(charge),
                )
            fee, note = _fee_of(_get(charge, "balance_transaction"), currency)
            return PaymentResult(
                status=PaymentStatus.CAPTURED,
                provider_reference=reference,
                amount=from_stripe_amount(intent["amount_received"], currency),
                currency=currency.upper(),
                operation_reference=_id_of(charge),
                fee=fee,
                fee_note=note,
                **seen,
            )
        if status == "canceled":
            return self._released(reference, currency, 0)
        if status == "requires_action" and _get(_get(intent, "metadata"), OFF_SESSION):
            # Charged without the payer, and the bank wants them: nobody is there to act.
            return self._authentication_required(intent)
        if status == "requires_payment_method":
            reason = _reason_of(_plain(_get(intent, "last_payment_error")))
            amount = from_stripe_amount(intent["amount"], currency)
            return self._failed(amount, currency, reason, _MESSAGES.get(reason, ""), reference)
        # processing, requires_action, requires_confirmation: Stripe has not decided yet.
        raise ProviderTimeout(f"Stripe's payment is still {status}; ask again later.")

    # --- saved cards (installments) ------------------------------------------------------

    def _customer(self, client, holder: str) -> str:
        """The Customer that keeps ``holder``'s cards: one per participant, made with a key
        of its own, so a retried or replayed first charge never makes a second one."""
        customer = self._call(
            client.v1.customers.create,
            {"metadata": {"participant": holder}},
            {"idempotency_key": f"{holder}:customer"},
        )
        return customer["id"]

    def _charge_saved(
        self, source: str, amount: int, currency: str, api_amount: int, leg: str, key: str
    ) -> PaymentResult:
        """An installment the payer is not there for: a PaymentIntent on the saved card,
        confirmed at once, held (``capture_method=manual``) like every leg until the saga
        captures it. A decline is a failure; a bank that wants the payer to authenticate is
        ``authentication_required`` (they pay it themselves on the plan page)."""
        customer, _, payment_method = source.partition("/")
        client = self._client()
        try:
            intent = self._call(
                client.v1.payment_intents.create,
                {
                    "amount": api_amount,
                    "currency": currency.lower(),
                    "customer": customer,
                    "payment_method": payment_method,
                    "payment_method_types": ["card"],
                    "off_session": True,
                    "confirm": True,
                    "capture_method": "manual",
                    "metadata": {"leg": leg, OFF_SESSION: "true"},
                    "expand": ["latest_charge"],
                },
                {"idempotency_key": key},
            )
        except stripe.CardError as exc:
            error = _plain(exc.error)
            refused = _id_of(_get(exc.error, "payment_intent"))
            if error.get("code") == "authentication_required" or (
                error.get("decline_code") == "authentication_required"
            ):
                return self._failed(
                    amount,
                    currency,
                    FailureReason.AUTHENTICATION_REQUIRED,
                    _MESSAGES[FailureReason.AUTHENTICATION_REQUIRED],
                    refused,
                )
            reason = (
                FailureReason.EXPIRED_CARD
                if error.get("code") == "expired_card"
                else _reason_of(error)
            )
            return self._failed(amount, currency, reason, _said(exc), refused)
        except stripe.InvalidRequestError as exc:
            # The card was detached or the Customer deleted at Stripe: it cannot pay again.
            return self._failed(amount, currency, FailureReason.NOT_ACCEPTED, _said(exc))
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            return self._failed(amount, currency, FailureReason.PROVIDER_ERROR, _said(exc))
        if intent["status"] == "requires_action":
            return self._authentication_required(intent)
        return self._result_of_intent(intent)

    def _authentication_required(self, intent) -> PaymentResult:
        """Close the intent nobody will authenticate (so it can never be taken later), and
        say the payer must pay this charge themselves."""
        client = self._client()
        try:
            self._call(
                client.v1.payment_intents.cancel,
                intent["id"],
                None,
                {"idempotency_key": f"{intent['id']}:cancel"},
            )
        except (stripe.StripeError, ProviderError):
            logger.warning("Could not cancel Stripe intent %s awaiting the payer", intent["id"])
        currency = intent["currency"]
        return self._failed(
            from_stripe_amount(intent["amount"], currency),
            currency,
            FailureReason.AUTHENTICATION_REQUIRED,
            _MESSAGES[FailureReason.AUTHENTICATION_REQUIRED],
            intent["id"],
        )

    def _payment_method(self, source: str):
        client = self._client()
        try:
            return self._call(client.v1.payment_methods.retrieve, source.partition("/")[2])
        except stripe.StripeError:
            return None

    def expires_before(self, source: str, day: date) -> bool:
        """A saved card's expiry as Stripe keeps it (``card.exp_month/exp_year``); a card
        is good until the last day of its month. Unknown (no answer) is never flagged."""
        if not is_saved_source(source):
            return False
        try:
            method = self._payment_method(source)
        except ProviderError:
            return False
        card = _get(method, "card")
        month, year = _get(card, "exp_month"), _get(card, "exp_year")
        if not isinstance(month, int) or not isinstance(year, int):
            return False
        return (year, month) < (day.year, day.month)

    def describe_source(self, source: str) -> tuple[str, str]:
        if not is_saved_source(source):
            return "", ""
        try:
            method = self._payment_method(source)
        except ProviderError:
            return "", ""
        card = _get(method, "card")
        return str(_get(card, "brand", "")), str(_get(card, "last4", ""))

    def _released(self, reference: str, currency: str, amount: int) -> PaymentResult:
        return PaymentResult(
            status=PaymentStatus.CANCELLED,
            provider_reference=reference,
            amount=amount,
            currency=currency.upper(),
        )

    def _failed(
        self, amount: int, currency: str, reason: FailureReason, message: str, reference: str = ""
    ) -> PaymentResult:
        return PaymentResult(
            status=PaymentStatus.FAILED,
            provider_reference=reference,
            amount=amount,
            currency=currency.upper(),
            failure_reason=reason,
            message=message[:300] or _MESSAGES.get(reason, ""),
        )


# Marks the PaymentIntents made without the payer (metadata), so a later look at one that
# waits for 3-D Secure knows nobody is there to pass it.
OFF_SESSION = "off_session"


def is_saved_source(source: str) -> bool:
    """A card Stripe keeps for later charges: ``cus_…/pm_…`` (the Customer and the
    PaymentMethod ids, never card data)."""
    customer, _, method = source.partition("/")
    return customer.startswith("cus_") and method.startswith("pm_")


def _saved_of(intent) -> str:
    """The card a PaymentIntent saved (``setup_future_usage``), as a source for later."""
    if _get(intent, "setup_future_usage") != "off_session":
        return ""
    customer, method = _id_of(_get(intent, "customer")), _id_of(_get(intent, "payment_method"))
    source = f"{customer}/{method}"
    return source if is_saved_source(source) else ""


def _card_of(charge) -> dict:
    """Brand, last four digits and expiry of the card a charge was made with (receipts,
    and the plan page's card on file without a call per render)."""
    card = _get(_get(charge, "payment_method_details"), "card")
    last4 = str(_get(card, "last4", ""))
    if not last4:
        return {}
    seen = {"source_brand": str(_get(card, "brand", ""))[:20], "source_last4": last4[-4:]}
    month, year = _get(card, "exp_month"), _get(card, "exp_year")
    if isinstance(month, int) and isinstance(year, int) and 1 <= month <= 12 and year > 0:
        seen.update(source_exp_month=month, source_exp_year=year)
    return seen


def _fee_of(transaction, currency: str) -> tuple[int | None, str]:
    """Stripe's fee from a balance transaction, in our minor units of ``currency``, or
    (None, why not). The fee is final once the transaction exists, even while its funds
    are still ``pending``; a fee in another currency (the account settles in another) is
    not mixed into this request's statement."""
    if not transaction or isinstance(transaction, str):
        return None, "Stripe had not reported its fee yet (no balance transaction)."
    fee = _get(transaction, "fee")
    settled = str(_get(transaction, "currency", "")).lower()
    if not isinstance(fee, int) or fee < 0:
        return None, "Stripe reported no fee on its balance transaction."
    if settled != currency.lower():
        return None, f"Stripe's fee is in {settled.upper()}, the account's settlement currency."
    return from_stripe_amount(fee, currency), ""


def _get(obj, key: str, default=None):
    """A field of a Stripe object (or dict), ``default`` when absent: StripeObject has no
    ``get`` since SDK 8."""
    if obj is None or isinstance(obj, str):
        return default
    try:
        value = obj[key]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def _plain(error) -> dict:
    if error is None:
        return {}
    return {k: _get(error, k) for k in ("code", "decline_code", "message", "type")}


def _id_of(value) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        return value
    return str(_get(value, "id") or "")


def _said(exc: stripe.StripeError) -> str:
    return f"Stripe: {exc.user_message or exc.code or 'refused'}"


def _conflict(exc: stripe.StripeError) -> Exception:
    """A refusal because of the object's state (or a reference Stripe does not know) is a
    move the saga must not make; a refused key is a provider error (nothing happened)."""
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return ProviderError(f"Stripe refused the merchant's key: {exc.user_message or exc}")
    return StateConflict(
        f"Stripe refused: {exc.user_message or exc.code or exc}",
        code="invalid_status_transition",
        field="status",
    )
