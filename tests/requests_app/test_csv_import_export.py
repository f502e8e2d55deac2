"""CSV export of the filtered list and CSV import of requests, through the back office."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from requests_app import csv_views
from requests_app.models import CsvJob, PaymentRequest
from requests_app.services import csv_io
from requests_app.tasks import csv_job_run
from tests.factories import MembershipFactory, make_request

HEADER = ",".join(csv_io.IMPORT_COLUMNS)


@pytest.fixture
def operator(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role="agent").user)
    return client


def _csv_text(response) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode("utf-8")
    assert text.startswith("\ufeff"), "a BOM for spreadsheet applications"
    return text[1:]


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _file(text: str, name: str = "requests.csv", encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def _import_file(count: int = 20, bad: tuple[int, ...] = ()) -> str:
    """``count`` requests of two participants each; the requests in ``bad`` carry errors: an
    email that is not one and an amount that is not a number."""
    lines = [HEADER]
    for n in range(1, count + 1):
        email = "not-an-email" if n in bad else f"a{n}@example.com"
        amount = "douze" if n in bad else "40.00"
        lines.append(f"IMP-{n},Dîner {n},EUR,{amount},2031-01-15,Alice {n},{email},,,fr")
        lines.append(f"IMP-{n},Dîner {n},EUR,{amount},2031-01-15,Bob {n},b{n}@example.com,,,fr")
    return "\n".join(lines) + "\n"


def _upload(client, text_or_file, django_capture_on_commit_callbacks):
    upload = text_or_file if isinstance(text_or_file, SimpleUploadedFile) else _file(text_or_file)
    with django_capture_on_commit_callbacks(execute=True):
        return client.post("/app/requests/import/", {"file": upload})


# --- Export -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_export_holds_every_matching_request_not_only_the_first_page(
    operator, merchant, live_cards
):
    for n in range(30):  # more than one page of 25
        make_request(merchant, reference=f"KEEP-{n}", description="Gala")
    make_request(merchant, reference="OTHER-1", description="Picnic")
    make_request(merchant, reference="LIVE-1", description="Gala", livemode=True)
    response = operator.post("/app/requests/export/", {"q": "gala", "sort": "reference"})
    assert response.status_code == 200
    rows = _rows(_csv_text(response))
    assert len(rows) == 30
    assert {r["reference"] for r in rows} == {f"KEEP-{n}" for n in range(30)}
    assert rows[0]["total_amount"] == "30.00" and rows[0]["participants"] == "3"


@pytest.mark.django_db
def test_a_status_filter_is_applied_to_the_export(operator, merchant):
    kept = make_request(merchant, reference="OPEN-1")
    from requests_app import services

    services.payment_request_cancel(payment_request=make_request(merchant, reference="GONE-1"))
    blank = dict.fromkeys(("q", "scenario", "method", "created_from", "amount_min"), "")
    response = operator.post("/app/requests/export/", {**blank, "status": "cancelled"})
    rows = _rows(_csv_text(response))
    assert [r["reference"] for r in rows] == ["GONE-1"]
    assert kept.reference not in {r["reference"] for r in rows}


@pytest.mark.django_db
def test_formula_looking_cells_are_defused(operator, merchant):
    make_request(merchant, reference='=HYPERLINK("http://evil")', description="+1+1")
    make_request(merchant, reference="@SUM(A1)", description="-2")
    rows = _rows(_csv_text(operator.post("/app/requests/export/", {})))
    by_ref = {r["reference"]: r for r in rows}
    assert set(by_ref) == {'\'=HYPERLINK("http://evil")', "'@SUM(A1)"}
    assert by_ref["'@SUM(A1)"]["description"] == "'-2"
    assert by_ref['\'=HYPERLINK("http://evil")']["description"] == "'+1+1"


@pytest.mark.django_db
def test_export_dates_are_in_the_merchants_time_zone(operator, merchant):
    merchant.time_zone = "Pacific/Auckland"
    merchant.save()
    deadline = timezone.now().replace(microsecond=0) + timedelta(days=3)
    make_request(merchant, deadline=deadline)
    row = _rows(_csv_text(operator.post("/app/requests/export/", {})))[0]
    from zoneinfo import ZoneInfo

    assert row["deadline"] == deadline.astimezone(ZoneInfo("Pacific/Auckland")).strftime(
        "%Y-%m-%d %H:%M"
    )


@pytest.mark.django_db
def test_a_large_export_runs_in_the_background_with_progress_and_a_link(
    operator, merchant, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(csv_views, "EXPORT_STREAM_MAX", 3)
    for n in range(5):
        make_request(merchant, reference=f"BIG-{n}")
    make_request(merchant, reference="SMALL-1")
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post("/app/requests/export/", {"q": "BIG"})
    job = CsvJob.objects.get()
    assert response.status_code == 302 and response.url == f"/app/csv-jobs/{job.public_id}/"
    assert job.status == CsvJob.Status.DONE and job.total == 5 and job.processed == 5
    status = operator.get(f"/app/csv-jobs/{job.public_id}/status.json").json()
    assert status["finished"] and status["percent"] == 100
    html = operator.get(response.url).content.decode()
    assert f"/app/csv-jobs/{job.public_id}/download.csv" in html
    assert "http-equiv" not in html  # finished: no more refreshing
    rows = _rows(_csv_text(operator.get(f"/app/csv-jobs/{job.public_id}/download.csv")))
    assert sorted(r["reference"] for r in rows) == [f"BIG-{n}" for n in range(5)]


@pytest.mark.django_db
def test_a_job_still_running_refreshes_itself_and_loads_the_progress_script(operator, merchant):
    job = csv_io.csv_export_start(
        merchant=merchant, livemode=False, user=None, query={}, total=10
    )  # no on-commit execution: it stays queued
    html = operator.get(f"/app/csv-jobs/{job.public_id}/").content.decode()
    assert '<meta http-equiv="refresh" content="3">' in html
    assert "requests_app/csv-job.js" in html
    assert operator.get(f"/app/csv-jobs/{job.public_id}/download.csv").status_code == 404


@pytest.mark.django_db
def test_the_export_costs_the_same_queries_for_1_and_50_requests(operator, merchant):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            _csv_text(operator.post("/app/requests/export/", {}))
        return len(ctx)

    make_request(merchant)
    queries()  # the first page of a session also reads the operator's language
    one = queries()
    for _ in range(49):
        make_request(merchant)
    assert queries() == one


# --- Import -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_template_has_every_column_and_reads_back_as_valid(
    operator, merchant, django_capture_on_commit_callbacks
):
    response = operator.get("/app/requests/import/template.csv")
    text = _csv_text(response)
    assert text.splitlines()[0] == HEADER
    upload = SimpleUploadedFile("t.csv", response.content, content_type="text/csv")
    _upload(operator, upload, django_capture_on_commit_callbacks)
    assert CsvJob.objects.get().status == CsvJob.Status.READY


@pytest.mark.django_db
def test_twenty_requests_with_two_bad_ones_show_every_error_and_create_nothing(
    operator, merchant, django_capture_on_commit_callbacks
):
    response = _upload(operator, _import_file(20, bad=(4, 17)), django_capture_on_commit_callbacks)
    job = CsvJob.objects.get()
    assert response.url == f"/app/csv-jobs/{job.public_id}/"
    assert job.status == CsvJob.Status.INVALID
    located = {(e["line"], e["column"]) for e in job.errors}
    # Request 4 sits on lines 8 and 9 (the header is line 1); request 17 on lines 34 and 35.
    assert (8, "amount") in located and (8, "participant_email") in located
    assert (34, "amount") in located and (34, "participant_email") in located
    assert PaymentRequest.objects.count() == 0
    html = operator.get(response.url).content.decode()
    assert "Line" in html and "participant_email" in html and "nothing was created" in html
    assert 'data-testid="import-confirm"' not in html
    report = _rows(_csv_text(operator.get(f"/app/csv-jobs/{job.public_id}/download.csv")))
    assert {(int(r["line"]), r["column"]) for r in report} == located
    # The confirmation is refused too, whatever is posted.
    operator.post(f"/app/csv-jobs/{job.public_id}/confirm/")
    assert PaymentRequest.objects.count() == 0


@pytest.mark.django_db
def test_the_fixed_file_is_created_once_however_often_it_is_confirmed(
    operator, merchant, django_capture_on_commit_callbacks
):
    _upload(operator, _import_file(20, bad=(4, 17)), django_capture_on_commit_callbacks)
    _upload(operator, _import_file(20), django_capture_on_commit_callbacks)
    job = CsvJob.objects.filter(status=CsvJob.Status.READY).get()
    assert PaymentRequest.objects.count() == 0, "checked, not created"
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            operator.post(f"/app/csv-jobs/{job.public_id}/confirm/")
    csv_job_run(job.pk)  # a redelivered task
    job.refresh_from_db()
    assert job.status == CsvJob.Status.DONE and job.created_count == 20
    requests = PaymentRequest.objects.filter(merchant=merchant, livemode=False)
    assert requests.count() == 20
    first = requests.get(reference="IMP-1")
    assert first.total_amount == 4000
    assert [p.amount for p in first.participants.order_by("position")] == [2000, 2000]
    assert first.deadline.astimezone(timezone.get_default_timezone()).date().isoformat()
    assert sorted(job.created_ids) == sorted(requests.values_list("public_id", flat=True))


@pytest.mark.django_db
def test_uploading_an_imported_file_again_is_flagged_and_creates_nothing(
    operator, merchant, django_capture_on_commit_callbacks
):
    _upload(operator, _import_file(3), django_capture_on_commit_callbacks)
    first = CsvJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        operator.post(f"/app/csv-jobs/{first.public_id}/confirm/")
    response = _upload(operator, _import_file(3), django_capture_on_commit_callbacks)
    again = CsvJob.objects.exclude(pk=first.pk).get()
    assert again.duplicate_of == first and again.status == CsvJob.Status.INVALID
    html = operator.get(response.url).content.decode()
    assert 'data-testid="duplicate-file"' in html
    assert PaymentRequest.objects.count() == 3


@pytest.mark.django_db
def test_semicolons_and_a_bom_are_read(operator, merchant, django_capture_on_commit_callbacks):
    text = "\ufeff" + _import_file(2).replace(",", ";").replace("40.00", "40,00")
    _upload(operator, text, django_capture_on_commit_callbacks)
    job = CsvJob.objects.get()
    assert job.status == CsvJob.Status.READY, job.errors
    assert job.payload["groups"][0]["participants"][0]["name"] == "Alice 1"


@pytest.mark.django_db
def test_a_file_not_in_utf8_is_refused_clearly(operator, merchant):
    response = operator.post(
        "/app/requests/import/", {"file": _file(_import_file(2), encoding="cp1252")}
    )
    assert response.status_code == 422
    assert "not encoded in UTF-8" in response.content.decode()
    assert not CsvJob.objects.exists()


@pytest.mark.django_db
def test_a_huge_file_is_refused(operator, merchant, monkeypatch):
    big = _file(HEADER + "\n" + "X," * (csv_io.MAX_UPLOAD_BYTES // 2) + "\n")
    response = operator.post("/app/requests/import/", {"file": big})
    assert response.status_code == 422
    assert "too large" in response.content.decode()
    monkeypatch.setattr(csv_io, "MAX_IMPORT_ROWS", 10)
    response = operator.post("/app/requests/import/", {"file": _file(_import_file(6))})
    assert response.status_code == 422 and "more than 10 rows" in response.content.decode()
    assert not CsvJob.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (HEADER + "\n", "no rows"),
        ("name,amount\nA,1\n", "Missing columns: reference, currency, participant_name"),
        (HEADER + ",colour\n", "Unknown columns: colour"),
        ("\x00\x01binary", "binary"),
    ],
)
def test_malformed_files_are_refused_with_a_reason(operator, merchant, text, message):
    response = operator.post("/app/requests/import/", {"file": _file(text)})
    assert response.status_code == 422
    assert message in response.content.decode()


@pytest.mark.django_db
def test_rows_of_one_reference_must_agree_and_amounts_are_all_or_none(
    operator, merchant, django_capture_on_commit_callbacks
):
    text = "\n".join(
        [
            HEADER,
            "R-1,One,EUR,10.00,,A,a@example.com,,,",
            "R-1,One,USD,10.00,,B,b@example.com,,,",
            "R-2,Two,EUR,,,A,a@example.com,,5.00,",
            "R-2,Two,EUR,,,B,b@example.com,,,",
            "R-3,Three,EUR,10.00,31/12/2031,A,a@example.com,,,",
            ",Orphan,EUR,10.00,,A,a@example.com,,,",
        ]
    )
    _upload(operator, text, django_capture_on_commit_callbacks)
    job = CsvJob.objects.get()
    located = {(e["line"], e["column"]) for e in job.errors}
    assert located == {
        (3, "currency"),
        (5, "participant_amount"),
        (6, "deadline"),
        (7, "reference"),
    }


@pytest.mark.django_db
def test_a_viewer_can_export_but_not_import(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role="viewer").user)
    assert client.post("/app/requests/export/", {}).status_code == 200
    assert client.get("/app/requests/import/").status_code == 403
    assert client.post("/app/requests/import/", {"file": _file(_import_file(1))}).status_code == 403
    assert not CsvJob.objects.exists()


@pytest.mark.django_db
def test_another_merchants_or_the_other_modes_job_is_a_404(operator, merchant, other_merchant):
    theirs = csv_io.csv_export_start(
        merchant=other_merchant, livemode=False, user=None, query={}, total=0
    )
    live = csv_io.csv_export_start(merchant=merchant, livemode=True, user=None, query={}, total=0)
    for job in (theirs, live):
        for suffix in ("", "status.json", "download.csv"):
            assert operator.get(f"/app/csv-jobs/{job.public_id}/{suffix}").status_code == 404
        assert operator.post(f"/app/csv-jobs/{job.public_id}/confirm/").status_code == 404


@pytest.mark.django_db
def test_imports_are_created_in_the_operators_mode(
    client, merchant, live_cards, django_capture_on_commit_callbacks
):
    client.force_login(MembershipFactory(merchant=merchant, role="owner").user)
    client.post("/app/mode/", {"mode": "live"})
    _upload(client, _import_file(1), django_capture_on_commit_callbacks)
    job = CsvJob.objects.get()
    assert job.livemode is True
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/app/csv-jobs/{job.public_id}/confirm/")
    assert PaymentRequest.objects.get().livemode is True


@pytest.mark.django_db
def test_a_wrong_filter_is_sent_back_to_the_list_not_exported(operator, merchant):
    response = operator.post("/app/requests/export/", {"amount_min": "lots", "q": "x"})
    assert response.status_code == 302
    assert response.url.startswith("/app/?") and "amount_min=lots" in response.url


# --- Import through the batch service -----------------------------------------------------------


def _ready_job(operator, count, django_capture_on_commit_callbacks) -> CsvJob:
    _upload(operator, _import_file(count), django_capture_on_commit_callbacks)
    job = CsvJob.objects.get(status=CsvJob.Status.READY)
    CsvJob.objects.filter(pk=job.pk).update(status=CsvJob.Status.CREATING)
    job.refresh_from_db()
    return job


@pytest.mark.django_db
def test_a_confirmed_import_is_created_by_the_batch_service_of_the_api(
    operator, merchant, django_capture_on_commit_callbacks, monkeypatch
):
    job = _ready_job(operator, 20, django_capture_on_commit_callbacks)
    batches = []
    real = csv_io.payment_request_create_batch

    def spy(**kwargs):
        batches.append(len(kwargs["creations"]))
        return real(**kwargs)

    monkeypatch.setattr(csv_io, "payment_request_create_batch", spy)
    monkeypatch.setattr(csv_io, "IMPORT_BATCH_SIZE", 8)
    csv_job_run(job.pk)
    job.refresh_from_db()
    assert batches == [8, 8, 4]
    assert job.status == CsvJob.Status.DONE and job.created_count == 20
    assert PaymentRequest.objects.filter(merchant=merchant).count() == 20
    # The API's batch endpoint goes through the very same service.
    from requests_app.api import batch_views

    assert batch_views.services.payment_request_create_batch is real


@pytest.mark.django_db
def test_a_crash_inside_a_batch_keeps_nothing_of_that_batch_and_a_new_task_redoes_it(
    operator, merchant, django_capture_on_commit_callbacks, monkeypatch
):
    """A batch's semantics, not request by request: the third creation crashing (the
    database going away) rolls back the two before it and the job's progress with them."""
    job = _ready_job(operator, 5, django_capture_on_commit_callbacks)
    real = csv_io.payment_request_create

    def flaky(**kwargs):
        if kwargs["reference"] == "IMP-3":
            raise RuntimeError("connection lost")
        return real(**kwargs)

    monkeypatch.setattr(csv_io, "payment_request_create", flaky)
    with pytest.raises(RuntimeError):
        csv_io.import_create(job=job)
    job.refresh_from_db()
    assert PaymentRequest.objects.count() == 0
    assert job.processed == 0 and job.created_count == 0 and job.created_ids == []

    monkeypatch.setattr(csv_io, "payment_request_create", real)
    job = csv_io.import_create(job=job)  # a redelivered task
    assert job.status == CsvJob.Status.DONE and job.created_count == 5
    assert PaymentRequest.objects.count() == 5


