"""Reading CentralPay-style requests: bodies by their content, the breakdown strings, dates.

CentralPay integrations send form fields, and they send them carelessly: a PHP client sets
``Content-Type: application/json`` over a multipart body (curl keeps the boundary out of the
header), a Java client writes ``{amount:1000, email:a@b.c}`` with nothing quoted, another
posts ``breakdown[]={}`` next to flat ``breakdown[email]`` fields. Everything here turns such a
request into the body our own creation endpoint takes (``/api/v1/payment-requests``), so that
the same serializer and the same service decide; nothing here knows a business rule. What
cannot be read is an ``ApiError`` naming the CentralPay field, never an exception that
escapes as a 500.
"""

import io
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from pushpay.api.errors import ApiError
from pushpay.errors import InvalidInput
from pushpay.i18n import is_supported_language
from pushpay.jsonlimits import JsonRefused, check_json_value, loads_bounded

from ..services import validate_return_url

Pairs = list[tuple[str, str]]

# A breakdown string is one participant: a few short fields. Anything longer is not one.
MAX_BREAKDOWN_LENGTH = 10_000
TRANSACTION, SUBSCRIPTION = "TRANSACTION", "SUBSCRIPTION"
PAYMENT_METHODS = (TRANSACTION, SUBSCRIPTION)
# CentralPay's subscription[...] settings and the names our installment settings use.
SUBSCRIPTION_FIELDS = {
    "iterationCount": "count",
    "intervalUnit": "interval_unit",
    "intervalCount": "interval_count",
    "depositAmount": "deposit_amount",
    "feeAmount": "fee_amount",
}
# Where a CentralPay client's payer goes after paying or leaving: our return and cancel URLs.
URL_FIELDS = {"urlRedirect": "return_url", "urlOnCanceled": "cancel_url"}
# Our creation fields and the CentralPay fields they come from, to name the right one in an
# error raised by the serializer or the service.
_OUR_FIELDS = {
    "reference": "merchantPaymentRequestId",
    "total_amount": "totalAmount",
    "currency": "currency",
    "description": "description",
    "deadline": "deadline",
    "expires_at": "linkExpirationDate",
    "language": "endUserLanguage",
    "form": "paymentFormTemplateId",
    "scenario": "scenarioId",
    "return_url": "urlRedirect",
    "cancel_url": "urlOnCanceled",
    "participants": "breakdown",
    "split": "breakdown",
    "metadata": "breakdown",
    "allowed_payment_methods": "paymentMethod",
    "amount_mode": "totalAmount",
}
_PARTICIPANT_FIELDS = {"name": "firstName", "language": "endUserLanguage"}
_PARTICIPANT_PATH = re.compile(r"^participants\[(\d+)\](?:\.(\w+))?$")

_BOUNDARY_LINE = re.compile(rb"\A--([0-9A-Za-z'()+_,\-./:=?]{1,70})[ \t]*\r?\n")
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_INTEGER = re.compile(r"^[+-]?\d{1,20}$")
_SPACED_OFFSET = re.compile(r"(:\d{2}(?:[.,]\d+)?) (\d{2}(?::?\d{2})?)$")
_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,12}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


def invalid(message: str, field: str | None, *, code: str = "invalid", status: int = 422):
    return ApiError(message, code=code, status_code=status, field=field)


# --- The body --------------------------------------------------------------------------------


