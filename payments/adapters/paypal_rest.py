"""PayPal through the merchant's own PayPal app: the REST Orders v2 API over plain HTTPS.

Each PayPal leg is one order with ``intent=AUTHORIZE``. The payer approves it on PayPal's
page (the order's ``payer-action`` link); back on our return page the server reads the
order from PayPal (never the URL) and authorizes it, which is what holds the money. The
leg's reference is the order id for its whole life: capture, void and refund act on the
authorization and capture the order lists, which the adapter reads from the order first,
so recovery only ever needs ``GET /v2/checkout/orders/{id}`` to learn where a leg stands.

Live credentials talk to ``PAYPAL_API_BASE``, the merchant's own PayPal sandbox app (entered
in test mode) to ``PAYPAL_SANDBOX_API_BASE``: PayPal keeps the two apart by host, so a
sandbox app's credentials are refused by the live API (``invalid_client``) and the reverse.
An OAuth2 client-credentials token is fetched per credential and kept until shortly before
it expires. Every money-moving POST carries ``PayPal-Request-Id`` = the leg's idempotency key
for that operation, which PayPal turns into a replay of the first answer.

Answers map onto the saga's three outcomes, as the Stripe adapter's do: a PayPal answer
(even ``INSTRUMENT_DECLINED``) is a ``PaymentResult``; a 5xx, a 429, a timeout or a broken
connection is ``ProviderTimeout`` (retry with the same id, or ``retrieve``); a call PayPal
refuses because of the object's state (capture a voided authorization, refund more than was
taken) is ``StateConflict``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
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

PROVIDER = "paypal"

# The currencies PayPal's REST API takes, and the ones it takes without decimals (HUF and
# TWD have two in ISO 4217, but PayPal refuses a decimal amount in them).
SUPPORTED = frozenset(
    {
        *("AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS"),
        *("JPY", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "SEK", "SGD", "THB", "TWD", "USD"),
    }
)
NO_DECIMALS = frozenset({"HUF", "JPY", "TWD"})

# A token is dropped this long before PayPal says it expires: a call must not start with a
# token that lapses on the way.
TOKEN_MARGIN_SECONDS = 60


class PayPalCredentialsRejected(Exception):
    """PayPal refused the merchant's client id and secret (wrong app, wrong environment)."""


class AmountNotRepresentable(InvalidInput):
    pass


def api_base(livemode: bool) -> str:
    return settings.PAYPAL_API_BASE if livemode else settings.PAYPAL_SANDBOX_API_BASE


def paypal_exponent(currency: str) -> int:
    code = currency.upper()
    return 0 if code in NO_DECIMALS else currency_exponent(code)


def to_paypal_value(amount: int, currency: str) -> str:
    """Our integer minor units as PayPal's ``value`` (a decimal string), exactly."""
    code = currency.upper()
    if code not in SUPPORTED:
        raise AmountNotRepresentable(
            f"PayPal does not take payments in {code}.",
            code="currency_not_supported",
            field="currency",
        )
    ours, theirs = currency_exponent(code), paypal_exponent(code)
    factor = 10 ** (ours - theirs)
    if amount % factor:
        raise AmountNotRepresentable(
            f"PayPal takes {code} without decimals; this amount has some.",
            code="amount_not_representable",
            field="amount",
        )
    units = amount // factor
    if theirs == 0:
        return str(units)
    return f"{units // 10**theirs}.{units % 10**theirs:0{theirs}d}"


