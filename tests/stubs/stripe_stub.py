"""A local stand-in for Stripe's API, for the real ``stripe`` SDK to talk to in tests.

No machine here reaches Stripe, so this server answers the endpoints the card adapter calls
the way Stripe documents them: form-encoded requests (``a[b][0]=c``), ``Authorization:
Bearer sk_…``, JSON objects with Stripe's field names, its error bodies
(``{"error": {"type", "code", "decline_code", "message", "param"}}``) and status codes, and
its idempotency layer: the same ``Idempotency-Key`` with the same parameters replays the
first answer (500s included, as Stripe does), with other parameters it is a 400
``idempotency_error``. Objects live per secret key, so one merchant's key never sees
another's. A per-test fault script gives declines, 500s and timeouts (the operation is done,
the answer never arrives in time). ``/pay/<session>`` is a minimal hosted Checkout page a test
client (or browser) completes with Stripe's test card numbers, and ``signed_event`` builds
webhook deliveries signed with Stripe's ``Stripe-Signature`` scheme (``t=…,v1=`` HMAC-SHA256).
``open_dispute``/``update_dispute`` play the payer's bank (Stripe's dispute objects, served
at ``GET /v1/disputes/{id}``) and ``dispute_event`` signs the ``charge.dispute.*`` events.

Never part of the product: only tests start it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API_VERSION = "2026-10-28.endive"

# Stripe's documented test cards and what Checkout does with them.
CARDS = {
    "4242424242424242": ("visa", None),
    "5555555555554444": ("mastercard", None),
    "4000000000000002": ("visa", ("card_declined", "generic_decline", "Your card was declined.")),
    "4000000000009995": (
        "visa",
        ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ),
    "4000000000000069": ("visa", ("expired_card", "expired_card", "Your card has expired.")),
    "4100000000000019": ("visa", ("card_declined", "fraudulent", "Your card was declined.")),
    # Saved for later: authenticated on Checkout, then how charges without the payer go.
    "4000002500003155": ("visa", None),  # authenticates on setup; later charges succeed
    "4000002760003184": ("visa", None),  # the bank wants 3-D Secure on every charge
    "4000000000000341": ("visa", None),  # attaches to a Customer; its charges are declined
}
# What a charge made without the payer (``off_session=true``) does with a saved card.
OFF_SESSION_AUTHENTICATION = {"4000002760003184"}
OFF_SESSION_DECLINE = {
    "4000000000000341": ("card_declined", "generic_decline", "Your card was declined.")
}
# What the stub takes for a card charge, as Stripe's standard European pricing: 1.5% + 25.
FEE_PERCENT_BP, FEE_FIXED = 150, 25


def _decode_form(body: str) -> dict:
    """Stripe's form encoding back into nested dicts and lists."""
    root: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def listify(node):
        if isinstance(node, dict):
            node = {k: listify(v) for k, v in node.items()}
            if node and all(k.isdigit() for k in node):
                return [node[k] for k in sorted(node, key=int)]
        return node

    return listify(root)


def _new_id(prefix: str, livemode: bool) -> str:
    return f"{prefix}_{'live' if livemode else 'test'}_{secrets.token_hex(12)}"


class _Refusal(Exception):
    def __init__(self, status: int, error: dict):
        self.status, self.error = status, error


def _invalid(message: str, *, code: str | None = None, param: str | None = None, status=400):
    error = {"type": "invalid_request_error", "message": message}
    if code:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        error["param"] = param
    return _Refusal(status, error)


@dataclass
class Fault:
    """Make the next ``times`` calls matching ``method`` and ``path`` (a prefix after /v1/,
    ``*`` matching any part)
    fail with ``kind``: "500" (an api_error, replayed under its key), "timeout" (done, but
    answered too late), "429", "connection" (the connection is dropped, nothing done)."""

    method: str
    path: str
    kind: str
    times: int = 1


@dataclass
class Account:
    livemode: bool
    id: str = field(default_factory=lambda: f"acct_{secrets.token_hex(8)}")
    sessions: dict = field(default_factory=dict)
    intents: dict = field(default_factory=dict)
    charges: dict = field(default_factory=dict)
    refunds: dict = field(default_factory=dict)
    # Saved cards (installments) and Stripe's fees.
    customers: dict = field(default_factory=dict)
    payment_methods: dict = field(default_factory=dict)
    balance_transactions: dict = field(default_factory=dict)
    disputes: dict = field(default_factory=dict)