def read_form(request: HttpRequest) -> Pairs:
    """The request's fields as (name, value) pairs, read from what the body is rather than
    from what its Content-Type says: a multipart body (its boundary taken from its first
    line when the header has none), a JSON object, or URL-encoded fields. An empty body is
    no fields (CentralPay's cancel is posted empty)."""
    try:
        body = request.body
    except RequestDataTooBig as exc:
        raise invalid(
            "The request body is larger than this server accepts.",
            None,
            code="request_too_large",
            status=413,
        ) from exc
    if not body.strip():
        return []
    if body.startswith(b"--"):
        pairs = _multipart(request, body)
    elif body.lstrip()[:1] in (b"{", b"["):
        pairs = _json_fields(body)
        if pairs is None:  # not JSON after all: a form whose first field starts with a brace
            pairs = _urlencoded(body)
    else:
        pairs = _urlencoded(body)
    for name, value in pairs:
        try:
            check_json_value([name, value])
        except JsonRefused as exc:
            raise invalid(exc.message, name, code="invalid_characters", status=400) from None
    return pairs


def _unreadable(detail: str) -> ApiError:
    return invalid(
        f"The form data in the request cannot be read: {detail}.",
        None,
        code="unreadable_form",
        status=400,
    )


def _multipart(request: HttpRequest, body: bytes) -> Pairs:
    match = _BOUNDARY_LINE.match(body)
    if match is None:
        raise _unreadable("a multipart body starts with its boundary line")
    meta = {
        "CONTENT_TYPE": f"multipart/form-data; boundary={match.group(1).decode('ascii')}",
        "CONTENT_LENGTH": str(len(body)),
    }
    try:
        fields, _files = MultiPartParser(
            meta, io.BytesIO(body), request.upload_handlers, "utf-8"
        ).parse()
    except TooManyFieldsSent as exc:
        raise invalid(str(exc), None, code="too_many_fields", status=400) from None
    except RequestDataTooBig as exc:
        raise invalid(str(exc), None, code="request_too_large", status=413) from None
    except (MultiPartParserError, SuspiciousOperation, UnicodeDecodeError, ValueError) as exc:
        raise _unreadable(str(exc) or "malformed multipart") from None
    # Uploaded files are no CentralPay field: they are left unread.
    return [(name, value) for name, values in fields.lists() for value in values]


def _urlencoded(body: bytes) -> Pairs:
    try:
        text = body.decode("utf-8")
        return parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
        )
    except UnicodeDecodeError:
        raise _unreadable("the fields are not UTF-8 text") from None
    except ValueError as exc:  # more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS
        raise invalid(str(exc), None, code="too_many_fields", status=400) from None


def _json_fields(body: bytes) -> Pairs | None:
    """A real JSON object, flattened to the same fields a form gives: a list becomes repeated
    ``name[]`` fields (objects in it as JSON strings, like breakdown strings), an object
    becomes ``name[key]`` fields. None when the body is not JSON at all."""
    try:
        value = loads_bounded(body.decode("utf-8"))
    except JsonRefused as exc:
        raise invalid(exc.message, None, code="parse_error", status=400) from None
    except ValueError:
        return None
    if not isinstance(value, dict):
        raise invalid(
            "A JSON body must be an object of fields.", None, code="parse_error", status=400
        )
    pairs: Pairs = []
    for name, item in value.items():
        if isinstance(item, list):
            pairs.extend((f"{name}[]", _scalar_text(element)) for element in item)
        elif isinstance(item, dict):
            pairs.extend((f"{name}[{key}]", _scalar_text(sub)) for key, sub in item.items())
        else:
            pairs.append((name, _scalar_text(item)))
        if len(pairs) > settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:
            raise invalid("The body has too many fields.", None, code="too_many_fields", status=400)
    return pairs


def _scalar_text(value) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- Field names -----------------------------------------------------------------------------


