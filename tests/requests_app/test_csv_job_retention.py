"""Finished CSV jobs, with the rows and files they hold, are deleted after
``CSV_JOB_RETENTION_DAYS``; a job still at work is kept whatever its age."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import module_loading

from pushpay.schedules import SCHEDULES, install_schedules
from requests_app.models import CsvJob
from requests_app.services import csv_io
from requests_app.tasks import purge_old_csv_jobs

pytestmark = pytest.mark.django_db

START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
FILE = (
    b"reference,currency,amount,participant_name,participant_email\n"
    b"RET-1,EUR,10.00,Ann Martin,ann@example.com\n"
)


def _job(merchant, status: str, **extra) -> CsvJob:
    job = csv_io.csv_export_start(merchant=merchant, livemode=False, user=None, query={}, total=0)
    CsvJob.objects.filter(pk=job.pk).update(status=status, **extra)
    return job


def test_the_purge_is_installed_as_an_hourly_schedule():
    spec = next(s for s in SCHEDULES if s["name"] == "purge-old-csv-jobs")
    assert callable(module_loading.import_string(spec["func"]))
    assert "purge-old-csv-jobs" in install_schedules()


def test_finished_jobs_go_after_the_retention_and_not_a_day_before(merchant, settings):
    settings.CSV_JOB_RETENTION_DAYS = 7
    with time_machine.travel(START, tick=False):
        finished = {
            status: _job(merchant, status, result="\ufeffrequest_id\n")
            for status in (
                CsvJob.Status.DONE,
                CsvJob.Status.FAILED,
                CsvJob.Status.INVALID,
                CsvJob.Status.READY,
            )
        }
    with time_machine.travel(START + timedelta(days=6, hours=23), tick=False):
        assert purge_old_csv_jobs() == 0
    assert CsvJob.objects.count() == 4
    with time_machine.travel(START + timedelta(days=7, minutes=1), tick=False):
        assert purge_old_csv_jobs() == 4
    assert not CsvJob.objects.filter(pk__in=[j.pk for j in finished.values()]).exists()


def test_a_job_still_at_work_is_never_deleted_however_old(merchant, settings):
    settings.CSV_JOB_RETENTION_DAYS = 1
    with time_machine.travel(START, tick=False):
        working = [
            _job(merchant, status)
            for status in (CsvJob.Status.QUEUED, CsvJob.Status.RUNNING, CsvJob.Status.CREATING)
        ]
    with time_machine.travel(START + timedelta(days=400), tick=False):
        assert purge_old_csv_jobs() == 0
    assert CsvJob.objects.filter(pk__in=[j.pk for j in working]).count() == 3


def test_the_age_counts_from_when_the_job_finished_not_when_it_was_queued(merchant, settings):
    """An import checked, then confirmed a week later, keeps its result page for a full
    retention after it finished creating."""
    settings.CSV_JOB_RETENTION_DAYS = 7
    with time_machine.travel(START, tick=False):
        job = csv_io.import_check(
            job=csv_io.csv_import_upload(
                merchant=merchant, livemode=False, user=None, filename="r.csv", data=FILE
            )
        )
        assert job.status == CsvJob.Status.READY
    with time_machine.travel(START + timedelta(days=6), tick=False):
        csv_io.csv_import_confirm(job=job)
        job = csv_io.import_create(job=job)
        assert job.status == CsvJob.Status.DONE
    with time_machine.travel(START + timedelta(days=10), tick=False):
        assert purge_old_csv_jobs() == 0
    with time_machine.travel(START + timedelta(days=13, hours=1), tick=False):
        assert purge_old_csv_jobs() == 1
    assert not CsvJob.objects.filter(pk=job.pk).exists()


def test_the_retention_setting_is_read_at_each_run(merchant, settings):
    with time_machine.travel(START, tick=False):
        _job(merchant, CsvJob.Status.DONE)
    with time_machine.travel(START + timedelta(days=3), tick=False):
        settings.CSV_JOB_RETENTION_DAYS = 7
        assert purge_old_csv_jobs() == 0
        settings.CSV_JOB_RETENTION_DAYS = 2
        assert purge_old_csv_jobs() == 1


def test_a_purge_spans_several_batches_and_leaves_other_merchants_recent_jobs(
    merchant, other_merchant, settings, monkeypatch
):
    monkeypatch.setattr(csv_io, "PURGE_BATCH", 2)
    settings.CSV_JOB_RETENTION_DAYS = 7
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            _job(merchant, CsvJob.Status.DONE)
    with time_machine.travel(START + timedelta(days=5), tick=False):
        recent = _job(other_merchant, CsvJob.Status.DONE)
    with time_machine.travel(START + timedelta(days=8), tick=False):
        assert purge_old_csv_jobs() == 5
    assert list(CsvJob.objects.values_list("pk", flat=True)) == [recent.pk]
