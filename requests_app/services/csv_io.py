"""CSV import and export of payment requests for the back office.

Import: the file is decoded and parsed when uploaded (refused at once if it is too big, not
UTF-8 or has too many rows), then every request is checked by a dry run of the very creation
service, rolled back, so an operator sees every row's errors (line, column, message) before
anything exists. Only a confirmed, error-free job creates, through the batch service the
API's batch endpoint uses (``payment_request_create_batch``), a batch of requests per
transaction; ``CsvJob.processed`` moves in the same transaction as each batch, so a task run
twice (django-q2 delivers at least once) skips what the first run made. The check is a dry
run of those very batches, rolled back.

Export: every request the list's filters match, written with formula-looking cells defused
(a leading ``=``, ``+``, ``-`` or ``@`` gets a quote), dates in the merchant's time zone and a
UTF-8 byte-order mark that spreadsheet applications need to read accents.
"""

import csv
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from merchants.models import Merchant
from pushpay.errors import DomainError, InvalidFields, InvalidInput, StateConflict
from pushpay.money import AmountSyntaxError, currency_exponent, is_currency, parse_major_amount
from pushpay.tenancy import merchant_zone

from ..models import CsvJob, PaymentRequest
from .batch import MAX_BATCH_SIZE, BatchOutcome, payment_request_create_batch
from .create import payment_request_create
from .rules import ParticipantData

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 5000
BOM = "\ufeff"

# The template's columns, in order; ``reference`` groups rows into one request.
IMPORT_COLUMNS = (
    "reference",
    "description",
    "currency",
    "amount",
    "deadline",
    "participant_name",
    "participant_email",
    "participant_phone",
    "participant_amount",
    "participant_language",
)
REQUIRED_COLUMNS = ("reference", "currency", "participant_name")
# Columns that describe the request: every row of one reference must agree on them.
REQUEST_COLUMNS = ("description", "currency", "amount", "deadline")

EXPORT_COLUMNS = (
    "request_id",
    "reference",
    "description",
    "status",
    "currency",
    "total_amount",
    "amount_paid",
    "amount_refunded",
    "participants",
    "payers",
    "deadline",
    "created_at",
)


class CsvRefused(InvalidInput):
    """The file as a whole cannot be read: nothing of it is kept."""


# --- Cells --------------------------------------------------------------------------------------


def safe_cell(value) -> str:
    """A cell a spreadsheet shows as text: one starting with =, +, -, @ (or a tab or carriage
    return, which some applications skip before reading a formula) gets a leading quote."""
    if value is None:
        return ""
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _major(amount: int | None, currency: str) -> str:
    if amount is None:
        return ""
    exponent = currency_exponent(currency) if is_currency(currency) else 2
    if exponent == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10**exponent)
    return f"{sign}{whole}.{part:0{exponent}d}"


def _local(moment: datetime | None, zone) -> str:
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


# --- Export -------------------------------------------------------------------------------------


def export_rows(*, merchant: Merchant, requests: Iterable[PaymentRequest]) -> Iterator[list[str]]:
    """The header, then one row per request (participants prefetched by the caller)."""
    zone = merchant_zone(merchant)
    yield list(EXPORT_COLUMNS)
    for pr in requests:
        participants = list(pr.participants.all())
        yield [
            safe_cell(v)
            for v in (
                pr.public_id,
                pr.reference,
                pr.description,
                pr.status,
                pr.currency,
                _major(pr.total_amount, pr.currency),
                _major(pr.amount_paid, pr.currency),
                _major(pr.amount_refunded, pr.currency),
                len(participants),
                ", ".join(p.name for p in participants),
                _local(pr.deadline, zone),
                _local(pr.created_at, zone),
            )
        ]


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_stream(rows: Iterable[list[str]]) -> Iterator[str]:
    """CSV text piece by piece (for a streamed response), the BOM first."""
    writer = csv.writer(_Echo())
    yield BOM
    for row in rows:
        yield writer.writerow(row)


def csv_export_start(
    *, merchant: Merchant, livemode: bool, user, query: dict, total: int
) -> CsvJob:
    """A background export of the list's filters (``query``: the query string as lists)."""
    job = CsvJob.objects.create(
        merchant=merchant,
        livemode=livemode,
        kind=CsvJob.Kind.EXPORT,
        created_by=user,
        payload={"query": query},
        total=total,
    )
    transaction.on_commit(lambda: async_task("requests_app.tasks.csv_job_run", job.pk))
    return job


