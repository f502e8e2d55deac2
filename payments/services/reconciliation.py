"""Reconciliation ("lettrage"): tying every leg that moved money to its request.

- **Fee rules** per merchant and method (fixed minor units + basis points, half-up to the
  minor unit); a fee the provider reports on the capture wins (``selectors.leg_fee``).
- **A request's statement**, written when the request is final (paid, closed, refunded,
  or cancelled with money taken) by an in-transaction reaction, so the statement, its
  ``reconciliation_ready`` event and the merchant's email commit with the change that made
  the request final, or not at all. Rows are versions: a later refund writes version 2 (a
  new event, a new email); a reaction that finds nothing changed writes nothing, so a
  replayed event never announces twice.
- **The daily CSV** per merchant and mode: every capture and refund of one day in the
  merchant's time zone, built by a schedule; building a day again replaces its row.
"""

import csv
import io
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Max, Min
from django.utils import timezone

from merchants.models import Merchant
from pushpay.errors import InvalidInput
from requests_app.events import event_record
from requests_app.locks import lock_request
from requests_app.models import PaymentRequest, RequestEvent

from ..adapters.base import PaymentStatus
from ..models import Leg, LegOperation
from ..reconciliation_models import (
    BASIS_POINTS,
    DailyReconciliation,
    FeeRule,
    Reconciliation,
)
from ..reconciliation_outbox import reconciliation_plan
from ..registry import payment_method_get
from ..selectors import (
    FINAL_STATUSES,
    fee_rules_by_method,
    leg_capture_operation,
    leg_fee,
    reconciliation_latest,
    reconciliation_methods,
    reconciliation_statement,
)

# Far above any real fee, far below what a 64-bit column holds.
MAX_FIXED_FEE = 10**9