@pytest.mark.django_db
def test_the_job_row_is_locked_and_written_once_per_batch_not_once_per_request(
    operator, merchant, django_capture_on_commit_callbacks
):
    job = _ready_job(operator, 20, django_capture_on_commit_callbacks)
    with CaptureQueriesContext(connection) as queries:
        csv_io.import_create(job=job)
    job_writes = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "requests_app_csvjob"')]
    job_reads = [q["sql"] for q in queries if 'FROM "requests_app_csvjob"' in q["sql"]]
    assert len(job_writes) == 2, job_writes  # the batch's progress, then DONE
    assert len(job_reads) <= 3  # the lock of the batch, the lock finding nothing left, refresh
    assert PaymentRequest.objects.count() == 20


@pytest.mark.django_db
def test_a_reference_taken_between_check_and_confirmation_is_refused_alone(
    operator, merchant, django_capture_on_commit_callbacks
):
    job = _ready_job(operator, 4, django_capture_on_commit_callbacks)
    make_request(merchant, reference="IMP-2")
    job = csv_io.import_create(job=job)
    assert job.status == CsvJob.Status.DONE and job.created_count == 3
    assert [(e["line"], e["column"]) for e in job.errors] == [(4, "reference")]
    assert set(PaymentRequest.objects.values_list("reference", flat=True)) == {
        "IMP-1",
        "IMP-2",
        "IMP-3",
        "IMP-4",
    }