def csv_export_run(*, job: CsvJob, requests) -> CsvJob:
    """Write the file, counting progress every 200 rows; ``requests`` is the filtered query."""
    CsvJob.objects.filter(pk=job.pk).update(
        updated_at=timezone.now(), status=CsvJob.Status.RUNNING, processed=0
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    count = 0
    total = job.total
    for row in export_rows(merchant=job.merchant, requests=requests):
        writer.writerow(row)
        count += 1
        if count % 200 == 0:
            CsvJob.objects.filter(pk=job.pk).update(processed=min(count - 1, total))
    rows = count - 1
    CsvJob.objects.filter(pk=job.pk).update(
        updated_at=timezone.now(),
        status=CsvJob.Status.DONE,
        result=BOM + buffer.getvalue(),
        total=max(total, rows),
        processed=rows,
    )
    job.refresh_from_db()
    return job


def errors_csv(errors: list[dict]) -> str:
    """An import's errors as a file: one row per error, cells defused as in an export."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["line", "column", "message"])
    for error in errors:
        writer.writerow(
            [safe_cell(error["line"]), safe_cell(error["column"]), safe_cell(error["message"])]
        )
    return BOM + buffer.getvalue()


# --- Import: reading the file -------------------------------------------------------------------


def import_template() -> str:
    """The file to download and fill: the header and two requests as examples."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(IMPORT_COLUMNS)
    writer.writerow(
        ["INV-1001", "Team dinner", "EUR", "90.00", "2030-06-30", "Alice Martin",
         "alice@example.com", "+33612345678", "", "fr"]
    )  # fmt: skip
    writer.writerow(
        ["INV-1001", "Team dinner", "EUR", "90.00", "2030-06-30", "Bob Durand",
         "bob@example.com", "", "", "fr"]
    )  # fmt: skip
    writer.writerow(
        ["INV-1002", "Subscription", "EUR", "", "", "Chloé Petit", "chloe@example.com", "",
         "25.50", "en"]
    )  # fmt: skip
    return BOM + buffer.getvalue()


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:
        raise CsvRefused(
            _("This file is not a text CSV file (it holds binary data)."), code="not_csv"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CsvRefused(
            _(
                "This file is not encoded in UTF-8 (byte %(position)d). Save it again as "
                "“CSV UTF-8” in your spreadsheet application and upload it again."
            )
            % {"position": exc.start + 1},
            code="not_utf8",
        ) from None


def _delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def import_parse(*, data: bytes) -> tuple[list[dict], list[dict], int]:
    """The file's requests (rows grouped by reference), the row errors found while reading,
    and the number of data rows. Raises ``CsvRefused`` for a file that cannot be read."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise CsvRefused(
            _("The file is too large: at most %(size)d MB.")
            % {"size": MAX_UPLOAD_BYTES // (1024 * 1024)},
            code="file_too_large",
        )
    text = _decode(data)
    if not text.strip():
        raise CsvRefused(_("The file is empty."), code="empty_file")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except csv.Error:
        raise CsvRefused(_("The first line of the file cannot be read."), code="bad_csv") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CsvRefused(
            _("Missing columns: %(columns)s. Download the template to see them all.")
            % {"columns": ", ".join(missing)},
            code="missing_columns",
        )
    unknown = [c for c in header if c and c not in IMPORT_COLUMNS]
    if unknown:
        raise CsvRefused(
            _("Unknown columns: %(columns)s.") % {"columns": ", ".join(unknown)},
            code="unknown_columns",
        )
    errors: list[dict] = []
    groups: dict[str, dict] = {}
    rows = 0
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue  # blank lines, often at the end of a file
            rows += 1
            if rows > MAX_IMPORT_ROWS:
                raise CsvRefused(
                    _("The file has more than %(rows)d rows: split it into several files.")
                    % {"rows": MAX_IMPORT_ROWS},
                    code="too_many_rows",
                )
            line = reader.line_num
            row = {c: (record[i].strip() if i < len(record) else "") for i, c in enumerate(header)}
            if len(record) > len(header):
                errors.append(_error(line, "", _("This row has more cells than the header.")))
            _add_row(groups, row, line, errors)
    except csv.Error as exc:
        raise CsvRefused(
            _("Line %(line)d cannot be read: %(error)s") % {"line": reader.line_num, "error": exc},
            code="bad_csv",
        ) from None
    if rows == 0:
        raise CsvRefused(_("The file has a header but no rows."), code="empty_file")
    return list(groups.values()), errors, rows


def _error(line: int, column: str, message: str) -> dict:
    return {"line": line, "column": column, "message": str(message)}


def _add_row(groups: dict[str, dict], row: dict, line: int, errors: list[dict]) -> None:
    reference = row.get("reference", "")
    if not reference:
        errors.append(_error(line, "reference", _("A reference is required.")))
        return
    group = groups.get(reference)
    if group is None:
        group = groups[reference] = {
            "reference": reference,
            "line": line,
            **{c: row.get(c, "") for c in REQUEST_COLUMNS},
            "participants": [],
        }
    else:
        for column in REQUEST_COLUMNS:
            if row.get(column, "") not in ("", group[column]):
                errors.append(
                    _error(
                        line,
                        column,
                        _("Differs from line %(line)d of the same reference.")
                        % {"line": group["line"]},
                    )
                )
    group["participants"].append(
        {
            "line": line,
            "name": row.get("participant_name", ""),
            "email": row.get("participant_email", ""),
            "phone": row.get("participant_phone", ""),
            "amount": row.get("participant_amount", ""),
            "language": row.get("participant_language", ""),
        }
    )


# --- Import: checking and creating --------------------------------------------------------------


class _RowErrors(Exception):
    def __init__(self, errors: list[dict]):
        self.errors = errors


def _amount(raw: str, currency: str, line: int, column: str) -> int | None:
    if not raw:
        return None
    try:
        return parse_major_amount(raw, currency)
    except AmountSyntaxError:
        raise _RowErrors([_error(line, column, _("Enter an amount such as 12.50."))]) from None


def _deadline(raw: str, zone, line: int) -> datetime | None:
    if not raw:
        return None
    moment = parse_datetime(raw.replace("T", " ")) if " " in raw or "T" in raw else None
    if moment is None:
        day = parse_date(raw) if len(raw) == 10 else None
        if day is None:
            raise _RowErrors(
                [_error(line, "deadline", _("Enter a date as YYYY-MM-DD (or YYYY-MM-DD HH:MM)."))]
            )
        moment = datetime.combine(day, time(23, 59))
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=zone)
    return moment


def _creation_kwargs(group: dict, zone) -> tuple[dict, list[dict]]:
    """The creation service's keywords for one group and the errors of the cells it could
    not read. A cell in error is replaced by a harmless value, so that the dry run still
    reports what the service thinks of every other cell: one upload shows every error."""
    currency = group["currency"].upper()
    line = group["line"]
    errors: list[dict] = []
    if not is_currency(currency):
        errors.append(_error(line, "currency", _("Unknown currency (use EUR, USD…).")))
        currency = "EUR"
    amounts: list[int | None] = []
    for row in group["participants"]:
        try:
            amounts.append(_amount(row["amount"], currency, row["line"], "participant_amount"))
        except _RowErrors as exc:
            errors.extend(exc.errors)
            amounts.append(None)
    try:
        total = _amount(group["amount"], currency, line, "amount")
    except _RowErrors as exc:
        errors.extend(exc.errors)
        total = None
    try:
        deadline = _deadline(group["deadline"], zone, line)
    except _RowErrors as exc:
        errors.extend(exc.errors)
        deadline = None
    given = [a for a in amounts if a is not None]
    read_amounts = not any(e["column"] == "participant_amount" for e in errors)
    if given and len(given) != len(amounts) and read_amounts:
        errors.extend(
            _error(
                row["line"], "participant_amount", _("Give every participant an amount, or none.")
            )
            for row, a in zip(group["participants"], amounts, strict=True)
            if a is None
        )
    partial = bool(given) and len(given) != len(amounts)
    if partial:
        given = []  # an error already: check the rest as an equal split
    if given and total is None:
        total = sum(given)
    if total is None:
        if not partial and group["amount"] == "" and read_amounts:
            errors.append(
                _error(line, "amount", _("Give the request's amount or each participant's amount."))
            )
        total = 100 * max(1, len(amounts))  # placeholder: the error is reported already
    participants = [
        ParticipantData(
            name=row["name"],
            email=row["email"],
            phone=row["phone"],
            language=row["language"] or None,
            amount=amount if given else None,
        )
        for row, amount in zip(group["participants"], amounts, strict=True)
    ]
    kwargs = {
        "reference": group["reference"],
        "description": group["description"],
        "currency": currency,
        "total_amount": total,
        "split": None if given else "equal",
        "deadline": deadline,
        "participants": participants,
    }
    return kwargs, errors


def _refusal_errors(group: dict, exc: DomainError) -> list[dict]:
    refusals = exc.refusals if isinstance(exc, InvalidFields) else [exc]
    return [_located(group, refusal.field or "", refusal.localized) for refusal in refusals]


_FIELD_COLUMNS = {
    "reference": "reference",
    "description": "description",
    "currency": "currency",
    "total_amount": "amount",
    "deadline": "deadline",
}


def _located(group: dict, field: str, message: str) -> dict:
    """A service refusal's field (``participants[1].email``) as a line and a column."""
    if field.startswith("participants[") and "]" in field:
        index_text, _sep, rest = field[len("participants[") :].partition("]")
        rows = group["participants"]
        if index_text.isdigit() and int(index_text) < len(rows):
            column = rest.lstrip(".").split(".")[0] or "name"
            return _error(rows[int(index_text)]["line"], f"participant_{column}", message)
    if field == "participants":
        return _error(group["line"], "participant_name", message)
    return _error(group["line"], _FIELD_COLUMNS.get(field, field), message)


class _DryRun(Exception):
    pass


# Requests created per transaction once an import is confirmed: the progress bar moves
# batch by batch, and a crash loses (rolls back) at most one batch, which a new task redoes.
IMPORT_BATCH_SIZE = 100


def _group_creation(job: CsvJob, group: dict, zone) -> Callable[[], PaymentRequest]:
    """One item of the batch: the group's request, or ``_RowErrors`` with every error of
    its rows (the unreadable cells and the service's refusals), raised inside the batch's
    savepoint so that nothing of a refused group is kept."""
    kwargs, errors = _creation_kwargs(group, zone)

    def create() -> PaymentRequest:
        try:
            created = payment_request_create(merchant=job.merchant, livemode=job.livemode, **kwargs)
        except DomainError as exc:
            raise _RowErrors(_merge(errors, _refusal_errors(group, exc))) from None
        if errors:
            raise _RowErrors(errors)
        return created

    return create


def _merge(first: list[dict], more: list[dict]) -> list[dict]:
    """The service's refusals, less those on a cell already reported (its placeholder)."""
    seen = {(e["line"], e["column"]) for e in first}
    return first + [e for e in more if (e["line"], e["column"]) not in seen]


def _batch(job: CsvJob, groups: list[dict], zone, then=None) -> list[BatchOutcome]:
    return payment_request_create_batch(
        creations=[_group_creation(job, group, zone) for group in groups],
        refused=(_RowErrors,),
        then=then,
    )


def import_check(*, job: CsvJob) -> CsvJob:
    """Every request tried through the batch service and rolled back: the job becomes READY
    or INVALID with every error (the errors found while reading included), and nothing is
    created either way. The check runs the very code the confirmed import runs."""
    CsvJob.objects.filter(pk=job.pk).update(
        updated_at=timezone.now(), status=CsvJob.Status.RUNNING, processed=0
    )
    zone = merchant_zone(job.merchant)
    errors = list(job.errors)
    groups = job.payload["groups"]
    try:
        with transaction.atomic():
            for start in range(0, len(groups), MAX_BATCH_SIZE):
                for outcome in _batch(job, groups[start : start + MAX_BATCH_SIZE], zone):
                    if outcome.refusal is not None:
                        errors.extend(outcome.refusal.errors)
            raise _DryRun
    except _DryRun:
        pass
    errors.sort(key=lambda e: (e["line"], e["column"]))
    CsvJob.objects.filter(pk=job.pk).update(
        updated_at=timezone.now(),
        status=CsvJob.Status.INVALID if errors else CsvJob.Status.READY,
        errors=errors,
        processed=0,
    )
    job.refresh_from_db()
    return job


def csv_import_upload(
    *, merchant: Merchant, livemode: bool, user, filename: str, data: bytes
) -> CsvJob:
    """Read an uploaded file and queue its check. ``CsvRefused`` for an unreadable file."""
    groups, errors, _rows = import_parse(data=data)
    digest = hashlib.sha256(data).hexdigest()
    earlier = (
        CsvJob.objects.filter(
            merchant=merchant,
            livemode=livemode,
            kind=CsvJob.Kind.IMPORT,
            file_sha256=digest,
            status__in=(CsvJob.Status.CREATING, CsvJob.Status.DONE),
        )
        .order_by("-created_at", "-id")
        .first()
    )
    job = CsvJob.objects.create(
        merchant=merchant,
        livemode=livemode,
        kind=CsvJob.Kind.IMPORT,
        created_by=user,
        filename=filename[:200],
        file_sha256=digest,
        duplicate_of=earlier,
        # The errors are written by a worker, which has no request to take a language from:
        # the uploader's, read now, is the one the job page will be read in.
        payload={"groups": groups, "language": translation.get_language() or ""},
        total=len(groups),
        errors=errors,
    )
    transaction.on_commit(lambda: async_task("requests_app.tasks.csv_job_run", job.pk))
    return job


def csv_import_confirm(*, job: CsvJob) -> CsvJob:
    """Start the creation of a checked job, once: a second confirmation (a double click, a
    replayed form) finds it no longer READY and changes nothing."""
    if job.kind != CsvJob.Kind.IMPORT:
        raise StateConflict(_("Only an import can be confirmed."), code="not_an_import")
    claimed = CsvJob.objects.filter(pk=job.pk, status=CsvJob.Status.READY).update(
        updated_at=timezone.now(), status=CsvJob.Status.CREATING
    )
    if not claimed:
        raise StateConflict(
            _("This import was already confirmed, or it has errors to fix first."),
            code="not_ready",
        )
    transaction.on_commit(lambda: async_task("requests_app.tasks.csv_job_run", job.pk))
    job.refresh_from_db()
    return job


def import_create(*, job: CsvJob) -> CsvJob:
    """Create the confirmed job's requests from where ``processed`` stands, through the
    batch service, ``IMPORT_BATCH_SIZE`` at a time: each batch and the job's progress commit
    in one transaction (the job row locked), so a repeated task creates nothing twice. A
    request refused now (a reference taken since the check) is reported, not fatal."""
    zone = merchant_zone(job.merchant)
    groups = job.payload["groups"]
    while True:
        with transaction.atomic():
            locked = CsvJob.objects.select_for_update().get(pk=job.pk)
            if locked.status != CsvJob.Status.CREATING or locked.processed >= len(groups):
                break
            start = locked.processed
            chunk = groups[start : start + IMPORT_BATCH_SIZE]

            def record(outcomes: list[BatchOutcome], locked=locked, start=start, chunk=chunk):
                created = [o.created.public_id for o in outcomes if o.created is not None]
                refused = [e for o in outcomes if o.refusal is not None for e in o.refusal.errors]
                CsvJob.objects.filter(pk=locked.pk).update(
                    processed=start + len(chunk),
                    created_count=F("created_count") + len(created),
                    created_ids=[*locked.created_ids, *created],
                    errors=locked.errors + refused,
                )

            _batch(locked, chunk, zone, then=record)
    CsvJob.objects.filter(pk=job.pk, status=CsvJob.Status.CREATING).update(
        updated_at=timezone.now(), status=CsvJob.Status.DONE
    )
    job.refresh_from_db()
    return job


# --- Retention ----------------------------------------------------------------------------------

# Statuses no worker will move again on its own: QUEUED, RUNNING and CREATING jobs are some
# worker's (or the next sweep's) business, however old they look.
FINISHED_STATUSES = (
    CsvJob.Status.INVALID,
    CsvJob.Status.READY,
    CsvJob.Status.DONE,
    CsvJob.Status.FAILED,
)
PURGE_BATCH = 500


def csv_jobs_purge(*, now: datetime | None = None, retention_days: int | None = None) -> int:
    """Delete finished jobs untouched for ``CSV_JOB_RETENTION_DAYS``; return how many went.

    A job's uploaded rows (``payload``), its errors and an export's file (``result``) live in
    its row, so deleting the row deletes the stored files: customer names, emails and phones
    do not stay in the database for ever because someone once imported them. The age is
    counted from ``updated_at``, so an export finished today is kept its full retention even
    if it was queued long ago. Batches keep each delete short on a large table."""
    days = settings.CSV_JOB_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    while True:
        pks = list(
            CsvJob.objects.filter(updated_at__lt=cutoff, status__in=FINISHED_STATUSES)
            .order_by("updated_at", "id")
            .values_list("pk", flat=True)[:PURGE_BATCH]
        )
        if not pks:
            return deleted
        # The status is checked again: a READY job confirmed meanwhile is CREATING now.
        count, _ = CsvJob.objects.filter(pk__in=pks, status__in=FINISHED_STATUSES).delete()
        deleted += count