class _SavedCards:
    """Customers, PaymentMethods, off-session PaymentIntents and balance transactions: the
    part of Stripe that installments (a card saved on Checkout, charged later without the
    payer) and fees for reconciliation use. Mixed into ``StripeStub``."""

    def _route_saved_cards(
        self, method: str, parts: list, params: dict, account: Account, expand: list
    ) -> dict | None:
        match method, parts:
            case "POST", ["customers"]:
                return self._customer_create(account, params)
            case "GET", ["customers", cid]:
                return self._get(account.customers, cid, "customer")
            case "GET", ["payment_methods", pmid]:
                return _public(self._get(account.payment_methods, pmid, "payment_method"))
            case "POST", ["payment_intents"]:
                return self._expanded(account, self._intent_create(account, params), expand)
            case "GET", ["balance_transactions", tid]:
                return self._get(account.balance_transactions, tid, "balance_transaction")
        return None

    def _customer_create(self, account: Account, params: dict) -> dict:
        cid = f"cus_{secrets.token_hex(7)}"
        customer = {
            "id": cid,
            "object": "customer",
            "email": params.get("email"),
            "name": params.get("name"),
            "metadata": params.get("metadata", {}),
            "invoice_settings": {"default_payment_method": None},
            "livemode": account.livemode,
            "created": int(time.time()),
        }
        account.customers[cid] = customer
        return customer

    def _saved_card_on_pay(self, account, session, intent, charge, number, exp_month, exp_year):
        """The card typed on Checkout becomes a PaymentMethod; with ``setup_future_usage``
        it is attached to the session's Customer for later charges."""
        year = time.gmtime().tm_year
        pmid = f"pm_{secrets.token_hex(12)}"
        payment_method = {
            "id": pmid,
            "object": "payment_method",
            "type": "card",
            "card": {
                "brand": charge["payment_method_details"]["card"]["brand"],
                "last4": number[-4:],
                "exp_month": exp_month or 12,
                "exp_year": exp_year or year + 3,
                "country": "FR",
                "funding": "credit",
            },
            "customer": None,
            "livemode": account.livemode,
            "created": int(time.time()),
            "_number": number,
        }
        account.payment_methods[pmid] = payment_method
        # Stripe's charge describes the card it was made with, expiry included.
        charge["payment_method_details"]["card"].update(
            exp_month=payment_method["card"]["exp_month"],
            exp_year=payment_method["card"]["exp_year"],
        )
        usage = session["_intent_data"].get("setup_future_usage")
        intent.update(payment_method=pmid, customer=session.get("customer"))
        charge.update(payment_method=pmid, customer=session.get("customer"))
        if usage:
            intent["setup_future_usage"] = usage
            if session.get("customer"):
                payment_method["customer"] = session["customer"]

    def _intent_create(self, account: Account, params: dict) -> dict:
        """``POST /v1/payment_intents`` with ``confirm=true``: a saved card charged now."""
        try:
            amount, currency = int(params["amount"]), params["currency"]
        except (KeyError, ValueError):
            raise _invalid("Missing required param: amount.", param="amount") from None
        if amount < 1:
            raise _invalid("Amount must be at least 1.", code="amount_too_small", param="amount")
        customer = params.get("customer")
        if customer is not None and customer not in account.customers:
            raise _invalid(
                f"No such customer: '{customer}'", code="resource_missing", param="customer"
            )
        pmid = params.get("payment_method", "")
        payment_method = account.payment_methods.get(pmid)
        if payment_method is None:
            raise _invalid(
                f"No such PaymentMethod: '{pmid}'",
                code="resource_missing",
                param="payment_method",
            )
        off_session = params.get("off_session") == "true"
        if off_session and payment_method["customer"] != customer:
            raise _invalid(
                "The provided PaymentMethod was previously used with a PaymentIntent without "
                "Customer attachment, shared with a connected account without Customer "
                "attachment, or was detached from a Customer. It may not be used again.",
                param="payment_method",
            )
        if params.get("confirm") != "true":
            raise _invalid("This stub only serves confirm=true.", param="confirm")
        manual = params.get("capture_method") == "manual"
        pid = _new_id("pi", account.livemode).replace("pi_test_", "pi_").replace("pi_live_", "pi_")
        intent = {
            "id": pid,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "currency": currency,
            "capture_method": params.get("capture_method", "automatic_async"),
            "customer": customer,
            "payment_method": pmid,
            "status": "requires_payment_method",
            "metadata": params.get("metadata", {}),
            "latest_charge": None,
            "last_payment_error": None,
            "next_action": None,
            "livemode": account.livemode,
        }
        account.intents[pid] = intent
        number = payment_method["_number"]
        card = payment_method["card"]
        if (card["exp_year"], card["exp_month"]) < time.gmtime()[:2]:
            self._off_session_refusal(
                intent, "expired_card", "expired_card", "Your card has expired."
            )
        if number in OFF_SESSION_AUTHENTICATION:
            if self.off_session_authentication == "requires_action" or not off_session:
                intent.update(
                    status="requires_action",
                    next_action={"type": "use_stripe_sdk", "use_stripe_sdk": {}},
                )
                return intent
            self._off_session_refusal(
                intent,
                "authentication_required",
                "authentication_required",
                "Your card was declined. This transaction requires authentication.",
            )
        if number in OFF_SESSION_DECLINE:
            self._off_session_refusal(intent, *OFF_SESSION_DECLINE[number])
        charge = {
            "id": _new_id("ch", account.livemode)
            .replace("ch_test_", "ch_")
            .replace("ch_live_", "ch_"),
            "object": "charge",
            "amount": amount,
            "amount_captured": 0 if manual else amount,
            "amount_refunded": 0,
            "captured": not manual,
            "refunded": False,
            "currency": currency,
            "customer": customer,
            "payment_intent": pid,
            "payment_method": pmid,
            "status": "succeeded",
            "balance_transaction": None,
            "payment_method_details": {
                "type": "card",
                "card": {
                    "brand": card["brand"],
                    "last4": card["last4"],
                    "exp_month": card["exp_month"],
                    "exp_year": card["exp_year"],
                },
            },
            "refunds": {"object": "list", "data": []},
            "livemode": account.livemode,
        }
        account.charges[charge["id"]] = charge
        intent.update(
            status="requires_capture" if manual else "succeeded",
            amount_capturable=amount if manual else 0,
            amount_received=0 if manual else amount,
            latest_charge=charge["id"],
        )
        if not manual:
            charge["balance_transaction"] = self._balance_transaction_for(account, charge, amount)
        return intent

    def _off_session_refusal(self, intent: dict, code: str, decline_code: str, message: str):
        """Stripe's 402: the intent goes back to ``requires_payment_method`` with the error,
        and the error carries the intent (so the caller can send the payer to it)."""
        error = {
            "type": "card_error",
            "code": code,
            "decline_code": decline_code,
            "message": message,
            "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        }
        intent.update(status="requires_payment_method", last_payment_error=dict(error))
        raise _Refusal(402, {**error, "payment_intent": dict(intent)})

    def _balance_transaction_for(self, account: Account, charge: dict, amount: int):
        """The captured charge in the merchant's balance, with Stripe's fee; None while
        scripted as not there yet."""
        if self.balance_transaction_pending:
            return None
        currency = self.settlement_currency or charge["currency"]
        fee = (amount * FEE_PERCENT_BP + 5000) // 10000 + FEE_FIXED
        return self._transaction(account, "charge", charge["id"], amount, fee, currency)

    def _refund_transaction(self, account: Account, refund: dict) -> str | None:
        if self.balance_transaction_pending:
            return None
        currency = self.settlement_currency or refund["currency"]
        return self._transaction(account, "refund", refund["id"], -refund["amount"], 0, currency)

    def _transaction(self, account, kind, source, amount, fee, currency) -> str:
        tid = f"txn_{secrets.token_hex(12)}"
        account.balance_transactions[tid] = {
            "id": tid,
            "object": "balance_transaction",
            "amount": amount,
            "currency": currency,
            "fee": fee,
            "fee_details": (
                [
                    {
                        "amount": fee,
                        "currency": currency,
                        "description": "Stripe processing fees",
                        "type": "stripe_fee",
                        "application": None,
                    }
                ]
                if fee
                else []
            ),
            "net": amount - fee,
            "status": "pending",
            "available_on": int(time.time()) + 7 * 86400,
            "reporting_category": kind,
            "source": source,
            "type": kind,
            "created": int(time.time()),
        }
        return tid


class StripeStub(_SavedCards):
    def __init__(self, *, answer_delay: float = 2.0):
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.idempotency: dict[tuple[str, str], tuple[tuple, int, dict]] = {}
        self.faults: list[Fault] = []
        self.requests: list[dict] = []
        self.revoked: set[str] = set()
        # A "timeout" answers after this long: longer than the client's timeout in tests.
        self.answer_delay = answer_delay
        # Scripts for saved cards and fees: what an off-session charge needing the payer's
        # authentication answers ("requires_payment_method" is today's documented 402 with
        # the intent attached; "requires_action" an intent left waiting for 3-D Secure), a
        # balance transaction not created yet at capture, and the account's settlement
        # currency ("" = the charge's own).
        self.off_session_authentication = "requires_payment_method"
        self.balance_transaction_pending = False
        self.settlement_currency = ""
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> StripeStub:
        stub = self

        class Handler(_Handler):
            pass

        Handler.stub = stub
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # --- what tests script and read ---------------------------------------------------

    def fail(self, method: str, path: str, kind: str, times: int = 1) -> None:
        with self.lock:
            self.faults.append(Fault(method.upper(), path, kind, times))

    def calls(self, method: str | None = None, path: str | None = None) -> list[dict]:
        return [
            r
            for r in self.requests
            if (method is None or r["method"] == method)
            and (path is None or r["path"].startswith(f"/v1/{path}"))
        ]

    def account(self, api_key: str) -> Account:
        with self.lock:
            if api_key not in self.accounts:
                self.accounts[api_key] = Account(livemode="_live_" in api_key)
            return self.accounts[api_key]

    def intent(self, api_key: str, intent_id: str) -> dict:
        return self.account(api_key).intents[intent_id]

    def complete(
        self,
        session_url: str,
        card: str = "4242424242424242",
        *,
        exp_month: int | None = None,
        exp_year: int | None = None,
    ) -> tuple[int, str]:
        """What a payer does on the hosted page: (status, Location or page text)."""
        import requests

        data = {"card": card}
        if exp_month is not None and exp_year is not None:
            data.update(exp_month=str(exp_month), exp_year=str(exp_year))
        response = requests.post(session_url, data=data, allow_redirects=False, timeout=5)
        return response.status_code, response.headers.get("Location", response.text)

    def dashboard_refund(self, api_key: str, intent_id: str, amount: int | None = None) -> dict:
        """A refund the merchant makes in Stripe's dashboard; returns the charge as the
        ``charge.refunded`` event carries it."""
        with self.lock:
            account = self.account(api_key)
            refund = self._refund(account, {"payment_intent": intent_id, "amount": amount})
            return dict(account.charges[refund["charge"]])

    def signed_event(
        self,
        event_type: str,
        obj: dict,
        secret: str,
        *,
        timestamp: int | None = None,
        event_id: str | None = None,
        livemode: bool = False,
    ) -> tuple[bytes, str]:
        """A webhook delivery as Stripe sends it: (body, Stripe-Signature header)."""
        timestamp = int(time.time()) if timestamp is None else timestamp
        event = {
            "id": event_id or f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": API_VERSION,
            "created": timestamp,
            "data": {"object": obj},
            "livemode": livemode,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        body = json.dumps(event).encode()
        return body, sign(body, secret, timestamp)

    # --- disputes: what a payer's bank does, and the events Stripe sends about it ---------

    def open_dispute(
        self,
        api_key: str,
        intent_id: str,
        *,
        amount: int | None = None,
        reason: str = "fraudulent",
        status: str = "needs_response",
        due_in: int = 7 * 86400,
    ) -> dict:
        """The payer's bank disputes the intent's charge; a chargeback (not a ``warning_…``
        inquiry) withdraws the amount from the balance, as Stripe does."""
        with self.lock:
            account = self.account(api_key)
            charge = account.charges[account.intents[intent_id]["latest_charge"]]
            now = int(time.time())
            dispute = {
                "id": f"dp_{secrets.token_hex(12)}",
                "object": "dispute",
                "amount": charge["amount_captured"] if amount is None else amount,
                "balance_transactions": [],
                "charge": charge["id"],
                "created": now,
                "currency": charge["currency"],
                "evidence": {},
                "evidence_details": {
                    "due_by": now + due_in,
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                "is_charge_refundable": status.startswith("warning_"),
                "livemode": account.livemode,
                "metadata": {},
                "payment_intent": intent_id,
                "reason": reason,
                "status": status,
            }
            account.disputes[dispute["id"]] = dispute
            charge["disputed"] = True
            if not status.startswith("warning_"):
                self._dispute_funds(dispute, -1)
            return dict(dispute)

    def update_dispute(self, api_key: str, dispute_id: str, **changes) -> dict:
        """The case moves on at Stripe (``status``, ``reason`` …); ``won``/``lost`` close
        it, a won case reinstating the funds, an inquiry escalated withdrawing them."""
        with self.lock:
            dispute = self.account(api_key).disputes[dispute_id]
            before = dispute["status"]
            due_by = changes.pop("due_by", None)
            if due_by is not None:
                dispute["evidence_details"]["due_by"] = due_by
            dispute.update(changes)
            after = dispute["status"]
            if before.startswith("warning_") and after in ("needs_response", "under_review"):
                self._dispute_funds(dispute, -1)
            if after == "won" and before != "won" and dispute["balance_transactions"]:
                self._dispute_funds(dispute, +1)
            dispute["is_charge_refundable"] = after.startswith("warning_")
            return dict(dispute)

    def dispute_event(
        self, event_type: str, dispute: dict, secret: str, **kwargs
    ) -> tuple[bytes, str]:
        """A ``charge.dispute.*`` delivery carrying the dispute as it was then."""
        return self.signed_event(f"charge.dispute.{event_type}", dict(dispute), secret, **kwargs)

    @staticmethod
    def _dispute_funds(dispute: dict, sign: int) -> None:
        dispute["balance_transactions"].append(
            {
                "id": f"txn_{secrets.token_hex(12)}",
                "object": "balance_transaction",
                "amount": sign * dispute["amount"],
                "currency": dispute["currency"],
                # Stripe's dispute fee, taken with the withdrawal and given back with a
                # reinstatement (as where the card network returns it).
                "fee": 1500 if sign < 0 else -1500,
                "fee_details": [
                    {
                        "amount": 1500 if sign < 0 else -1500,
                        "currency": dispute["currency"],
                        "description": "Dispute fee",
                        "type": "stripe_fee",
                        "application": None,
                    }
                ],
                "net": sign * (dispute["amount"] + 1500),
                "reporting_category": "dispute" if sign < 0 else "dispute_reversal",
                "type": "adjustment",
            }
        )

    # --- the API ------------------------------------------------------------------------

    def handle(self, method: str, path: str, params: dict, api_key: str, key: str | None):
        """(status, body) for one API call, through the idempotency layer and the faults."""
        if not api_key.startswith(("sk_test_", "sk_live_", "rk_test_", "rk_live_")) or (
            api_key in self.revoked
        ):
            shown = f"{api_key[:8]}{'*' * 8}{api_key[-4:]}" if api_key else ""
            return 401, {
                "error": {
                    "type": "invalid_request_error",
                    "message": f"Invalid API Key provided: {shown}",
                }
            }
        fault = self._fault(method, path)
        if fault == "connection":
            return None, None
        if fault == "429":
            return 429, {
                "error": {
                    "type": "invalid_request_error",
                    "code": "rate_limit",
                    "message": "Too many requests hit the API too quickly.",
                }
            }
        signature = (method, path, json.dumps(params, sort_keys=True))
        if method == "POST" and key:
            with self.lock:
                seen = self.idempotency.get((api_key, key))
            if seen is not None:
                if seen[0] != signature:
                    return 400, {
                        "error": {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be used with the "
                            "same parameters they were first used with. Try using a key other "
                            f"than '{key}' if you meant to execute a different request.",
                        }
                    }
                return seen[1], {**seen[2], "_replayed": True}
        if fault == "500":
            status, body = (
                500,
                {"error": {"type": "api_error", "message": "An unknown error occurred"}},
            )
        else:
            try:
                with self.lock:
                    status, body = 200, self._route(method, path, params, self.account(api_key))
            except _Refusal as refusal:
                status, body = refusal.status, {"error": refusal.error}
        # Stripe saves the answer of every request that began executing (500s included), not
        # of one refused by validation.
        if method == "POST" and key and status != 400:
            with self.lock:
                self.idempotency[(api_key, key)] = (signature, status, body)
        if fault == "timeout":
            time.sleep(self.answer_delay)
        return status, body

    def _fault(self, method: str, path: str) -> str | None:
        with self.lock:
            for fault in self.faults:
                # A prefix after /v1/, which may hold wildcards ("payment_intents/*/capture").
                matches = fnmatch.fnmatchcase(path, f"/v1/{fault.path}*")
                if fault.method == method and matches and fault.times:
                    fault.times -= 1
                    return fault.kind
        return None

    def _route(self, method: str, path: str, params: dict, account: Account) -> dict:
        parts = path.strip("/").split("/")[1:]
        expand = params.get("expand") or []
        match method, parts:
            case "POST", ["checkout", "sessions"]:
                return self._session_create(account, params)
            case "GET", ["checkout", "sessions", sid]:
                return self._expanded(
                    account, self._get(account.sessions, sid, "checkout.session"), expand
                )
            case "POST", ["checkout", "sessions", sid, "expire"]:
                return self._session_expire(account, sid)
            case "GET", ["payment_intents", pid]:
                return self._expanded(
                    account, self._get(account.intents, pid, "payment_intent"), expand
                )
            case "POST", ["payment_intents", pid, "capture"]:
                return self._capture(account, pid, params)
            case "POST", ["payment_intents", pid, "cancel"]:
                return self._cancel(account, pid)
            case "POST", ["refunds"]:
                return self._refund(account, params)
            case "GET", ["disputes", did]:
                return self._get(account.disputes, did, "dispute")
            case "GET", ["charges", cid]:
                return self._expanded(account, self._get(account.charges, cid, "charge"), expand)
            case "GET", ["account"]:
                return {"id": account.id, "object": "account", "charges_enabled": True}
        saved = self._route_saved_cards(method, parts, params, account, expand)
        if saved is not None:
            return saved
        raise _invalid(f"Unrecognized request URL ({method}: {path}).", status=404)

    def _get(self, objects: dict, object_id: str, kind: str) -> dict:
        if object_id not in objects:
            raise _invalid(
                f"No such {kind.split('.')[-1]}: '{object_id}'",
                code="resource_missing",
                param="id",
                status=404,
            )
        return objects[object_id]

    def _expanded(self, account: Account, obj: dict, expand: list) -> dict:
        """``expand[]`` as Stripe reads it: dotted paths, each level an id replaced by its
        object (``payment_intent.latest_charge.balance_transaction``)."""
        obj = dict(obj)
        for path in expand:
            node, names = obj, path.split(".")
            for name in names:
                value = node.get(name) if isinstance(node, dict) else None
                if isinstance(value, str):
                    value = self._by_id(account, value)
                    if value is None:
                        break
                    node[name] = value = dict(value)
                if not isinstance(value, dict):
                    break
                node = value
        return obj

    def _by_id(self, account: Account, object_id: str) -> dict | None:
        for prefix, objects in (
            ("pi_", account.intents),
            ("ch_", account.charges),
            ("txn_", account.balance_transactions),
            ("cus_", account.customers),
            ("pm_", account.payment_methods),
            ("re_", account.refunds),
        ):
            if object_id.startswith(prefix):
                return objects.get(object_id)
        return None

    def _session_create(self, account: Account, params: dict) -> dict:
        if params.get("mode") != "payment":
            raise _invalid("Only payment mode is served by this stub.", param="mode")
        try:
            item = params["line_items"][0]
            price = item["price_data"]
            amount, currency = int(price["unit_amount"]), price["currency"]
            quantity = int(item.get("quantity", 1))
        except (KeyError, IndexError, TypeError, ValueError):
            raise _invalid("Missing required param: line_items.", param="line_items") from None
        if currency != currency.lower() or len(currency) != 3:
            raise _invalid(f"Invalid currency: {currency}.", param="currency")
        if amount < 1:
            raise _invalid(
                "The Checkout Session's total amount due must add up to at least 1.",
                code="amount_too_small",
                param="line_items[0][price_data][unit_amount]",
            )
        for name in ("success_url", "cancel_url"):
            if not str(params.get(name, "")).startswith(("http://", "https://")):
                raise _invalid(f"Not a valid URL: {name}", code="url_invalid", param=name)
        customer = params.get("customer")
        if customer is not None and customer not in account.customers:
            raise _invalid(
                f"No such customer: '{customer}'", code="resource_missing", param="customer"
            )
        usage = (params.get("payment_intent_data") or {}).get("setup_future_usage")
        if usage not in (None, "on_session", "off_session"):
            raise _invalid(
                f"Invalid setup_future_usage: must be one of on_session or off_session "
                f"(got {usage}).",
                param="payment_intent_data[setup_future_usage]",
            )
        sid = _new_id("cs", account.livemode)
        session = {
            "id": sid,
            "object": "checkout.session",
            "amount_total": amount * quantity,
            "currency": currency,
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "payment_intent": None,
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata", {}),
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "livemode": account.livemode,
            "url": f"{self.base_url}/pay/{sid}",
            "customer": customer,
            "created": int(time.time()),
            "_intent_data": params.get("payment_intent_data", {}),
        }
        account.sessions[sid] = session
        return session

    def _session_expire(self, account: Account, sid: str) -> dict:
        session = self._get(account.sessions, sid, "checkout.session")
        if session["status"] != "open":
            raise _invalid(
                f'Only Checkout Sessions with a status in ["open"] can be expired; this one '
                f"is {session['status']}."
            )
        session["status"] = "expired"
        if session["payment_intent"]:
            intent = account.intents[session["payment_intent"]]
            intent.update(status="canceled", cancellation_reason="abandoned")
        return session

    def _capture(self, account: Account, pid: str, params: dict) -> dict:
        intent = self._get(account.intents, pid, "payment_intent")
        if intent["status"] != "requires_capture":
            raise _invalid(
                f"This PaymentIntent could not be captured because it has a status of "
                f"{intent['status']}. Only a PaymentIntent with one of the following statuses "
                "may be captured: requires_capture.",
                code="payment_intent_unexpected_state",
            )
        amount = int(params.get("amount_to_capture", intent["amount_capturable"]))
        if amount > intent["amount_capturable"] or amount < 1:
            raise _invalid(
                "The amount to capture must be positive and at most the amount capturable.",
                code="amount_too_large",
                param="amount_to_capture",
            )
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        charge = account.charges[intent["latest_charge"]]
        charge.update(captured=True, amount_captured=amount, status="succeeded")
        charge["balance_transaction"] = self._balance_transaction_for(account, charge, amount)
        return self._expanded(account, intent, params.get("expand") or [])

    def _cancel(self, account: Account, pid: str) -> dict:
        intent = self._get(account.intents, pid, "payment_intent")
        if intent["status"] not in (
            "requires_payment_method",
            "requires_capture",
            "requires_confirmation",
            "requires_action",
            "processing",
        ):
            raise _invalid(
                f"You cannot cancel this PaymentIntent because it has a status of "
                f"{intent['status']}. Only a PaymentIntent with one of the following statuses "
                "may be canceled: requires_payment_method, requires_capture, "
                "requires_confirmation, requires_action, processing.",
                code="payment_intent_unexpected_state",
            )
        intent.update(
            status="canceled", amount_capturable=0, cancellation_reason="requested_by_customer"
        )
        return intent

    def _refund(self, account: Account, params: dict) -> dict:
        pid = params.get("payment_intent")
        intent = self._get(account.intents, pid, "payment_intent")
        if intent["status"] != "succeeded":
            raise _invalid(
                "This PaymentIntent does not have a successful charge to refund.",
                param="payment_intent",
            )
        charge = account.charges[intent["latest_charge"]]
        if _disputed(account, charge["id"]):
            raise _invalid(
                "The charge you're attempting to refund has been charged back.",
                code="charge_disputed",
            )
        left = charge["amount_captured"] - charge["amount_refunded"]
        if left <= 0:
            raise _invalid(
                f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
            )
        amount = params.get("amount")
        amount = left if amount in (None, "") else int(amount)
        if amount > left or amount < 1:
            raise _invalid(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left}).",
                param="amount",
            )
        refund = {
            "id": _new_id("re", account.livemode)
            .replace("re_test_", "re_")
            .replace("re_live_", "re_"),
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "charge": charge["id"],
            "payment_intent": pid,
            "status": "succeeded",
            "created": int(time.time()),
        }
        refund["balance_transaction"] = self._refund_transaction(account, refund)
        account.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
        charge["refunds"]["data"].insert(0, refund)
        return self._expanded(account, refund, params.get("expand") or [])

    # --- the hosted page ----------------------------------------------------------------

    def pay(
        self, sid: str, card: str, exp_month: int | None = None, exp_year: int | None = None
    ) -> tuple[int, dict, str]:
        """The payer submits a card on Checkout: (status, headers, html)."""
        with self.lock:
            found = [(k, a) for k, a in self.accounts.items() if sid in a.sessions]
            if not found:
                return 404, {}, "<p>No such Checkout Session.</p>"
            _key, account = found[0]
            session = account.sessions[sid]
            if session["status"] != "open":
                return 410, {}, "<p>This Checkout Session is no longer available.</p>"
            number = "".join(ch for ch in card if ch.isdigit())
            brand, decline = CARDS.get(number, ("visa", None))
            intent = self._intent_for(account, session)
            if decline is not None:
                code, decline_code, message = decline
                intent.update(
                    status="requires_payment_method",
                    last_payment_error={
                        "type": "card_error",
                        "code": code,
                        "decline_code": decline_code,
                        "message": message,
                    },
                )
                back = html.escape(session["cancel_url"])
                return (
                    402,
                    {},
                    f'<p role="alert">{html.escape(message)}</p><a href="{back}">Back</a>',
                )
            manual = session["_intent_data"].get("capture_method") == "manual"
            charge = {
                "id": _new_id("ch", account.livemode)
                .replace("ch_test_", "ch_")
                .replace("ch_live_", "ch_"),
                "object": "charge",
                "amount": intent["amount"],
                "amount_captured": 0 if manual else intent["amount"],
                "amount_refunded": 0,
                "captured": not manual,
                "refunded": False,
                "currency": intent["currency"],
                "payment_intent": intent["id"],
                "status": "succeeded",
                "payment_method_details": {
                    "type": "card",
                    "card": {"brand": brand, "last4": number[-4:]},
                },
                "refunds": {"object": "list", "data": []},
                "livemode": account.livemode,
            }
            account.charges[charge["id"]] = charge
            self._saved_card_on_pay(account, session, intent, charge, number, exp_month, exp_year)
            intent.update(
                status="requires_capture" if manual else "succeeded",
                amount_capturable=intent["amount"] if manual else 0,
                amount_received=0 if manual else intent["amount"],
                latest_charge=charge["id"],
                last_payment_error=None,
            )
            session.update(status="complete", payment_status="paid" if not manual else "unpaid")
            target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", sid)
            return 303, {"Location": target}, ""

    def _intent_for(self, account: Account, session: dict) -> dict:
        if session["payment_intent"]:
            return account.intents[session["payment_intent"]]
        data = session["_intent_data"]
        pid = _new_id("pi", account.livemode).replace("pi_test_", "pi_").replace("pi_live_", "pi_")
        intent = {
            "id": pid,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_capturable": 0,
            "amount_received": 0,
            "currency": session["currency"],
            "capture_method": data.get("capture_method", "automatic"),
            "status": "requires_payment_method",
            "metadata": data.get("metadata", {}),
            "latest_charge": None,
            "last_payment_error": None,
            "livemode": account.livemode,
        }
        account.intents[pid] = intent
        session["payment_intent"] = pid
        return intent


def _disputed(account: Account, charge_id: str) -> bool:
    """Stripe refuses to refund a charge whose chargeback is open or lost."""
    return any(
        d["charge"] == charge_id and d["status"] in ("needs_response", "under_review", "lost")
        for d in account.disputes.values()
    )


def sign(body: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _public(body: dict) -> dict:
    return {k: v for k, v in body.items() if not k.startswith("_")}


class _Handler(BaseHTTPRequestHandler):
    stub: StripeStub

    def log_message(self, *args) -> None:  # quiet in tests
        pass

    def _api(self, method: str) -> None:
        url = urlsplit(self.path)
        if url.path.startswith("/pay/"):
            return self._page(method, url.path.removeprefix("/pay/").strip("/"))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        if (
            method == "POST"
            and raw
            and not self.headers.get("Content-Type", "").startswith(
                "application/x-www-form-urlencoded"
            )
        ):
            return self._json(
                400,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": "Invalid request: form encoding expected.",
                    }
                },
            )
        params = _decode_form(raw if method == "POST" else url.query)
        auth = self.headers.get("Authorization", "")
        api_key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        key = self.headers.get("Idempotency-Key")
        self.stub.requests.append(
            {
                "method": method,
                "path": url.path,
                "params": params,
                "raw": raw,
                "idempotency_key": key,
                "api_key": api_key,
                "stripe_version": self.headers.get("Stripe-Version"),
            }
        )
        status, body = self.stub.handle(method, url.path, params, api_key, key)
        if status is None:
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        replayed = bool(body.pop("_replayed", False)) if isinstance(body, dict) else False
        self._json(status, _public(body), replayed=replayed)
        return None

    def _json(self, status: int, body: dict, replayed: bool = False) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
            if replayed:
                self.send_header("Idempotent-Replayed", "true")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a scripted timeout)

    def _page(self, method: str, sid: str) -> None:
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            exp_month, exp_year = form.get("exp_month", ""), form.get("exp_year", "")
            status, headers, text = self.stub.pay(
                sid,
                form.get("card", ""),
                int(exp_month) if exp_month.isdigit() else None,
                int(exp_year) if exp_year.isdigit() else None,
            )
        else:
            status, headers, text = (
                200,
                {},
                (
                    '<form method="post"><label>Card number <input name="card" '
                    'autocomplete="cc-number"></label><button>Pay</button></form>'
                ),
            )
        data = f"<!doctype html><title>Stripe Checkout (stub)</title>{text}".encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._api("GET")

    def do_POST(self) -> None:
        self._api("POST")
