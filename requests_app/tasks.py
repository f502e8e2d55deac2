"""django-q2 entry points for requests: thin wrappers over services."""

from django.utils import timezone, translation

from pushpay.i18n import is_supported_language

from . import events, selectors, services
from .models import PaymentRequest
from .ports import keeps_collecting


def close_expired_requests() -> int:
    """Close every request whose expiry has passed; runs every minute, safe to overlap.

    Holds are released by the reactions to ``request_expired``, after each close commits.
    """
    closed = 0
    for pk in selectors.payment_requests_past_expiry(now=timezone.now()):
        payment_request = PaymentRequest.objects.get(pk=pk)
        if not payment_request.is_collecting:
            continue  # another run closed it meanwhile
        if keeps_collecting(payment_request=payment_request):
            continue  # an installment plan still charges its share; a later run closes it
        services.payment_request_expire(payment_request=payment_request)
        closed += 1
    return closed


def event_react(event_pk: int) -> list[str]:
    return events.event_react(event_pk=event_pk)


def redrive_event_reactions() -> int:
    return events.events_redrive()


def purge_old_events() -> int:
    return events.events_purge()


def purge_old_csv_jobs() -> int:
    from .services import csv_io

    return csv_io.csv_jobs_purge()


def csv_job_run(job_pk: int) -> str:
    """The next step of an import or export job: check, create or write the file. A job
    already past that step is left alone, so a task delivered twice does nothing twice."""

    from .models import CsvJob

    job = CsvJob.objects.select_related("merchant").filter(pk=job_pk).first()
    if job is None:
        return "gone"
    language = job.payload.get("language") if isinstance(job.payload, dict) else None
    with translation.override(language if is_supported_language(language) else None):
        return _csv_job_step(job)


def _csv_job_step(job) -> str:
    from django.db.models import Q

    from .models import CsvJob
    from .services import csv_io

    try:
        if job.status == CsvJob.Status.CREATING:
            csv_io.import_create(job=job)
        elif job.kind == CsvJob.Kind.IMPORT and job.status == CsvJob.Status.QUEUED:
            csv_io.import_check(job=job)
        elif job.kind == CsvJob.Kind.EXPORT and job.status == CsvJob.Status.QUEUED:
            timezone.activate(csv_io.merchant_zone(job.merchant))  # dates of the filters
            try:
                requests, _errors = selectors.requests_matching(
                    merchant=job.merchant,
                    livemode=job.livemode,
                    query=_query_dict(job.payload.get("query", {})),
                    currency=job.merchant.default_currency,
                )
                if requests is None:  # filters checked by the view: only a changed choice
                    requests = PaymentRequest.objects.none()
                csv_io.csv_export_run(job=job, requests=requests.iterator(chunk_size=500))
            finally:
                timezone.deactivate()
        else:
            return job.status
    except Exception as exc:
        CsvJob.objects.filter(pk=job.pk).filter(~Q(status=CsvJob.Status.DONE)).update(
            updated_at=timezone.now(),
            status=CsvJob.Status.FAILED,
            errors=[*job.errors, {"line": 0, "column": "", "message": f"{type(exc).__name__}"}],
        )
        raise
    job.refresh_from_db()
    return job.status


def _query_dict(query: dict):
    from django.http import QueryDict

    result = QueryDict(mutable=True)
    for key, values in query.items():
        result.setlist(key, [str(v) for v in values])
    return result
