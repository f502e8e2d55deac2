"""Back-office CSV import and export of payment requests: thin pages over
``requests_app.services.csv_io``, with a job page that shows progress (a static script polls
the JSON status; without JavaScript the page refreshes itself while the job runs)."""

from django import forms
from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from pushpay.errors import DomainError
from pushpay.tenancy import MerchantViewMixin, can, require

from . import selectors
from .models import CsvJob
from .services import csv_io
from .views import _method_choices, _scenario_choices

# Up to this many matching requests the export is streamed at once; above, a background job.
EXPORT_STREAM_MAX = 500


def _csv_response(text_or_stream, filename: str) -> HttpResponse:
    if isinstance(text_or_stream, str):
        response = HttpResponse(text_or_stream, content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(text_or_stream, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _job_or_404(request: HttpRequest, public_id: str) -> CsvJob:
    job = selectors.csv_job_get(
        merchant=request.merchant, livemode=request.livemode, public_id=public_id
    )
    if job is None:
        raise Http404("No such import or export.")
    return job


class RequestExportView(MerchantViewMixin, View):
    """ "Export CSV" of the list: every request its filters match, not only the page shown.

    A POST (the list's form carries the filters), since a large export makes a job."""

    def post(self, request: HttpRequest) -> HttpResponse:
        from .filters import BackOfficeRequestFilter

        # The list's form sends every field, the empty ones too ("status=" is no status).
        query = QueryDict(mutable=True)
        for key, values in request.POST.lists():
            kept = [value for value in values if value.strip()]
            if key not in ("csrfmiddlewaretoken", "page") and kept:
                query.setlist(key, kept)
        # The downstream apps' choices are checked here, where views may read them.
        checked = BackOfficeRequestFilter(
            query,
            queryset=selectors.payment_request_list(
                merchant=request.merchant, livemode=request.livemode
            ),
            currency=request.merchant.default_currency,
            scenario_choices=_scenario_choices(request.merchant),
            method_choices=_method_choices(request.merchant),
        )
        if not checked.is_valid():
            messages.error(request, _("Fix the filters before exporting."))
            return redirect(f"{reverse('backoffice:request_list')}?{query.urlencode()}")
        requests = checked.qs
        total = requests.count()
        if total <= EXPORT_STREAM_MAX:
            rows = csv_io.export_rows(
                merchant=request.merchant, requests=requests.iterator(chunk_size=500)
            )
            return _csv_response(csv_io.export_stream(rows), "payment-requests.csv")
        job = csv_io.csv_export_start(
            merchant=request.merchant,
            livemode=request.livemode,
            user=request.user,
            query={key: query.getlist(key) for key in query},
            total=total,
        )
        return redirect("backoffice:csv_job", public_id=job.public_id)


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy("UTF-8, comma or semicolon separated, at most 2 MB and 5,000 rows."),
    )


class ImportTemplateView(MerchantViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return _csv_response(csv_io.import_template(), "payment-requests-template.csv")


class ImportUploadView(MerchantViewMixin, View):
    """Upload a file: it is read and every row checked before anything can be created."""

    template_name = "requests_app/csv_import.html"

    def _render(self, request: HttpRequest, form: ImportUploadForm, status: int = 200):
        jobs = list(
            CsvJob.objects.filter(
                merchant=request.merchant, livemode=request.livemode, kind=CsvJob.Kind.IMPORT
            )[:10]
        )
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "jobs": jobs,
                "columns": csv_io.IMPORT_COLUMNS,
                "max_rows": csv_io.MAX_IMPORT_ROWS,
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        require(request, "requests.create")
        return self._render(request, ImportUploadForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "requests.create")
        form = ImportUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(request, form, status=422)
        upload = form.cleaned_data["file"]
        if upload.size > csv_io.MAX_UPLOAD_BYTES:
            form.add_error(
                "file",
                _("The file is too large: at most %(size)d MB.")
                % {"size": csv_io.MAX_UPLOAD_BYTES // (1024 * 1024)},
            )
            return self._render(request, form, status=422)
        try:
            job = csv_io.csv_import_upload(
                merchant=request.merchant,
                livemode=request.livemode,
                user=request.user,
                filename=upload.name or "",
                data=upload.read(csv_io.MAX_UPLOAD_BYTES + 1),
            )
        except DomainError as refused:
            form.add_error("file", refused.localized)
            return self._render(request, form, status=422)
        return redirect("backoffice:csv_job", public_id=job.public_id)


class CsvJobView(MerchantViewMixin, View):
    """The job's page: progress while it runs, then its errors, its confirmation button
    or its download link."""

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        job = _job_or_404(request, public_id)
        return render(
            request,
            "requests_app/csv_job.html",
            {
                "job": job,
                "errors": job.errors[:1000],
                "more_errors": max(0, len(job.errors) - 1000),
                "can_create": can(request.membership, "requests.create"),
            },
        )


class CsvJobStatusView(MerchantViewMixin, View):
    """What the progress script polls."""

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        job = _job_or_404(request, public_id)
        return JsonResponse(
            {
                "id": job.public_id,
                "kind": job.kind,
                "status": job.status,
                "status_label": _(job.get_status_display()),
                "total": job.total,
                "processed": job.processed,
                "percent": job.percent,
                "created": job.created_count,
                "errors": len(job.errors),
                "finished": job.finished,
            }
        )


class CsvJobDownloadView(MerchantViewMixin, View):
    """An export's file once written; for an import, its errors (line, column, message) as a
    CSV to fix the file beside."""

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        job = _job_or_404(request, public_id)
        if job.kind == CsvJob.Kind.IMPORT:
            return _csv_response(
                csv_io.errors_csv(job.errors), f"import-errors-{job.public_id}.csv"
            )
        if job.status != CsvJob.Status.DONE:
            raise Http404("This export has no file yet.")
        return _csv_response(job.result, f"payment-requests-{job.public_id}.csv")


class CsvJobConfirmView(MerchantViewMixin, View):
    """Confirm a checked import: its requests are created in the background, once."""

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "requests.create")
        job = _job_or_404(request, public_id)
        try:
            csv_io.csv_import_confirm(job=job)
        except DomainError as refused:
            messages.error(request, refused.localized)
        return redirect("backoffice:csv_job", public_id=job.public_id)
