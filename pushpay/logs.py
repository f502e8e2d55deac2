"""Log lines an operator can search: one JSON object per line, carrying the request id.

The request id is bound for the life of a request (``pushpay.request_id``) and travels with
every django-q2 task enqueued while it is bound, so the lines of a request and of the tasks it
started share one id (``request_id``) across web and worker machines. The merchant is added
when the request has one: an API key's merchant, or the back office's current merchant.
"""

import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils.functional import SimpleLazyObject


@dataclass
class LogContext:
    """What every log line of the current request or task says about where it comes from.

    ``request`` is kept (not the merchant itself) because the merchant is only known once
    authentication has run, well after the request id was bound.
    """

    request_id: str
    merchant: str | None = None
    request: Any = None
    task: str | None = None

    def merchant_id(self) -> str | None:
        if self.merchant:
            return self.merchant
        return _merchant_of(self.request)


_context: ContextVar[LogContext | None] = ContextVar("pushpay_log_context", default=None)


def current() -> LogContext | None:
    return _context.get()


def bind(context: LogContext | None):
    """Bind ``context`` for the current thread or task; returns the token for ``unbind``."""
    return _context.set(context)


def unbind(token) -> None:
    _context.reset(token)


def _merchant_of(request: Any) -> str | None:
    """The request's merchant public id, without ever querying the database from a log call.

    A session user is a lazy object that would load itself (a query, possibly logged in
    turn); only attributes already set are read: the back office's ``request.merchant`` and
    an API key's principal (loaded with its merchant by the authentication).
    """
    if request is None:
        return None
    attributes = vars(request)
    merchant = attributes.get("merchant")
    if merchant is None:
        user = attributes.get("user")
        if user is not None and not isinstance(user, SimpleLazyObject):
            api_key = getattr(user, "api_key", None)
            if api_key is not None and "merchant" in api_key._state.fields_cache:
                merchant = api_key.merchant
    return getattr(merchant, "public_id", None)


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``merchant`` and ``task`` to every record (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        record.request_id = context.request_id if context else None
        record.merchant = context.merchant_id() if context else None
        record.task = context.task if context else None
        record.request_id_or_dash = record.request_id or "-"  # for the text format
        return True


# Attributes every LogRecord has; anything else on a record was passed with ``extra=``.
_STANDARD = set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "request_id_or_dash",
    "merchant",
    "task",
}
# Objects Django passes as extras whose text would put a payer link (a bearer secret) or a
# whole request into the logs.
_DROPPED_EXTRAS = {"request", "server_time"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, merchant, task,
    then the record's scalar extras and, on errors, the traceback as one string."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "merchant": getattr(record, "merchant", None),
        }
        task = getattr(record, "task", None)
        if task:
            entry["task"] = task
        for key, value in vars(record).items():
            if key in _STANDARD or key in _DROPPED_EXTRAS or key.startswith("_"):
                continue
            if value is None or isinstance(value, str | int | float | bool):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