def from_paypal_value(value: object, currency: str) -> int:
    """PayPal's ``value`` back in our minor units (the exact inverse of the above)."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ProviderTimeout(f"PayPal sent an amount we cannot read: {value!r}.") from None
    minor = number.scaleb(currency_exponent(str(currency).upper()))
    if minor != minor.to_integral_value():
        raise ProviderTimeout(f"PayPal sent an amount finer than {currency}'s minor unit.")
    return int(minor)


def _money(obj: dict | None) -> tuple[int, str]:
    obj = obj or {}
    currency = str(obj.get("currency_code") or "").upper()
    return from_paypal_value(obj.get("value", "0"), currency), currency


# --- the HTTP layer ----------------------------------------------------------------------


@dataclass
class PayPalAPIError(Exception):
    """An answer of PayPal's that is a refusal: its HTTP status and documented error body
    (``name``, ``message``, ``debug_id``, ``details[].issue``)."""

    status: int
    name: str = ""
    message: str = ""
    debug_id: str = ""
    issues: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        issue = self.issues[0] if self.issues else self.name
        return f"PayPal: {issue or self.status}"


@dataclass
class _Token:
    value: str
    expires_at: float
    app_id: str = ""


_tokens: dict[tuple[str, str, str], _Token] = {}
_tokens_lock = threading.Lock()


def _token_key(base: str, client_id: str, secret: str) -> tuple[str, str, str]:
    # The secret's digest, not the secret: a new secret for the same client id is a new token.
    return base, client_id, hashlib.sha256(secret.encode()).hexdigest()


def forget_tokens() -> None:
    """Drop every cached token (tests; a credential replaced drops its own)."""
    with _tokens_lock:
        _tokens.clear()


def _no_answer(exc: requests.RequestException) -> ProviderTimeout:
    return ProviderTimeout(
        f"PayPal did not answer ({type(exc).__name__}); retry with the same PayPal-Request-Id."
    )


def _error_of(response: requests.Response) -> PayPalAPIError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    details = body.get("details") if isinstance(body.get("details"), list) else []
    issues = [str(d.get("issue")) for d in details if isinstance(d, dict) and d.get("issue")]
    # The token endpoint answers in OAuth2's shape: {"error", "error_description"}.
    return PayPalAPIError(
        status=response.status_code,
        name=str(body.get("name") or body.get("error") or ""),
        message=str(body.get("message") or body.get("error_description") or "")[:300],
        debug_id=str(body.get("debug_id") or ""),
        issues=issues,
    )


class PayPalClient:
    """One merchant's PayPal app in one environment; every request goes through ``call``."""

    def __init__(self, *, client_id: str, client_secret: str, livemode: bool):
        self.client_id, self.client_secret = client_id, client_secret
        self.base = api_base(livemode)
        self.timeout = settings.PAYPAL_TIMEOUT_SECONDS

    def token(self, *, fresh: bool = False) -> _Token:
        key = _token_key(self.base, self.client_id, self.client_secret)
        with _tokens_lock:
            cached = _tokens.get(key)
        if cached is not None and not fresh and cached.expires_at > time.monotonic():
            return cached
        try:
            response = requests.post(
                f"{self.base}/v1/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(self.client_id, self.client_secret),
                headers={"Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise _no_answer(exc) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderTimeout(f"PayPal's token endpoint answered {response.status_code}.")
        if response.status_code != 200:
            error = _error_of(response)
            raise PayPalCredentialsRejected(
                f"PayPal refused the client id and secret ({error.name or error.status})."
            )
        try:
            body = response.json()
            token = _Token(
                value=str(body["access_token"]),
                expires_at=time.monotonic()
                + max(0, int(body.get("expires_in", 0)) - TOKEN_MARGIN_SECONDS),
                app_id=str(body.get("app_id") or ""),
            )
        except (ValueError, KeyError, TypeError):
            raise ProviderTimeout("PayPal's token endpoint sent no usable token.") from None
        with _tokens_lock:
            _tokens[key] = token
        return token

    def call(
        self, method: str, path: str, body: dict | None = None, *, request_id: str = ""
    ) -> dict:
        """One API call: the answer's JSON (``{}`` for a 204), ``PayPalAPIError`` for a
        refusal, ``ProviderTimeout`` when there is no usable answer."""
        try:
            token = self.token()
        except PayPalCredentialsRejected as exc:
            raise PayPalAPIError(status=401, name="invalid_client", message=str(exc)) from None
        response = self._send(method, path, body, request_id, token)
        if response.status_code == 401:
            # A token PayPal revoked before its time: one more try with a new one is safe,
            # the request id making it a replay if the first one did happen.
            try:
                token = self.token(fresh=True)
            except PayPalCredentialsRejected as exc:
                raise PayPalAPIError(status=401, name="invalid_client", message=str(exc)) from None
            response = self._send(method, path, body, request_id, token)
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderTimeout(
                f"PayPal answered {response.status_code}; retry with the same PayPal-Request-Id."
            )
        if response.status_code >= 400:
            raise _error_of(response)
        if response.status_code == 204 or not response.content:
            return {}
        try:
            answer = response.json()
        except ValueError:
            raise ProviderTimeout("PayPal's answer is not JSON.") from None
        if not isinstance(answer, dict):
            raise ProviderTimeout("PayPal's answer is not an object.")
        return answer

    def _send(self, method, path, body, request_id, token) -> requests.Response:
        headers = {
            "Authorization": f"Bearer {token.value}",
            "Accept": "application/json",
            "Prefer": "return=representation",
        }
        if request_id:
            headers["PayPal-Request-Id"] = request_id[:108]
        try:
            return requests.request(
                method,
                f"{self.base}{path}",
                json=body if method == "POST" else None,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise _no_answer(exc) from None


def paypal_client_of(credential) -> PayPalClient:
    from payments.credentials import decrypt

    return PayPalClient(
        client_id=decrypt(credential.client_id_encrypted),
        client_secret=decrypt(credential.secret_key_encrypted),
        livemode=credential.livemode,
    )


def paypal_app_of(credential) -> str:
    """Which PayPal app the stored credentials open (``app_id`` of a fresh token): the back
    office's connection test."""
    return paypal_client_of(credential).token(fresh=True).app_id or "ok"


# --- what PayPal's refusals mean ---------------------------------------------------------

_DECLINES = {
    "INSTRUMENT_DECLINED": FailureReason.DECLINED,
    "TRANSACTION_REFUSED": FailureReason.DECLINED,
    "PAYER_ACCOUNT_RESTRICTED": FailureReason.DECLINED,
    "PAYER_ACCOUNT_LOCKED_OR_CLOSED": FailureReason.DECLINED,
    "PAYER_CANNOT_PAY": FailureReason.NOT_ACCEPTED,
    "CURRENCY_NOT_SUPPORTED_FOR_RECEIVER": FailureReason.NOT_ACCEPTED,
    "PAYEE_ACCOUNT_RESTRICTED": FailureReason.NOT_ACCEPTED,
    "MAX_AUTHORIZATION_COUNT_EXCEEDED": FailureReason.DECLINED,
    "DECLINED_DUE_TO_RELATED_TXN": FailureReason.DECLINED,
    "TRANSACTION_BLOCKED_BY_PAYEE": FailureReason.FRAUD,
    "COMPLIANCE_VIOLATION": FailureReason.FRAUD,
}
_MESSAGES = {
    FailureReason.DECLINED: "PayPal declined the payment.",
    FailureReason.NOT_ACCEPTED: "PayPal cannot take this payment.",
    FailureReason.FRAUD: "PayPal refused the payment for security reasons.",
    FailureReason.PROVIDER_ERROR: "PayPal refused the merchant's request.",
}
_ALREADY_VOIDED = {"AUTHORIZATION_VOIDED", "PREVIOUSLY_VOIDED"}


def _decline_of(error: PayPalAPIError) -> FailureReason | None:
    for issue in error.issues:
        if issue in _DECLINES:
            return _DECLINES[issue]
    return None


def _conflict(error: PayPalAPIError) -> Exception:
    """A refusal because of the object's state (or a reference PayPal does not know) is a
    move the saga must not make; refused credentials are a provider error."""
    if error.status in (401, 403):
        return ProviderError(f"PayPal refused the merchant's credentials ({error.name}).")
    return StateConflict(
        f"{error}: {error.message}"[:300], code="invalid_status_transition", field="status"
    )


def _first(items: Any) -> dict:
    return items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}


def _payments(order: dict) -> dict:
    payments = _first(order.get("purchase_units")).get("payments")
    return payments if isinstance(payments, dict) else {}


def _list(payments: dict, name: str) -> list[dict]:
    items = payments.get(name)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _link(obj: dict, *rels: str) -> str:
    for link in obj.get("links") or []:
        if isinstance(link, dict) and link.get("rel") in rels and link.get("href"):
            return str(link["href"])
    return ""


class PayPalRestAdapter(PaymentMethodAdapter):
    """PayPal through the merchant's app; ``source`` is ``"paypal"`` (the payer logs in at
    PayPal and types nothing here)."""

    code = "paypal"
    provider = PROVIDER
    label = "PayPal"
    # PayPal honours an authorization's funds for 3 days (the sandbox adapter's window).
    hold_window = timedelta(days=3)

    @classmethod
    def is_configured(cls, *, merchant, livemode: bool) -> bool:
        return livemode in configured_modes(merchant, PROVIDER)

    def describe_source(self, source: str) -> tuple[str, str]:
        return "PayPal", ""

    def _client(self) -> PayPalClient:
        credential = credential_of(self.merchant, self.livemode, PROVIDER)
        if credential is None or not credential.client_id_encrypted:
            raise InvalidInput(
                "No PayPal account is configured for this mode.",
                code="payment_method_unavailable",
                field="method",
            )
        return paypal_client_of(credential)

    # --- the saga's calls -----------------------------------------------------------------

    def authorise(
        self,
        *,
        amount: int,
        currency: str,
        source: str,
        idempotency_key: str,
        return_url: str = "",
    ) -> PaymentResult:
        try:
            value = to_paypal_value(amount, currency)
        except AmountNotRepresentable as exc:
            return self._failed(amount, currency, FailureReason.NOT_ACCEPTED, exc.message)
        leg = idempotency_key.partition(":")[0]  # Leg.idempotency_key: "<leg id>:<operation>"
        separator = "&" if "?" in return_url else "?"
        body = {
            "intent": "AUTHORIZE",
            "purchase_units": [
                {
                    "reference_id": leg,
                    "custom_id": leg,
                    "description": (self.merchant.name or "Payment")[:127],
                    "amount": {"currency_code": currency.upper(), "value": value},
                }
            ],
            "payment_source": {
                "paypal": {
                    "experience_context": {
                        "brand_name": (self.merchant.name or "Push & Pay")[:127],
                        "shipping_preference": "NO_SHIPPING",
                        "user_action": "CONTINUE",
                        "return_url": return_url,
                        # Back from PayPal without approving: our return page releases it.
                        "cancel_url": f"{return_url}{separator}provider_cancelled=1",
                    }
                }
            },
        }
        client = self._client()
        try:
            order = client.call("POST", "/v2/checkout/orders", body, request_id=idempotency_key)
        except PayPalAPIError as exc:
            if exc.status in (401, 403):
                reason = FailureReason.PROVIDER_ERROR
            else:
                reason = _decline_of(exc) or FailureReason.NOT_ACCEPTED
            return self._failed(amount, currency, reason, str(exc))
        return self._result_of_order(client, order)

    def capture(self, *, reference: str, amount: int, idempotency_key: str) -> PaymentResult:
        client = self._client()
        order = self._order(client, reference)
        authorization = _first(_list(_payments(order), "authorizations")[-1:])
        if not authorization:
            raise StateConflict(
                "The payer has not authorised this PayPal order.",
                code="invalid_status_transition",
                field="status",
            )
        _, currency = _money(authorization.get("amount"))
        try:
            capture = client.call(
                "POST",
                f"/v2/payments/authorizations/{authorization['id']}/capture",
                {
                    "amount": {
                        "currency_code": currency,
                        "value": to_paypal_value(amount, currency),
                    },
                    "final_capture": True,
                },
                request_id=idempotency_key,
            )
        except PayPalAPIError as exc:
            reason = _decline_of(exc)
            if reason is not None:
                return self._failed(amount, currency, reason, str(exc), reference)
            raise _conflict(exc) from None
        status = capture.get("status")
        if status in ("DECLINED", "FAILED"):
            return self._failed(
                amount, currency, FailureReason.DECLINED, "PayPal declined the capture.", reference
            )
        if status != "COMPLETED":
            raise ProviderTimeout(f"PayPal's capture is {status}; ask again later.")
        taken, currency = _money(capture.get("amount"))
        return PaymentResult(
            status=PaymentStatus.CAPTURED,
            provider_reference=reference,
            amount=taken,
            currency=currency,
            operation_reference=str(capture.get("id") or ""),
        )

    def void(self, *, reference: str, idempotency_key: str) -> PaymentResult:
        client = self._client()
        order = self._order(client, reference)
        currency = self._currency_of(order)
        authorization = _first(_list(_payments(order), "authorizations")[-1:])
        if order.get("status") != "COMPLETED" or not authorization:
            # Never authorized: nothing is held. PayPal has no call to cancel an order; an
            # approval the payer gives later is never authorized by us (the leg is closed).
            return self._released(reference, currency, 0)
        held, currency = _money(authorization.get("amount"))
        if authorization.get("status") in ("VOIDED", "EXPIRED"):
            return self._released(reference, currency, 0)
        try:
            client.call(
                "POST",
                f"/v2/payments/authorizations/{authorization['id']}/void",
                None,
                request_id=idempotency_key,
            )
        except PayPalAPIError as exc:
            if _ALREADY_VOIDED & set(exc.issues):
                return self._released(reference, currency, 0)
            raise _conflict(exc) from None
        return self._released(reference, currency, held)

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> PaymentResult:
        client = self._client()
        order = self._order(client, reference)
        captures = [
            c
            for c in _list(_payments(order), "captures")
            if c.get("status") in ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED")
        ]
        if not captures:
            raise StateConflict(
                "Nothing was taken on this PayPal order.",
                code="invalid_status_transition",
                field="status",
            )
        capture = captures[-1]
        _, currency = _money(capture.get("amount"))
        try:
            refund = client.call(
                "POST",
                f"/v2/payments/captures/{capture['id']}/refund",
                {"amount": {"currency_code": currency, "value": to_paypal_value(amount, currency)}},
                request_id=idempotency_key,
            )
        except PayPalAPIError as exc:
            raise _conflict(exc) from None
        if refund.get("status") in ("FAILED", "CANCELLED"):
            return self._failed(
                amount,
                currency,
                FailureReason.PROVIDER_ERROR,
                f"PayPal: refund {str(refund.get('status')).lower()}",
                reference,
            )
        given, currency = (
            _money(refund.get("amount")) if refund.get("amount") else (amount, currency)
        )
        return PaymentResult(
            status=PaymentStatus.REFUNDED,
            provider_reference=reference,
            amount=given,
            currency=currency,
            operation_reference=str(refund.get("id") or ""),
        )

    def retrieve(self, *, reference: str) -> PaymentResult:
        client = self._client()
        return self._result_of_order(client, self._order(client, reference))

    # --- reading PayPal's objects ---------------------------------------------------------

    def _order(self, client: PayPalClient, reference: str) -> dict:
        try:
            return client.call("GET", f"/v2/checkout/orders/{reference}")
        except PayPalAPIError as exc:
            raise _conflict(exc) from None

    def _currency_of(self, order: dict) -> str:
        amount = _first(order.get("purchase_units")).get("amount")
        return str((amount or {}).get("currency_code") or "").upper()

    def _authorize(self, client: PayPalClient, order: dict) -> dict:
        """Hold the money of an order the payer approved. The request id is the order's own,
        so a second return (or a webhook) replays the first authorization, never a second."""
        order_id = order["id"]
        try:
            return client.call(
                "POST",
                f"/v2/checkout/orders/{order_id}/authorize",
                {},
                request_id=f"{order_id}:authorize",
            )
        except PayPalAPIError as exc:
            if "ORDER_ALREADY_AUTHORIZED" in exc.issues:
                return self._order(client, order_id)
            if "PAYER_ACTION_REQUIRED" in exc.issues or "ORDER_NOT_APPROVED" in exc.issues:
                return {**order, "status": "PAYER_ACTION_REQUIRED"}
            reason = _decline_of(exc)
            if reason is None and exc.status in (401, 403):
                raise _conflict(exc) from None
            return {**order, "_refused": (reason or FailureReason.DECLINED, str(exc))}

    def _result_of_order(self, client: PayPalClient, order: dict) -> PaymentResult:
        reference = str(order.get("id") or "")
        total, currency = _money(_first(order.get("purchase_units")).get("amount"))
        status = order.get("status")
        if status == "APPROVED":
            order = self._authorize(client, order)
            status = order.get("status")
            refused = order.get("_refused")
            if refused:
                reason, message = refused
                return self._failed(total, currency, reason, message, reference)
        if status in ("CREATED", "SAVED", "PAYER_ACTION_REQUIRED"):
            link = _link(order, "payer-action", "approve")
            if not link:
                raise ProviderTimeout("PayPal's order has no approval link yet.")
            return PaymentResult(
                status=PaymentStatus.REQUIRES_ACTION,
                provider_reference=reference,
                amount=total,
                currency=currency,
                action_url=link,
            )
        if status == "VOIDED":
            return self._released(reference, currency, 0)
        if status != "COMPLETED":
            raise ProviderTimeout(f"PayPal's order is {status}; ask again later.")
        payments = _payments(order)
        refunds = [r for r in _list(payments, "refunds") if r.get("status") == "COMPLETED"]
        if refunds:
            return PaymentResult(
                status=PaymentStatus.REFUNDED,
                provider_reference=reference,
                amount=sum(_money(r.get("amount"))[0] for r in refunds),
                currency=currency,
                operation_reference=str(refunds[-1].get("id") or ""),
            )
        captures = _list(payments, "captures")
        taken = [
            c
            for c in captures
            if c.get("status") in ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED")
        ]
        if taken:
            return PaymentResult(
                status=PaymentStatus.CAPTURED,
                provider_reference=reference,
                amount=sum(_money(c.get("amount"))[0] for c in taken),
                currency=currency,
                operation_reference=str(taken[-1].get("id") or ""),
            )
        if any(c.get("status") == "PENDING" for c in captures):
            raise ProviderTimeout("PayPal's capture is pending; ask again later.")
        authorization = _first(_list(payments, "authorizations")[-1:])
        auth_status = authorization.get("status")
        if auth_status == "CREATED":
            held, currency = _money(authorization.get("amount"))
            return PaymentResult(
                status=PaymentStatus.AUTHORISED,
                provider_reference=reference,
                amount=held,
                currency=currency,
            )
        if auth_status in ("VOIDED", "EXPIRED"):
            return self._released(reference, currency, 0)
        if auth_status == "DENIED" or any(c.get("status") == "DECLINED" for c in captures):
            return self._failed(
                total,
                currency,
                FailureReason.DECLINED,
                _MESSAGES[FailureReason.DECLINED],
                reference,
            )
        raise ProviderTimeout(f"PayPal's authorization is {auth_status}; ask again later.")

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