def _whole_number(value: object, *, field: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise InvalidInput(
            f"Must be a whole number from 0 to {maximum}.", code="invalid_fee", field=field
        )
    return value


@transaction.atomic
def fee_rule_set(*, merchant: Merchant, method: str, fixed_fee: int, percent_bp: int) -> FeeRule:
    """Say what the provider takes for ``method``: ``fixed_fee`` minor units plus
    ``percent_bp`` basis points of each captured leg (25 + 1.40 % is 25 and 140)."""
    payment_method_get(method)
    rule, _ = FeeRule.objects.update_or_create(
        merchant=merchant,
        method=method,
        defaults={
            "fixed_fee": _whole_number(fixed_fee, field="fixed_fee", maximum=MAX_FIXED_FEE),
            "percent_bp": _whole_number(percent_bp, field="percent_bp", maximum=BASIS_POINTS),
        },
    )
    return rule


def fee_rule_remove(*, merchant: Merchant, method: str) -> bool:
    deleted, _ = FeeRule.objects.filter(merchant=merchant, method=method).delete()
    return bool(deleted)


def reconciliation_refresh(*, payment_request: PaymentRequest) -> Reconciliation | None:
    """Write the request's next statement if it is final and its money changed.

    Call inside the transaction that changed the request (the reaction does), with
    ``payment_request`` as that transaction holds it: its status may not be saved yet.
    Returns the new version, or None when there is nothing (new) to state.
    """
    if payment_request.status not in FINAL_STATUSES:
        return None
    with transaction.atomic():
        lock_request(payment_request.pk)
        latest = reconciliation_latest(payment_request=payment_request)
        frozen = (
            {line["leg"]: (line["fee"], line["fee_source"]) for line in latest.lines}
            if latest is not None
            else {}
        )
        statement = reconciliation_statement(payment_request=payment_request, frozen_fees=frozen)
        if not statement["lines"]:
            return None  # nothing was ever taken: nothing to reconcile
        if latest is not None and (latest.lines, latest.totals, latest.disputes) == (
            statement["lines"],
            statement["totals"],
            statement["disputes"],
        ):
            return None
        reconciliation = Reconciliation.objects.create(
            merchant_id=payment_request.merchant_id,
            livemode=payment_request.livemode,
            request=payment_request,
            version=(latest.version + 1) if latest is not None else 1,
            request_status=payment_request.status,
            currency=payment_request.currency,
            lines=statement["lines"],
            totals=statement["totals"],
            disputes=statement["disputes"],
        )
        event_record(
            type=RequestEvent.Type.RECONCILIATION_READY,
            payment_request=payment_request,
            payload={
                "reconciliation": reconciliation.public_id,
                "version": reconciliation.version,
                "status": payment_request.status,
                "currency": reconciliation.currency,
                "totals": reconciliation.totals,
            },
        )
        reconciliation_plan(reconciliation=reconciliation, merchant=payment_request.merchant)
        return reconciliation


# Requests changed this recently are looked at again by the hourly catch-up.
CATCH_UP_WINDOW = timedelta(days=3)
CATCH_UP_TYPES = (
    RequestEvent.Type.REQUEST_COMPLETED,
    RequestEvent.Type.REQUEST_EXPIRED,
    RequestEvent.Type.REQUEST_CANCELLED,
    RequestEvent.Type.PAYMENT_REFUNDED,
    RequestEvent.Type.DISPUTE_CREATED,
    RequestEvent.Type.DISPUTE_UPDATED,
    RequestEvent.Type.DISPUTE_CLOSED,
)


def reconciliations_catch_up(*, now: datetime | None = None, limit: int = 500) -> int:
    """Write the statements a failed reaction left unwritten: every final request changed
    lately gets ``reconciliation_refresh`` (which writes nothing when its statement is
    current); returns how many new versions were written."""
    since = (now or timezone.now()) - CATCH_UP_WINDOW
    # Through the events' created_at index: the requests a trigger touched lately.
    touched = RequestEvent.objects.filter(created_at__gte=since, type__in=CATCH_UP_TYPES)
    pks = list(
        PaymentRequest.objects.filter(
            pk__in=touched.values("request_id"), status__in=FINAL_STATUSES
        )
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    written = 0
    for pk in pks:
        with transaction.atomic():
            written += reconciliation_refresh(payment_request=lock_request(pk)) is not None
    return written


# --- CSV --------------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula is defused with a leading quote
    (CSV injection); numbers we computed ourselves are written as they are."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv(header: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return out.getvalue()


REQUEST_CSV_HEADER = [
    "row",
    "request",
    "reference",
    "leg",
    "participant",
    "method",
    "provider_reference",
    "operation_reference",
    "status",
    "currency",
    "amount",
    "refunded",
    "fee",
    "net",
]


def _sums(sums: dict) -> list[int]:
    return [sums["amount"], sums["refunded"], sums["fee"], sums["net"]]


def reconciliation_csv(*, reconciliation: dict) -> str:
    """A request's statement (``selectors.reconciliation_current``) as CSV: one ``leg``
    row per line, then a ``method`` row per method and one ``total`` row. Amounts are
    integer minor units, as in the API."""
    request_id, reference = reconciliation["request"], reconciliation["reference"]
    totals = reconciliation["totals"]
    rows = [
        [
            "leg",
            request_id,
            reference,
            line["leg"],
            line["participant"],
            line["method"],
            line["provider_reference"],
            line["operation_reference"],
            line["status"],
            line["currency"],
            line["amount"],
            line["amount_refunded"],
            line["fee"],
            line["net"],
        ]
        for line in reconciliation["lines"]
    ]
    for method, sums in reconciliation_methods(lines=reconciliation["lines"], totals=totals):
        rows.append(
            [
                "method",
                request_id,
                reference,
                "",
                "",
                method,
                "",
                "",
                "",
                totals["currency"],
                *_sums(sums),
            ]
        )
    # Chargebacks after the methods: the total's net is the methods' nets plus these.
    rows.extend(
        [
            "dispute",
            request_id,
            reference,
            dispute["leg"],
            dispute["participant"],
            dispute["method"],
            dispute["provider_reference"],
            dispute["dispute"],
            dispute["status"],
            dispute["currency"],
            dispute["amount"],
            "",
            dispute["fee"] or 0,
            dispute["net"],
        ]
        for dispute in reconciliation.get("disputes") or []
    )
    rows.append(
        ["total", request_id, reference, "", "", "", "", "", "", totals["currency"], *_sums(totals)]
    )
    return _csv(REQUEST_CSV_HEADER, rows)


# --- Daily statements -------------------------------------------------------------------------

DAILY_CSV_HEADER = [
    "at",
    "type",
    "request",
    "reference",
    "participant",
    "leg",
    "method",
    "provider_reference",
    "operation_reference",
    "currency",
    "amount",
    "fee",
    "net",
]


def _day_window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def _daily_rows(merchant: Merchant, livemode: bool, day: date) -> list[list]:
    zone = ZoneInfo(merchant.time_zone)
    start, end = _day_window(day, zone)
    ours = LegOperation.objects.filter(
        merchant=merchant, livemode=livemode, result=LegOperation.Result.SUCCEEDED
    )
    # A leg is taken on the day of the first call that found it captured (a retrieve or a
    # replay saying so again is the same capture); a refund is one per idempotency key.
    captures = {
        row["leg_id"]: row["at"]
        for row in ours.filter(status=PaymentStatus.CAPTURED)
        .values("leg_id")
        .annotate(at=Min("created_at"))
        .filter(at__gte=start, at__lt=end)
    }
    refunds = list(
        ours.filter(operation=LegOperation.Operation.REFUND, status=PaymentStatus.REFUNDED)
        .values("leg_id", "idempotency_key")
        .annotate(at=Min("created_at"), moved=Max("amount_moved"), ref=Max("operation_reference"))
        .filter(at__gte=start, at__lt=end)
    )
    leg_ids = set(captures) | {row["leg_id"] for row in refunds}
    legs = {
        leg.pk: leg
        for leg in Leg.objects.filter(pk__in=leg_ids)
        .select_related("checkout__request", "checkout__participant")
        .prefetch_related("operations")
    }
    rules = fee_rules_by_method(merchant_id=merchant.pk)
    stated = _stated_fees({leg.checkout.request_id for leg in legs.values()})
    events = [(at, "capture", leg_id, None) for leg_id, at in captures.items()]
    events += [(row["at"], "refund", row["leg_id"], row) for row in refunds]
    rows = []
    for at, kind, leg_id, refund in sorted(events, key=lambda e: (e[0], e[2], e[1])):
        leg = legs[leg_id]
        request = leg.checkout.request
        if kind == "capture":
            fee = stated.get(leg.public_id, leg_fee(leg, rules)[0])
            amount, reference = leg.amount, _capture_reference(leg)
        else:
            fee, amount, reference = 0, -refund["moved"], refund["ref"]
        rows.append(
            [
                at.astimezone(zone).isoformat(),
                kind,
                request.public_id,
                request.reference,
                leg.checkout.participant.public_id,
                leg.public_id,
                leg.method,
                leg.provider_reference,
                reference,
                leg.currency,
                amount,
                fee,
                amount - fee,
            ]
        )
    return rows


def _capture_reference(leg: Leg) -> str:
    capture = leg_capture_operation(leg)
    return capture.operation_reference if capture else ""


def _stated_fees(request_ids: set[int]) -> dict[str, int]:
    """Fees the requests' latest statements gave each leg: the daily CSV says the same."""
    fees: dict[str, int] = {}
    for reconciliation in Reconciliation.objects.filter(request_id__in=request_ids).order_by(
        "request_id", "version"
    ):
        fees.update({line["leg"]: line["fee"] for line in reconciliation.lines})
    return fees


def daily_reconciliation_build(
    *, merchant: Merchant, livemode: bool, day: date
) -> DailyReconciliation:
    """Write (or rewrite) the merchant's statement of ``day`` in one mode; idempotent: the
    same day built twice is one row with the same text."""
    rows = _daily_rows(merchant, livemode, day)
    values = {"row_count": len(rows), "csv_text": _csv(DAILY_CSV_HEADER, rows)}
    key = {"merchant": merchant, "livemode": livemode, "day": day}
    try:
        with transaction.atomic():
            daily, _ = DailyReconciliation.objects.update_or_create(**key, defaults=values)
    except IntegrityError:
        # Another cluster built the same day at the same instant: take its row.
        DailyReconciliation.objects.filter(**key).update(**values, updated_at=timezone.now())
        daily = DailyReconciliation.objects.get(**key)
    return daily


def daily_reconciliations_build(*, now: datetime | None = None) -> int:
    """Build yesterday's statement (in each merchant's time zone) for every merchant and
    mode that moved money lately; return how many were written. Runs daily."""
    now = now or timezone.now()
    pairs = (
        LegOperation.objects.filter(
            created_at__gte=now - timedelta(days=3), result=LegOperation.Result.SUCCEEDED
        )
        .values_list("merchant_id", "livemode")
        .distinct()
    )
    merchants = {m.pk: m for m in Merchant.objects.filter(pk__in={pk for pk, _ in pairs})}
    built = 0
    for merchant_id, livemode in sorted(set(pairs)):
        merchant = merchants[merchant_id]
        yesterday = now.astimezone(ZoneInfo(merchant.time_zone)).date() - timedelta(days=1)
        daily_reconciliation_build(merchant=merchant, livemode=livemode, day=yesterday)
        built += 1
    return built
