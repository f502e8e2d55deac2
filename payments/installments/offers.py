"""The installment plans a merchant offers on a request or one participant's share.

An offer is the preview's settings (``count``, ``interval_unit``, ``interval_count``,
``start_date``, ``deposit_amount``, ``deposit_date``, ``fee_amount``) plus
``pay_at_once_allowed``: whether the payer may still pay the whole share in one go.
``installment_offer_parse`` is the one place that reads such settings from a dict (the
request API, the batch API, any compatible API calling it) and checks them with
``schedule_build``'s own rules against the share they spread, so an offer that is stored
can be started on the day it was made. It returns the normalised, JSON-storable form that
requests_app keeps on the request or participant (requests_app reaches this module through
``requests_app.ports.installment_offers``, registered in ``payments.apps``).

Dates are kept as given: an offer with a ``start_date`` or ``deposit_date`` that has passed
by the time the payer comes is no longer offered (``installment_offer_schedule`` says so);
an offer without dates starts on the day the payer pays.
"""

from dataclasses import dataclass
from datetime import date

from pushpay.errors import InvalidInput

from .schedule import Schedule, schedule_build

SETTINGS = (
    "count",
    "interval_unit",
    "interval_count",
    "start_date",
    "deposit_amount",
    "deposit_date",
    "fee_amount",
)
PAY_AT_ONCE = "pay_at_once_allowed"
FIELDS = (*SETTINGS, PAY_AT_ONCE)
DATE_FIELDS = ("start_date", "deposit_date")


class MalformedOffer(InvalidInput):
    """The settings are not an object, or carry a key nobody knows: the shape is wrong (400),
    as an unknown key anywhere else in the API is."""

    http_status = 400


@dataclass(frozen=True)
class InstallmentOffer:
    """A stored offer, read back."""

    count: int
    interval_unit: str
    interval_count: int
    start_date: date | None
    deposit_amount: int
    deposit_date: date | None
    fee_amount: int
    pay_at_once_allowed: bool

    @classmethod
    def from_stored(cls, data: dict) -> "InstallmentOffer":
        return cls(
            count=data["count"],
            interval_unit=data["interval_unit"],
            interval_count=data.get("interval_count", 1),
            start_date=_date_or_none(data.get("start_date")),
            deposit_amount=data.get("deposit_amount", 0),
            deposit_date=_date_or_none(data.get("deposit_date")),
            fee_amount=data.get("fee_amount", 0),
            pay_at_once_allowed=data.get(PAY_AT_ONCE, True),
        )

    def plan_settings(self) -> dict:
        """The keyword arguments ``installment_plan_start`` and ``schedule_build`` take."""
        return {
            "count": self.count,
            "interval_unit": self.interval_unit,
            "interval_count": self.interval_count,
            "start_date": self.start_date,
            "deposit_amount": self.deposit_amount,
            "deposit_date": self.deposit_date,
            "fee_amount": self.fee_amount,
        }


def _date_or_none(value) -> date | None:
    return date.fromisoformat(value) if value else None


def _date(value, field: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput("Give a date as YYYY-MM-DD.", code="invalid_date", field=field)


def installment_offer_parse(
    data,
    *,
    amount: int | None,
    currency: str,
    today: date,
    field: str = "installments",
) -> dict | None:
    """Read and check an offer; return it normalised for storage (None: no offer).

    ``amount`` is the share the plan would spread (None: a free-amount share, which cannot
    be spread). Every refusal names its field under ``field``
    (``participants[1].installments.count``).
    """
    if data is None:
        return None
    if not isinstance(data, dict):
        raise MalformedOffer(
            "installments is an object of plan settings.", code="not_an_object", field=field
        )
    unknown = sorted(str(key) for key in data if key not in FIELDS)
    if unknown:
        raise MalformedOffer(
            f"Unknown field '{unknown[0]}'.", code="unknown_field", field=f"{field}.{unknown[0]}"
        )
    if amount is None:
        raise InvalidInput(
            "Installments spread a fixed share; a free-amount payer cannot be offered a plan.",
            code="installments_need_a_share",
            field=field,
        )
    pay_at_once = data.get(PAY_AT_ONCE, True)
    if not isinstance(pay_at_once, bool):
        raise InvalidInput(
            f"{PAY_AT_ONCE} is true or false.",
            code="invalid_boolean",
            field=f"{field}.{PAY_AT_ONCE}",
        )
    if "count" not in data or "interval_unit" not in data:
        missing = "count" if "count" not in data else "interval_unit"
        raise InvalidInput(f"{missing} is required.", code="required", field=f"{field}.{missing}")
    settings = {
        "count": data["count"],
        "interval_unit": data["interval_unit"],
        "interval_count": data.get("interval_count", 1),
        "start_date": _date(data.get("start_date"), f"{field}.start_date"),
        "deposit_amount": data.get("deposit_amount", 0),
        "deposit_date": _date(data.get("deposit_date"), f"{field}.deposit_date"),
        "fee_amount": data.get("fee_amount", 0),
    }
    for key in ("interval_count", "deposit_amount", "fee_amount"):
        if settings[key] is None:  # null means the default, as leaving it out does
            settings[key] = 1 if key == "interval_count" else 0
    try:
        schedule_build(amount=amount, currency=currency, today=today, **settings)
    except InvalidInput as exc:
        # schedule_build names its own argument; the caller sees where it sits in the body.
        inner = f"{field}.{exc.field}" if exc.field in FIELDS else field
        raise InvalidInput(exc.message, code=exc.code, field=inner) from exc
    return {
        **settings,
        "start_date": settings["start_date"].isoformat() if settings["start_date"] else None,
        "deposit_date": settings["deposit_date"].isoformat() if settings["deposit_date"] else None,
        PAY_AT_ONCE: pay_at_once,
    }


def installment_offer_schedule(
    offer: InstallmentOffer, *, amount: int, currency: str, today: date
) -> Schedule | None:
    """The exact schedule the payer would get today, or None when the offer no longer fits
    (its dates have passed, or what is left of the share is too small to spread)."""
    try:
        return schedule_build(
            amount=amount, currency=currency, today=today, **offer.plan_settings()
        )
    except InvalidInput:
        return None
