"""The exact schedule of a plan: what is charged on which date.

The schedule always sums to amount + fee, to the minor unit. CentralPay's rule is kept on
purpose, since merchants leaving CentralPay know it: the fee and any rounding remainder go
on the first installment after the deposit (1,000.00 in 3 with a 200.00 deposit and a 10.00
fee: 200.00, then 276.68, 266.66, 266.66). The count never includes the deposit.

Dates step from the first installment's date (never from the previous step), so month steps
clamp to the end of shorter months without drifting: 31 January, 28 February, 31 March.
"""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

from pushpay.errors import InvalidInput
from pushpay.money import is_currency

MIN_COUNT, MAX_COUNT = 2, 12
MAX_AMOUNT = 10**13
# The longest step per unit: a plan should end within about a year or two.
MAX_INTERVAL = {"day": 90, "week": 12, "month": 12}
INTERVAL_UNITS = tuple(MAX_INTERVAL)


@dataclass(frozen=True)
class ScheduleLine:
    due_date: date
    amount: int

    def as_dict(self) -> dict:
        return {"due_date": self.due_date.isoformat(), "amount": self.amount}


@dataclass(frozen=True)
class Schedule:
    deposit: ScheduleLine | None
    installments: tuple[ScheduleLine, ...]
    currency: str
    fee_amount: int

    @property
    def total(self) -> int:
        return (self.deposit.amount if self.deposit else 0) + sum(
            line.amount for line in self.installments
        )

    def as_dict(self) -> dict:
        return {
            "deposit": self.deposit.as_dict() if self.deposit else None,
            "installments": [item.as_dict() for item in self.installments],
            "total": self.total,
            "currency": self.currency,
            "fee_amount": self.fee_amount,
        }


def add_interval(start: date, unit: str, steps: int) -> date:
    """``start`` moved ``steps`` units on; a month step lands on the same day of the month,
    or on the month's last day when it is shorter."""
    if unit == "day":
        return start + timedelta(days=steps)
    if unit == "week":
        return start + timedelta(weeks=steps)
    month_index = start.month - 1 + steps
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _integer(value, field: str, *, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be an integer.", code="invalid_integer", field=field)
    if not minimum <= value <= maximum:
        raise InvalidInput(
            f"{field} must be between {minimum} and {maximum}.", code="out_of_range", field=field
        )
    return value


def schedule_build(
    *,
    amount: int,
    currency: str,
    count: int,
    interval_unit: str,
    interval_count: int = 1,
    start_date: date | None = None,
    deposit_amount: int = 0,
    deposit_date: date | None = None,
    fee_amount: int = 0,
    today: date | None = None,
) -> Schedule:
    """The schedule of ``amount`` (+ ``fee_amount``) in ``count`` installments after an
    optional deposit.

    Without a deposit the first installment is due on ``start_date`` (default today) and
    is taken at checkout. With one, the deposit is due on ``deposit_date`` (default today)
    and the first installment one interval later unless ``start_date`` says otherwise.
    """
    today = today or timezone.localdate()
    if not isinstance(currency, str) or not is_currency(currency):
        raise InvalidInput("Unknown currency.", code="unknown_currency", field="currency")
    amount = _integer(amount, "amount", minimum=1, maximum=MAX_AMOUNT)
    count = _integer(count, "count", minimum=MIN_COUNT, maximum=MAX_COUNT)
    if interval_unit not in MAX_INTERVAL:
        raise InvalidInput(
            f"interval_unit is one of {', '.join(INTERVAL_UNITS)}.",
            code="invalid_choice",
            field="interval_unit",
        )
    interval_count = _integer(
        interval_count, "interval_count", minimum=1, maximum=MAX_INTERVAL[interval_unit]
    )
    deposit_amount = _integer(deposit_amount, "deposit_amount", minimum=0, maximum=amount - 1)
    fee_amount = _integer(fee_amount, "fee_amount", minimum=0, maximum=amount)
    rest = amount - deposit_amount
    if rest < count:
        raise InvalidInput(
            "Each installment must be at least one minor unit.",
            code="installment_too_small",
            field="count",
        )
    if deposit_amount:
        deposit_date = deposit_date or today
        start_date = start_date or add_interval(deposit_date, interval_unit, interval_count)
        if start_date <= deposit_date:
            raise InvalidInput(
                "The first installment comes after the deposit.",
                code="start_before_deposit",
                field="start_date",
            )
    else:
        if deposit_date is not None:
            raise InvalidInput(
                "A deposit date needs a deposit amount.",
                code="deposit_date_without_deposit",
                field="deposit_date",
            )
        start_date = start_date or today
    first_due = deposit_date if deposit_amount else start_date
    if first_due < today:
        raise InvalidInput(
            "The schedule cannot start in the past.",
            code="date_in_past",
            field="deposit_date" if deposit_amount else "start_date",
        )
    base, remainder = divmod(rest, count)
    installments = tuple(
        ScheduleLine(
            due_date=add_interval(start_date, interval_unit, index * interval_count),
            amount=base + (remainder + fee_amount if index == 0 else 0),
        )
        for index in range(count)
    )
    deposit = ScheduleLine(due_date=deposit_date, amount=deposit_amount) if deposit_amount else None
    return Schedule(
        deposit=deposit, installments=installments, currency=currency, fee_amount=fee_amount
    )
