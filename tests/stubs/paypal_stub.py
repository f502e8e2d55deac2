"""A local stand-in for PayPal's REST API (OAuth2 + Orders v2 + Payments v2 + Disputes v1),
for the PayPal adapter to talk to in tests.

No machine here reaches PayPal, so this server answers the endpoints the adapter calls the
way PayPal documents them: JSON requests and answers with PayPal's field names, OAuth2
client-credentials tokens (``401 {"error": "invalid_client"}`` for an unknown app), its error
bodies (``{"name", "message", "debug_id", "details": [{"issue", "description"}]}``) and
status codes, and ``PayPal-Request-Id``: the same id replays the first answer. PayPal keeps
live and sandbox apart by host; here by path: ``<base>/live`` and ``<base>/sandbox`` are two
environments whose apps (client id + secret) and objects are separate, so a sandbox app is
refused by the live environment. A per-test fault script gives declines
(``INSTRUMENT_DECLINED``), ``PAYER_ACTION_REQUIRED``, 5xx, timeouts (done, but answered too
late) and dropped connections. Disputes (``open_dispute``, ``update_dispute``,
``resolve_dispute``) are on the app's captures, read with ``GET /v1/customer/disputes/{id}``
in PayPal's shape (``dispute_life_cycle_stage``, ``status``, ``dispute_outcome``) and
announced by ``dispute_event``. ``/checkoutnow?token=<order>`` is a minimal approval page
(Approve / Cancel) a test client or a browser finishes; ``signed_event`` builds webhook
deliveries with PayPal's transmission headers, which ``/v1/notifications/verify-webhook-
signature`` checks against what the stub itself signed.

Never part of the product: only tests start it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import string
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

NO_DECIMALS = {"HUF", "JPY", "TWD"}
CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-stub"
AUTH_ALGO = "SHA256withRSA"


def _id(length: int = 17) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Refusal(Exception):
    def __init__(self, status: int, name: str, message: str, issue: str = "", description=""):
        self.status = status
        self.body = {
            "name": name,
            "message": message,
            "debug_id": secrets.token_hex(7),
        }
        if issue:
            self.body["details"] = [{"issue": issue, "description": description or message}]
        self.body["links"] = [
            {"href": f"https://developer.paypal.com/api/rest/reference/orders/v2/errors/#{issue}"}
        ]


def _unprocessable(issue: str, description: str) -> _Refusal:
    return _Refusal(
        422,
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed "
        "business validation.",
        issue,
        description,
    )


def _not_found(what: str) -> _Refusal:
    return _Refusal(
        404,
        "RESOURCE_NOT_FOUND",
        "The specified resource does not exist.",
        "INVALID_RESOURCE_ID",
        f"Specified resource ID does not exist ({what}).",
    )


def _invalid(issue: str, description: str) -> _Refusal:
    return _Refusal(
        400,
        "INVALID_REQUEST",
        "Request is not well-formed, syntactically incorrect, or violates schema.",
        issue,
        description,
    )


@dataclass
class Fault:
    """Make the next ``times`` calls whose method is ``method`` and whose path contains
    ``path`` answer ``kind``: "500" (INTERNAL_SERVER_ERROR, replayed under its request id),
    "timeout" (done, answered too late), "connection" (dropped, nothing done), "declined"
    (422 INSTRUMENT_DECLINED), "payer_action" (422 PAYER_ACTION_REQUIRED), "401"."""

    method: str
    path: str
    kind: str
    times: int = 1


@dataclass
class App:
    environment: str
    client_id: str
    secret: str
    app_id: str = field(default_factory=lambda: f"APP-{_id()}")
    orders: dict = field(default_factory=dict)
    authorizations: dict = field(default_factory=dict)
    captures: dict = field(default_factory=dict)
    refunds: dict = field(default_factory=dict)
    disputes: dict = field(default_factory=dict)


def _value_ok(value: object, currency: str) -> bool:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return False
    exponent = 0 if currency in NO_DECIMALS else 2
    return (
        number > 0
        and number == number.quantize(Decimal(1).scaleb(-exponent))
        and (exponent == 0 or "." in str(value))
    )


class PayPalStub:
    def __init__(self, *, answer_delay: float = 1.5):
        self.lock = threading.RLock()
        self.apps: dict[tuple[str, str], App] = {}
        self.tokens: dict[str, tuple[str, str, float]] = {}
        self.idempotency: dict[tuple, tuple[str, int, dict]] = {}
        self.faults: list[Fault] = []
        self.requests: list[dict] = []
        self.transmissions: dict[str, dict] = {}
        self.webhook_key = secrets.token_bytes(32)
        self.answer_delay = answer_delay
        self._last_dispute_time: datetime | None = None
        self.server: ThreadingHTTPServer | None = None

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> PayPalStub:
        stub = self

        class Handler(_Handler):
            pass

        Handler.stub = stub
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def base_url(self, environment: str) -> str:
        return f"{self.origin}/{environment}"

    # --- what tests script and read ---------------------------------------------------

    def add_app(self, client_id: str, secret: str, *, environment: str = "sandbox") -> App:
        with self.lock:
            app = App(environment, client_id, secret)
            self.apps[(environment, client_id)] = app
            return app

    def app(self, client_id: str, environment: str = "sandbox") -> App:
        return self.apps[(environment, client_id)]

    def fail(self, method: str, path: str, kind: str, times: int = 1) -> None:
        with self.lock:
            self.faults.append(Fault(method.upper(), path, kind, times))

    def calls(self, method: str | None = None, path: str | None = None) -> list[dict]:
        return [
            r
            for r in self.requests
            if (method is None or r["method"] == method) and (path is None or path in r["path"])
        ]

    def order(self, client_id: str, order_id: str, environment: str = "sandbox") -> dict:
        app = self.app(client_id, environment)
        with self.lock:
            return self._order_view(app, app.orders[order_id])

    def decide(self, approval_url: str, decision: str = "approve") -> tuple[int, str]:
        """What a payer does on PayPal's page: (status, Location)."""
        import requests

        token = dict(parse_qsl(urlsplit(approval_url).query)).get("token", "")
        response = requests.post(
            approval_url.split("?")[0],
            data={"token": token, "decision": decision},
            allow_redirects=False,
            timeout=5,
        )
        return response.status_code, response.headers.get("Location", response.text)

    def dashboard_refund(
        self, client_id: str, order_id: str, amount: str | None = None, environment="sandbox"
    ) -> dict:
        """A refund the merchant makes in PayPal's dashboard; returns the refund resource as
        the PAYMENT.CAPTURE.REFUNDED event carries it."""
        with self.lock:
            app = self.app(client_id, environment)
            order = app.orders[order_id]
            capture_id = order["_captures"][-1]
            body = (
                {"amount": {"currency_code": order["currency"], "value": amount}} if amount else {}
            )
            refund = self._refund(app, capture_id, body)
            return dict(refund)

    # --- disputes (PayPal's Disputes API, v1) ----------------------------------------------

    def open_dispute(
        self,
        client_id: str,
        capture_id: str,
        *,
        environment: str = "sandbox",
        reason: str = "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
        stage: str = "CHARGEBACK",
        status: str = "WAITING_FOR_SELLER_RESPONSE",
        value: str | None = None,
        due_in_days: int = 10,
    ) -> dict:
        """The payer opens a case on one of the app's captures (at PayPal's Resolution
        Center, or through their card issuer): the dispute as ``GET /v1/customer/disputes/
        {id}`` shows it to the merchant, and as the CUSTOMER.DISPUTE.CREATED event carries
        it."""
        with self.lock:
            app = self.app(client_id, environment)
            capture = app.captures[capture_id]
            money = dict(capture["amount"])
            if value is not None:
                money["value"] = value
            dispute_id = f"PP-D-{secrets.randbelow(10**5):05d}{_id(4)}"
            now = self._dispute_time()
            app.disputes[dispute_id] = {
                "dispute_id": dispute_id,
                "create_time": now,
                "update_time": now,
                "disputed_transactions": [
                    {
                        "buyer_transaction_id": _id(),
                        "seller_transaction_id": capture_id,
                        "create_time": capture["create_time"],
                        "transaction_status": "COMPLETED",
                        "gross_amount": dict(capture["amount"]),
                        "custom": capture.get("custom_id", ""),
                        "seller": {"merchant_id": app.app_id.removeprefix("APP-")[:13]},
                    }
                ],
                "reason": reason,
                "status": status,
                "dispute_amount": money,
                "dispute_life_cycle_stage": stage,
                "dispute_channel": "INTERNAL" if stage == "INQUIRY" else "EXTERNAL",
                "seller_response_due_date": self._due(due_in_days),
                "links": [
                    {
                        "href": f"{self.base_url(environment)}/v1/customer/disputes/{dispute_id}",
                        "rel": "self",
                        "method": "GET",
                    }
                ],
            }
            return dict(app.disputes[dispute_id])

    def update_dispute(
        self,
        client_id: str,
        dispute_id: str,
        *,
        environment: str = "sandbox",
        due_in_days: int | None = None,
        **changes,
    ) -> dict:
        """PayPal moves the case on (``status``, ``dispute_life_cycle_stage``, a new due date);
        ``update_time`` moves with it, always later than the last one."""
        with self.lock:
            dispute = self.app(client_id, environment).disputes[dispute_id]
            dispute.update(changes)
            if due_in_days is not None:
                dispute["seller_response_due_date"] = self._due(due_in_days)
            dispute["update_time"] = self._dispute_time()
            return dict(dispute)

    def resolve_dispute(
        self,
        client_id: str,
        dispute_id: str,
        outcome: str = "RESOLVED_BUYER_FAVOUR",
        *,
        environment: str = "sandbox",
        refunded: str | None = None,
    ) -> dict:
        """PayPal settles the case: ``status`` RESOLVED with its ``dispute_outcome`` (the
        amount refunded to the payer when the payer won)."""
        with self.lock:
            dispute = self.app(client_id, environment).disputes[dispute_id]
            result = {"outcome_code": outcome}
            if outcome in ("RESOLVED_BUYER_FAVOUR", "ACCEPTED"):
                money = dict(dispute["dispute_amount"])
                if refunded is not None:
                    money["value"] = refunded
                result["amount_refunded"] = money
            return self.update_dispute(
                client_id,
                dispute_id,
                environment=environment,
                status="RESOLVED",
                dispute_outcome=result,
            )

    def dispute_event(
        self, event_type: str, dispute: dict, webhook_id: str, **kwargs
    ) -> tuple[bytes, dict]:
        """A signed CUSTOMER.DISPUTE.<CREATED|UPDATED|RESOLVED> delivery whose resource is
        the dispute as it stood when PayPal sent it."""
        name = event_type if "." in event_type else f"CUSTOMER.DISPUTE.{event_type.upper()}"
        return self.signed_event(name, dict(dispute), webhook_id, resource_type="dispute", **kwargs)

    def _dispute_time(self) -> str:
        """PayPal's millisecond timestamps, strictly increasing here so that two changes made
        within one millisecond of each other still have an order."""
        now = datetime.now(UTC)
        last = self._last_dispute_time
        if last is not None and now <= last:
            now = last + timedelta(milliseconds=1)
        self._last_dispute_time = now
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"

    def _due(self, days: int) -> str:
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
        return due.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def signed_event(
        self,
        event_type: str,
        resource: dict,
        webhook_id: str,
        *,
        event_id: str | None = None,
        resource_type: str = "",
    ) -> tuple[bytes, dict]:
        """A webhook delivery as PayPal sends it: (body, headers). The signature is the
        stub's own (PayPal signs with its certificate); only the stub's verification call
        can check it, as only PayPal's can check PayPal's."""
        event = {
            "id": event_id or f"WH-{_id(8)}-{_id(17)}",
            "event_version": "1.0",
            "create_time": _now(),
            "resource_type": resource_type or event_type.split(".")[1].lower(),
            "event_type": event_type,
            "summary": event_type,
            "resource": resource,
            "links": [],
        }
        body = json.dumps(event).encode()
        transmission_id = secrets.token_hex(16)
        transmission_time = _now()
        message = f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}"
        signature = base64.b64encode(
            hmac.new(self.webhook_key, message.encode(), hashlib.sha256).digest()
        ).decode()
        with self.lock:
            self.transmissions[transmission_id] = {"event": event, "signature": signature}
        headers = {
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": transmission_time,
            "PAYPAL-TRANSMISSION-SIG": signature,
            "PAYPAL-CERT-URL": CERT_URL,
            "PAYPAL-AUTH-ALGO": AUTH_ALGO,
        }
        return body, headers

    # --- the API ------------------------------------------------------------------------

    def handle(self, method: str, path: str, body: dict, auth: str, request_id: str | None):
        """(status, body) for one call, through authentication, faults and request ids."""
        environment, _, rest = path.strip("/").partition("/")
        rest = "/" + rest
        if rest == "/v1/oauth2/token":
            return self._token(environment, auth, method)
        app = self._app_of_token(environment, auth)
        if app is None:
            return 401, {
                "error": "invalid_token",
                "error_description": "Token signature verification failed",
            }
        fault = self._fault(method, rest)
        if fault == "connection":
            return None, None
        if fault == "401":
            return 401, {"error": "invalid_token", "error_description": "Access Token expired"}
        signature = json.dumps(body, sort_keys=True)
        key = (environment, app.client_id, request_id) if method == "POST" and request_id else None
        if key:
            with self.lock:
                seen = self.idempotency.get(key)
            if seen is not None:
                return seen[1], seen[2]
        if fault == "500":
            status, answer = (
                500,
                {
                    "name": "INTERNAL_SERVER_ERROR",
                    "message": "An internal server error has occurred.",
                    "debug_id": secrets.token_hex(7),
                },
            )
        elif fault == "declined":
            refusal = _unprocessable(
                "INSTRUMENT_DECLINED",
                "The instrument presented was either declined by the processor or bank, or it "
                "can't be used for this payment.",
            )
            status, answer = refusal.status, refusal.body
        elif fault == "payer_action":
            refusal = _unprocessable(
                "PAYER_ACTION_REQUIRED",
                "Payer needs to perform the following action before proceeding with payment.",
            )
            status, answer = refusal.status, refusal.body
        else:
            try:
                with self.lock:
                    status, answer = self._route(app, method, rest, body)
            except _Refusal as refusal:
                status, answer = refusal.status, refusal.body
        if key and status != 400:
            with self.lock:
                self.idempotency[key] = (signature, status, answer)
        if fault == "timeout":
            time.sleep(self.answer_delay)
        return status, answer

    def _token(self, environment: str, auth: str, method: str):
        refused = (
            401,
            {"error": "invalid_client", "error_description": "Client Authentication failed"},
        )
        if method != "POST" or not auth.startswith("Basic "):
            return refused
        try:
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return refused
        fault = self._fault("POST", "/v1/oauth2/token")
        if fault == "500":
            return 500, {"name": "INTERNAL_SERVER_ERROR", "message": "Internal error"}
        if fault == "connection":
            return None, None
        with self.lock:
            app = self.apps.get((environment, client_id))
            if app is None or not hmac.compare_digest(app.secret, secret) or fault == "401":
                return refused
            token = f"A21AA{secrets.token_urlsafe(40)}"
            self.tokens[token] = (environment, client_id, time.time() + 32400)
        return 200, {
            "scope": "https://uri.paypal.com/services/payments/payment",
            "access_token": token,
            "token_type": "Bearer",
            "app_id": app.app_id,
            "expires_in": 32400,
            "nonce": f"{_now()}{secrets.token_hex(8)}",
        }

    def _app_of_token(self, environment: str, auth: str) -> App | None:
        token = auth.removeprefix("Bearer ").strip()
        with self.lock:
            known = self.tokens.get(token)
            if known is None or known[0] != environment or known[2] < time.time():
                return None
            return self.apps.get((environment, known[1]))

    def _fault(self, method: str, path: str) -> str | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and fault.path in path and fault.times:
                    fault.times -= 1
                    return fault.kind
        return None

    def _route(self, app: App, method: str, path: str, body: dict) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        match method, parts:
            case "POST", ["v2", "checkout", "orders"]:
                return 201, self._order_create(app, body)
            case "GET", ["v2", "checkout", "orders", oid]:
                return 200, self._order_view(app, self._get(app.orders, oid, "order"))
            case "POST", ["v2", "checkout", "orders", oid, "authorize"]:
                return 201, self._authorize(app, oid)
            case "GET", ["v2", "payments", "authorizations", aid]:
                return 200, self._get(app.authorizations, aid, "authorization")
            case "POST", ["v2", "payments", "authorizations", aid, "capture"]:
                return 201, self._capture(app, aid, body)
            case "POST", ["v2", "payments", "authorizations", aid, "void"]:
                self._void(app, aid)
                return 204, {}
            case "GET", ["v2", "payments", "captures", cid]:
                return 200, self._get(app.captures, cid, "capture")
            case "POST", ["v2", "payments", "captures", cid, "refund"]:
                return 201, self._refund(app, cid, body)
            case "GET", ["v2", "payments", "refunds", rid]:
                return 200, self._get(app.refunds, rid, "refund")
            case "GET", ["v1", "customer", "disputes", did]:
                return 200, self._get(app.disputes, did, "dispute")
            case "POST", ["v1", "notifications", "verify-webhook-signature"]:
                return 200, {"verification_status": self._verify(body)}
        raise _not_found(path)

    def _get(self, objects: dict, object_id: str, kind: str) -> dict:
        if object_id not in objects:
            raise _not_found(kind)
        return dict(objects[object_id])

    def _links(self, app: App, kind: str, object_id: str, **extra) -> list[dict]:
        base = self.base_url(app.environment)
        links = [{"href": f"{base}/v2/{kind}/{object_id}", "rel": "self", "method": "GET"}]
        for rel, href in extra.items():
            links.append({"href": href, "rel": rel.replace("_", "-"), "method": "GET"})
        return links

    def _order_create(self, app: App, body: dict) -> dict:
        if body.get("intent") not in ("AUTHORIZE", "CAPTURE"):
            raise _invalid("INVALID_PARAMETER_VALUE", "intent must be AUTHORIZE or CAPTURE.")
        units = body.get("purchase_units")
        if not isinstance(units, list) or len(units) != 1:
            raise _invalid("MISSING_REQUIRED_PARAMETER", "One purchase unit is required.")
        amount = units[0].get("amount") or {}
        currency = str(amount.get("currency_code") or "")
        if not _value_ok(amount.get("value"), currency):
            if currency in NO_DECIMALS:
                raise _unprocessable(
                    "DECIMAL_PRECISION",
                    "If the currency supports decimals, only two decimal place precision is "
                    "supported.",
                )
            raise _invalid("INVALID_PARAMETER_VALUE", "amount.value is not a valid amount.")
        context = (
            ((body.get("payment_source") or {}).get("paypal") or {}).get("experience_context")
            or body.get("application_context")
            or {}
        )
        if not context.get("return_url") or not context.get("cancel_url"):
            raise _invalid("MISSING_REQUIRED_PARAMETER", "return_url and cancel_url are required.")
        order_id = _id()
        app.orders[order_id] = {
            "id": order_id,
            "intent": body["intent"],
            "status": "PAYER_ACTION_REQUIRED",
            "currency": currency,
            "value": amount["value"],
            "reference_id": units[0].get("reference_id", "default"),
            "custom_id": units[0].get("custom_id", ""),
            "return_url": context["return_url"],
            "cancel_url": context["cancel_url"],
            "create_time": _now(),
            "_authorizations": [],
            "_captures": [],
            "_refunds": [],
        }
        return self._order_view(app, app.orders[order_id])

    def _order_view(self, app: App, order: dict) -> dict:
        payments = {}
        if order["_authorizations"]:
            payments["authorizations"] = [app.authorizations[a] for a in order["_authorizations"]]
        if order["_captures"]:
            payments["captures"] = [app.captures[c] for c in order["_captures"]]
        if order["_refunds"]:
            payments["refunds"] = [app.refunds[r] for r in order["_refunds"]]
        unit = {
            "reference_id": order["reference_id"],
            "custom_id": order["custom_id"],
            "amount": {"currency_code": order["currency"], "value": order["value"]},
        }
        if payments:
            unit["payments"] = payments
        extra = {}
        if order["status"] in ("PAYER_ACTION_REQUIRED", "CREATED"):
            extra["payer_action"] = (
                f"{self.base_url(app.environment)}/checkoutnow?token={order['id']}"
            )
        view = {
            "id": order["id"],
            "intent": order["intent"],
            "status": order["status"],
            "payment_source": {"paypal": {}},
            "purchase_units": [unit],
            "create_time": order["create_time"],
            "links": self._links(app, "checkout/orders", order["id"], **extra),
        }
        if order.get("payer_id"):
            view["payer"] = {"payer_id": order["payer_id"]}
        return view

    def _authorize(self, app: App, order_id: str) -> dict:
        order = app.orders.get(order_id)
        if order is None:
            raise _not_found("order")
        if order["status"] == "COMPLETED":
            raise _unprocessable("ORDER_ALREADY_AUTHORIZED", "Order already authorized.")
        if order["status"] != "APPROVED":
            raise _unprocessable(
                "ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment."
            )
        auth_id = _id()
        app.authorizations[auth_id] = {
            "id": auth_id,
            "status": "CREATED",
            "amount": {"currency_code": order["currency"], "value": order["value"]},
            "custom_id": order["custom_id"],
            "expiration_time": (datetime.now(UTC) + timedelta(days=29)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "supplementary_data": {"related_ids": {"order_id": order_id}},
            "create_time": _now(),
            "links": self._links(app, "payments/authorizations", auth_id),
        }
        order["_authorizations"].append(auth_id)
        order["status"] = "COMPLETED"
        return self._order_view(app, order)

    def _capture(self, app: App, auth_id: str, body: dict) -> dict:
        auth = app.authorizations.get(auth_id)
        if auth is None:
            raise _not_found("authorization")
        if auth["status"] == "VOIDED":
            raise _unprocessable(
                "AUTHORIZATION_VOIDED", "A voided authorization cannot be captured."
            )
        if auth["status"] == "CAPTURED":
            raise _unprocessable(
                "AUTHORIZATION_ALREADY_CAPTURED", "Authorization has previously been captured."
            )
        currency = auth["amount"]["currency_code"]
        amount = body.get("amount") or auth["amount"]
        if amount.get("currency_code") != currency:
            raise _unprocessable("CURRENCY_MISMATCH", "Currency does not match the authorization.")
        if not _value_ok(amount.get("value"), currency):
            raise _invalid("INVALID_PARAMETER_VALUE", "amount.value is not a valid amount.")
        if Decimal(amount["value"]) > Decimal(auth["amount"]["value"]):
            raise _unprocessable(
                "MAX_CAPTURE_AMOUNT_EXCEEDED",
                "Capture amount exceeds allowable limit.",
            )
        order_id = auth["supplementary_data"]["related_ids"]["order_id"]
        capture_id = _id()
        app.captures[capture_id] = {
            "id": capture_id,
            "status": "COMPLETED",
            "amount": {"currency_code": currency, "value": amount["value"]},
            "final_capture": bool(body.get("final_capture", True)),
            "custom_id": auth["custom_id"],
            "supplementary_data": {
                "related_ids": {"order_id": order_id, "authorization_id": auth_id}
            },
            "create_time": _now(),
            "links": self._links(app, "payments/captures", capture_id),
        }
        app.authorizations[auth_id] = {**auth, "status": "CAPTURED"}
        app.orders[order_id]["_captures"].append(capture_id)
        return dict(app.captures[capture_id])

    def _void(self, app: App, auth_id: str) -> None:
        auth = app.authorizations.get(auth_id)
        if auth is None:
            raise _not_found("authorization")
        if auth["status"] == "VOIDED":
            raise _unprocessable("PREVIOUSLY_VOIDED", "Authorization has been previously voided.")
        if auth["status"] != "CREATED":
            raise _unprocessable(
                "CANNOT_BE_VOIDED", "A reauthorization or captured authorization cannot be voided."
            )
        app.authorizations[auth_id] = {**auth, "status": "VOIDED"}

    def _refund(self, app: App, capture_id: str, body: dict) -> dict:
        capture = app.captures.get(capture_id)
        if capture is None:
            raise _not_found("capture")
        currency = capture["amount"]["currency_code"]
        order_id = capture["supplementary_data"]["related_ids"]["order_id"]
        order = app.orders[order_id]
        refunded = sum(
            Decimal(app.refunds[r]["amount"]["value"])
            for r in order["_refunds"]
            if app.refunds[r]["links"][1]["href"].endswith(capture_id)
        )
        remaining = Decimal(capture["amount"]["value"]) - refunded
        if remaining <= 0:
            raise _unprocessable(
                "CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded."
            )
        amount = body.get("amount") or {"currency_code": currency, "value": str(remaining)}
        if not _value_ok(amount.get("value"), currency) or amount.get("currency_code") != currency:
            raise _invalid("INVALID_PARAMETER_VALUE", "amount is not valid for this capture.")
        if Decimal(amount["value"]) > remaining:
            raise _unprocessable(
                "REFUND_AMOUNT_EXCEEDED",
                "The refund amount must be less than or equal to the capture amount that has "
                "not yet been refunded.",
            )
        refund_id = _id()
        base = self.base_url(app.environment)
        app.refunds[refund_id] = {
            "id": refund_id,
            "status": "COMPLETED",
            "amount": {"currency_code": currency, "value": amount["value"]},
            "custom_id": capture["custom_id"],
            "create_time": _now(),
            "links": [
                {"href": f"{base}/v2/payments/refunds/{refund_id}", "rel": "self", "method": "GET"},
                {"href": f"{base}/v2/payments/captures/{capture_id}", "rel": "up", "method": "GET"},
            ],
        }
        order["_refunds"].append(refund_id)
        fully = Decimal(amount["value"]) == remaining
        app.captures[capture_id] = {
            **capture,
            "status": "REFUNDED" if fully else "PARTIALLY_REFUNDED",
        }
        return dict(app.refunds[refund_id])

    def _verify(self, body: dict) -> str:
        required = (
            "auth_algo",
            "cert_url",
            "transmission_id",
            "transmission_sig",
            "transmission_time",
            "webhook_id",
            "webhook_event",
        )
        if any(not body.get(name) for name in required):
            raise _invalid("MISSING_REQUIRED_PARAMETER", "A required field is missing.")
        sent = self.transmissions.get(str(body["transmission_id"]))
        if sent is None or sent["event"] != body["webhook_event"]:
            return "FAILURE"
        message = (
            f"{body['transmission_id']}|{body['transmission_time']}|{body['webhook_id']}|"
            f"{zlib.crc32(json.dumps(sent['event']).encode())}"
        )
        expected = base64.b64encode(
            hmac.new(self.webhook_key, message.encode(), hashlib.sha256).digest()
        ).decode()
        ok = hmac.compare_digest(expected, str(body["transmission_sig"])) and (
            body["cert_url"] == CERT_URL and body["auth_algo"] == AUTH_ALGO
        )
        return "SUCCESS" if ok else "FAILURE"

    # --- the approval page --------------------------------------------------------------

    def approval(self, environment: str, method: str, form: dict) -> tuple[int, dict, str]:
        order_id = form.get("token", "")
        with self.lock:
            order = next(
                (
                    app.orders[order_id]
                    for (env, _), app in self.apps.items()
                    if env == environment and order_id in app.orders
                ),
                None,
            )
            if order is None:
                return 404, {}, "<p>This order does not exist.</p>"
            if method == "GET":
                value = html.escape(f"{order['value']} {order['currency']}")
                token = html.escape(order_id)
                return (
                    200,
                    {},
                    (
                        f"<h1>Pay with PayPal (stub)</h1><p>Amount: {value}</p>"
                        f'<form method="post"><input type="hidden" name="token" value="{token}">'
                        '<button name="decision" value="approve">Approve</button>'
                        '<button name="decision" value="cancel">Cancel</button></form>'
                    ),
                )
            if order["status"] not in ("PAYER_ACTION_REQUIRED", "CREATED", "APPROVED"):
                return 409, {}, "<p>This order is closed.</p>"
            if form.get("decision") == "approve":
                order["status"] = "APPROVED"
                order["payer_id"] = order.get("payer_id") or _id(13)
                target = order["return_url"]
                query = {"token": order_id, "PayerID": order["payer_id"]}
            else:
                target = order["cancel_url"]
                query = {"token": order_id}
        separator = "&" if "?" in target else "?"
        return 303, {"Location": f"{target}{separator}{urlencode(query)}"}, ""


class _Handler(BaseHTTPRequestHandler):
    stub: PayPalStub

    def log_message(self, *args) -> None:  # quiet in tests
        pass

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        environment, _, rest = url.path.strip("/").partition("/")
        if rest == "checkoutnow":
            form = dict(parse_qsl(url.query if method == "GET" else raw))
            return self._page(*self.stub.approval(environment, method, form))
        auth = self.headers.get("Authorization", "")
        if rest == "v1/oauth2/token":
            body = dict(parse_qsl(raw))
            if body.get("grant_type") != "client_credentials":
                return self._json(400, {"error": "unsupported_grant_type"})
        else:
            if (
                method == "POST"
                and raw
                and not self.headers.get("Content-Type", "").startswith("application/json")
            ):
                return self._json(415, {"name": "UNSUPPORTED_MEDIA_TYPE", "message": "JSON only"})
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                return self._json(
                    400,
                    _invalid("MALFORMED_REQUEST_JSON", "The request JSON is not well formed.").body,
                )
        request_id = self.headers.get("PayPal-Request-Id")
        self.stub.requests.append(
            {
                "method": method,
                "path": url.path,
                "environment": environment,
                "body": body,
                "raw": raw,
                "request_id": request_id,
                "authorization": auth[:6],
            }
        )
        status, answer = self.stub.handle(method, url.path, body, auth, request_id)
        if status is None:
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        return self._json(status, answer)

    def _json(self, status: int, body: dict) -> None:
        data = b"" if status == 204 else json.dumps(body).encode()
        try:
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Paypal-Debug-Id", secrets.token_hex(7))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a scripted timeout)

    def _page(self, status: int, headers: dict, text: str) -> None:
        data = f"<!doctype html><html lang=en><title>PayPal (stub)</title>{text}".encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")