@dataclass
class Form:
    """The fields by their base name: ``breakdown[0][email]`` is under ``breakdown`` with the
    path ``("0", "email")``."""

    fields: dict[str, list[tuple[tuple[str, ...], str]]]

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> "Form":
        fields: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for name, value in pairs:
            match = _KEY.match(name.strip())
            if match is None:
                continue  # "a]b", "[x]": no CentralPay field looks like that
            path = tuple(part[1:-1].strip() for part in re.findall(r"\[[^\[\]]*\]", match[2]))
            fields.setdefault(match[1].strip(), []).append((path, value))
        return cls(fields)

    def scalar(self, name: str) -> str | None:
        """The field's last plain value (a later field wins, as in PHP), stripped."""
        values = [value for path, value in self.fields.get(name, []) if path in ((), ("",))]
        return values[-1].strip() if values else None

    def values(self, name: str) -> list[str]:
        return [value for path, value in self.fields.get(name, []) if path in ((), ("",))]

    def entries(self, name: str) -> list[tuple[tuple[str, ...], str]]:
        return self.fields.get(name, [])


# --- Values ----------------------------------------------------------------------------------


def minor_units(value, field: str, *, minimum: int = 1) -> int:
    """An integer number of minor units, from a form's text or a JSON integer."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid(f"{field} must be an integer number of minor units.", field)
    text = str(value).strip()
    if not _INTEGER.match(text):
        raise invalid(
            f"{field} must be an integer number of minor units (cents): 1050 for 10.50, "
            f"not {text[:20]!r}.",
            field,
            code="invalid_integer",
        )
    number = int(text)
    if number < minimum:
        raise invalid(f"{field} must be at least {minimum}.", field, code="out_of_range")
    return number


def _boolean(value, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", "", "none", "null"):
        return False
    raise invalid(f"{field} must be true or false.", field)


def lenient_datetime(value: str, field: str, *, time_zone: str) -> datetime:
    """An ISO 8601 date and time as CentralPay clients write them: with or without fractional
    seconds (up to nanoseconds, kept to the microsecond), with ``Z``, ``+01:00`` or ``+0100``.
    Without an offset the merchant's time zone applies; a bare date means the end of that day.
    """
    # A "+" left unencoded in a form body arrives as a space: "…:00.123456 01:00".
    text = _SPACED_OFFSET.sub(r"\1+\2", value.strip())
    match = _DATETIME.match(text)
    if match is None:
        raise invalid(
            f"{field} must be an ISO 8601 date and time such as 2026-12-31T18:00:00.000000+01:00.",
            field,
            code="invalid_date",
        )
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        if hour is None:
            moment = datetime.combine(
                datetime(int(year), int(month), int(day), tzinfo=UTC), time(23, 59, 59)
            )
        else:
            micro = int((fraction or "0")[:6].ljust(6, "0"))
            moment = datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second or 0),
                micro,
                tzinfo=UTC,  # the wall-clock fields; the real offset is set below
            )
        if offset is None:
            try:
                zone = ZoneInfo(time_zone)
            except (ZoneInfoNotFoundError, ValueError):
                zone = ZoneInfo("UTC")
            moment = moment.replace(tzinfo=zone)
        elif offset in ("Z", "z"):
            moment = moment.replace(tzinfo=UTC)
        else:
            sign = -1 if offset[0] == "-" else 1
            digits = offset[1:].replace(":", "")
            delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
            moment = moment.replace(tzinfo=timezone(sign * delta))
        if not 1970 <= moment.year <= 9000:
            raise ValueError("year out of range")
        moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise invalid(
            f"{field} is not a valid date: {value[:40]!r}.", field, code="invalid_date"
        ) from None
    return moment


def _language(form: Form) -> str | None:
    """endUserLanguage, else the first language of browserAcceptLanguage that we speak; a
    language we do not speak falls back to the merchant's, as a browser's would."""
    candidates = [form.scalar("endUserLanguage") or ""]
    candidates += (form.scalar("browserAcceptLanguage") or "").split(",")
    for candidate in candidates:
        code = candidate.split(";")[0].strip().lower().replace("_", "-").split("-")[0]
        if is_supported_language(code):
            return code
    return None


# --- Breakdown strings -----------------------------------------------------------------------


def breakdown_object(text: str, field: str) -> dict:
    """One participant from a breakdown string, strict JSON or CentralPay's loose form
    (``{amount:1000, email:a@b.c}``: keys and values unquoted). Quoted values may hold
    commas and colons; unquoted ones end at the next comma. Nested values are refused."""
    text = text.strip()
    if not text:
        return {}
    if len(text) > MAX_BREAKDOWN_LENGTH:
        raise invalid(f"{field} is longer than {MAX_BREAKDOWN_LENGTH} characters.", field)
    try:
        value = loads_bounded(text)
    except JsonRefused as exc:
        raise invalid(exc.message, field, code="invalid_breakdown") from None
    except ValueError:
        return _loose_object(text, field)
    if not isinstance(value, dict):
        raise invalid(
            f'{field} must be an object such as {{"amount":1000,"email":"a@b.c"}}.',
            field,
            code="invalid_breakdown",
        )
    return value


def _loose_object(text: str, field: str) -> dict:
    if not (text.startswith("{") and text.endswith("}")):
        raise invalid(
            f"{field} must be an object such as {{amount:1000, email:a@b.c}}.",
            field,
            code="invalid_breakdown",
        )
    found: dict = {}
    for item in _split_top_level(text[1:-1], ",", field):
        if not item.strip():
            continue  # a trailing comma
        parts = _split_top_level(item, ":", field, limit=1)
        if len(parts) != 2:
            raise invalid(
                f"{field}: {item.strip()[:40]!r} is not a key: value pair.",
                field,
                code="invalid_breakdown",
            )
        key = _loose_scalar(parts[0], field)
        if not isinstance(key, str) or not key:
            raise invalid(f"{field}: a key must be a name.", field, code="invalid_breakdown")
        found[key] = _loose_scalar(parts[1], field)
    return found


def _split_top_level(text: str, separator: str, field: str, limit: int = -1) -> list[str]:
    parts, current, quote, escaped = [], [], None, False
    for char in text:
        if quote:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
            continue
        if char in "\"'":
            quote = char
        elif char in "{}[]":
            raise invalid(
                f"{field}: nested objects and lists are not breakdown values.",
                field,
                code="invalid_breakdown",
            )
        elif char == separator and limit != 0:
            parts.append("".join(current))
            current = []
            limit -= 1
            continue
        current.append(char)
    if quote:
        raise invalid(f"{field}: a quoted value is not closed.", field, code="invalid_breakdown")
    parts.append("".join(current))
    return parts


def _loose_scalar(raw: str, field: str):
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        inner = text[1:-1]
        if text[0] == '"':
            try:
                return json.loads(text)
            except ValueError:
                return inner
        return inner.replace("\\'", "'")
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    # A leading zero is text (a phone number, "0612345678"), not a number.
    if re.fullmatch(r"-?(?:0|[1-9]\d{0,19})", text):
        return int(text)
    return text


# --- The creation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateInput:
    """What a CentralPay creation asks for: ``body`` is the body of our own creation
    endpoint; ``installments`` our installment settings when SUBSCRIPTION was asked."""

    body: dict
    installments: dict | None


def _participant(raw: Mapping, index: int) -> tuple[dict, int, bool]:
    """Our participant from one breakdown, with the length of its first name in ``name``
    (-1: no name was given) and whether it is the initiator."""
    field = f"breakdown[{index}]"
    by_key = {str(key).lower(): value for key, value in raw.items()}
    text = {}
    for key in ("email", "phone", "firstname", "lastname"):
        value = by_key.get(key)
        if isinstance(value, dict | list):
            raise invalid(f"{field}.{key} must be text.", f"{field}.{key}")
        text[key] = "" if value is None else str(value).strip()
    first, last = text["firstname"], text["lastname"]
    name = " ".join(part for part in (first, last) if part)
    participant = {
        "name": name or text["email"] or text["phone"] or f"Payer {index + 1}",
        "email": text["email"],
        "phone": text["phone"],
    }
    if by_key.get("amount") not in (None, ""):
        participant["amount"] = minor_units(by_key["amount"], f"{field}.amount")
    initiator = _boolean(by_key.get("initiator", False), f"{field}.initiator")
    return participant, (len(first) if name else -1), initiator


def _breakdowns(form: Form) -> list[dict]:
    """The breakdowns in the order given: JSON strings (``breakdown[]``, ``breakdown[3]``),
    indexed fields (``breakdown[0][email]``) after them, and flat fields (``breakdown[email]``)
    merged into the only breakdown, or making it."""
    strings: list[dict] = []
    indexed: dict[int, dict] = {}
    flat: dict = {}
    for path, value in form.entries("breakdown"):
        if path in ((), ("",)) or (len(path) == 1 and path[0].isdigit()):
            strings.append(breakdown_object(value, f"breakdown[{len(strings)}]"))
        elif len(path) == 2 and path[0].isdigit() and len(path[0]) <= 4:
            indexed.setdefault(int(path[0]), {})[path[1]] = value
        elif len(path) == 1:
            flat[path[0]] = value
    found = strings + [indexed[key] for key in sorted(indexed)]
    if flat:
        if len(found) > 1:
            raise invalid(
                "breakdown[email], breakdown[amount], … describe a single participant; with "
                "several, send one breakdown[] string each.",
                "breakdown",
                code="ambiguous_breakdown",
            )
        found = [{**(found[0] if found else {}), **flat}]
    return found


def payment_methods(form: Form) -> list[str]:
    given = [value.strip().upper() for value in form.values("paymentMethod") if value.strip()]
    for value in given:
        if value not in PAYMENT_METHODS:
            raise invalid(
                f"paymentMethod is {' or '.join(PAYMENT_METHODS)}, not {value[:30]!r}.",
                "paymentMethod",
                code="invalid_choice",
            )
    return list(dict.fromkeys(given)) or [TRANSACTION]


def installments_from_subscription(subscription: Mapping[str, str]) -> dict:
    """CentralPay's ``subscription[...]`` settings as our installment settings
    (``count``, ``interval_unit``, ``interval_count``, ``deposit_amount``, ``fee_amount``):
    the one place the two vocabularies meet. A CentralPay subscription model is an object of
    theirs we do not have: the plan is described by its settings instead."""
    if subscription.get("subscriptionModelId"):
        raise invalid(
            "Subscription models are CentralPay objects; describe the plan with "
            "subscription[intervalUnit], subscription[intervalCount] and "
            "subscription[iterationCount] instead.",
            "subscription[subscriptionModelId]",
            code="unsupported_field",
        )
    for required in ("iterationCount", "intervalUnit"):
        if not (subscription.get(required) or "").strip():
            raise invalid(
                f"subscription[{required}] is required with paymentMethod SUBSCRIPTION.",
                f"subscription[{required}]",
                code="required",
            )
    settings_ = {"interval_unit": subscription["intervalUnit"].strip().lower()}
    defaults = {"intervalCount": "1", "depositAmount": "0", "feeAmount": "0"}
    for theirs, ours in SUBSCRIPTION_FIELDS.items():
        if ours == "interval_unit":
            continue
        raw = (subscription.get(theirs) or "").strip() or defaults.get(theirs, "")
        settings_[ours] = minor_units(raw, f"subscription[{theirs}]", minimum=0)
    return settings_


def subscription_field(field: str | None) -> str | None:
    """The CentralPay name of one of our installment fields, for an error about it."""
    theirs = {ours: name for name, ours in SUBSCRIPTION_FIELDS.items()}
    if field in theirs:
        return f"subscription[{theirs[field]}]"
    return {"amount": "totalAmount", "currency": "currency"}.get(field or "", "subscription")


def centralpay_field(field: str | None) -> str | None:
    """The CentralPay name of a field of our creation body (``participants[1].email`` is
    ``breakdown[1].email``), for errors the serializer or the service raise."""
    if not field:
        return field
    match = _PARTICIPANT_PATH.match(field)
    if match:
        index, sub = match.groups()
        if sub is None:
            return f"breakdown[{index}]"
        return f"breakdown[{index}].{_PARTICIPANT_FIELDS.get(sub, sub)}"
    return _OUR_FIELDS.get(field, field)


def _return_url(form: Form, query: Mapping[str, str], name: str) -> str:
    """urlRedirect / urlOnCanceled from the body or the query string: honoured when it is an
    address we may send a payer to, ignored (never refused) otherwise, as CentralPay
    clients send them on every call whatever they hold."""
    value = form.scalar(name) or (query.get(name) or "").strip()
    try:
        return validate_return_url(value, URL_FIELDS[name])
    except InvalidInput:
        return ""


def payment_request_input(
    pairs: Pairs, *, query: Mapping[str, str], default_currency: str, time_zone: str
) -> CreateInput:
    """The body of our creation endpoint for a CentralPay ``POST /paymentRequest``."""
    form = Form.of(pairs)
    total_raw = form.scalar("totalAmount")
    if not total_raw:
        raise invalid("totalAmount is required.", "totalAmount", code="required")
    total = minor_units(total_raw, "totalAmount")
    currency = (form.scalar("currency") or default_currency).upper()
    methods = payment_methods(form)

    rows = [_participant(raw, index) for index, raw in enumerate(_breakdowns(form))]
    if not rows:
        raise invalid(
            "At least one breakdown[] is required: the participants who pay.",
            "breakdown",
            code="required",
        )
    participants = [row[0] for row in rows]
    body: dict = {
        "reference": form.scalar("merchantPaymentRequestId")
        or f"centralpay-{secrets.token_hex(8)}",
        "currency": currency,
        "total_amount": total,
        "description": form.scalar("description") or "",
        "participants": participants,
        "return_url": _return_url(form, query, "urlRedirect"),
        "cancel_url": _return_url(form, query, "urlOnCanceled"),
    }
    if all("amount" not in participant for participant in participants):
        body["split"] = "equal"
    for theirs, ours in (("deadline", "deadline"), ("linkExpirationDate", "expires_at")):
        value = form.scalar(theirs)
        if value:
            body[ours] = lenient_datetime(value, theirs, time_zone=time_zone).isoformat()
    language = _language(form)
    if language:
        body["language"] = language
    for theirs, ours in (("paymentFormTemplateId", "form"), ("scenarioId", "scenario")):
        value = form.scalar(theirs)
        if value:
            body[ours] = value
    initiators = [index for index, row in enumerate(rows) if row[2]]
    # Echoed back as firstName / lastName / initiator; metadata is not a CentralPay field.
    body["metadata"] = {
        "centralpay": {
            "first_name_lengths": [row[1] for row in rows],
            "initiator": initiators[0] if initiators else None,
        }
    }

    installments = None
    if SUBSCRIPTION in methods:
        subscription = {
            path[0]: value for path, value in form.entries("subscription") if len(path) == 1
        }
        installments = installments_from_subscription(subscription)
        # SUBSCRIPTION alone: the payer must take the plan; with TRANSACTION too, they choose.
        installments["pay_at_once_allowed"] = TRANSACTION in methods
    return CreateInput(body=body, installments=installments)


def requested_format(pairs: Pairs) -> str:
    """The QR code's format: PNG, CentralPay's default and the only one we draw."""
    value = (Form.of(pairs).scalar("format") or "PNG").upper()
    if value != "PNG":
        raise invalid(f"format must be PNG, not {value[:20]!r}.", "format", code="invalid_choice")
    return value


__all__ = [
    "CreateInput",
    "Form",
    "breakdown_object",
    "centralpay_field",
    "installments_from_subscription",
    "lenient_datetime",
    "payment_request_input",
    "read_form",
    "requested_format",
    "subscription_field",
]
