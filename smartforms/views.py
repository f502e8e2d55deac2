"""Back-office pages for smart forms: list, create, edit, preview, archive, submissions.

Thin by design: reads go through ``smartforms.selectors`` with ``request.merchant``, changes
through ``smartforms.services``, and a refusal from a service is shown next to the input it
names. Viewers may look at everything but change nothing.
"""

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from pushpay.errors import DomainError, StateConflict
from pushpay.i18n import LANGUAGE_CODES, LANGUAGES, language_or_default
from pushpay.tenancy import MerchantViewMixin, can, require

from . import selectors, services
from .forms import FIELDS_EXAMPLE, FormDefinitionForm, answers_from_post, fields_to_text
from .models import Form, FormVersion, Submission
from .rendering import form_version_render

PAGE_SIZE = 25
SUBMISSIONS_PAGE_SIZE = 50
# The back office itself is in English; only the preview speaks the payer's language.
OPERATOR_LANGUAGE = "en"
PREVIEW_TEXTS = {
    "fr": {"required": "obligatoire", "legend": "Les champs marqués * sont obligatoires."},
    "en": {"required": "required", "legend": "Fields marked * are required."},
}


class FormsViewMixin(MerchantViewMixin):
    """Finds the merchant's form named in the URL (404 for anyone else's) and exposes roles."""

    def get_form_or_404(self, public_id: str) -> Form:
        form = selectors.form_get(merchant=self.request.merchant, public_id=public_id)
        if form is None:
            raise Http404("No such form.")
        return form

    def context(self, **extra: Any) -> dict[str, Any]:
        return {"can_edit": can(self.request.membership, "forms.manage"), **extra}


class FormListView(FormsViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        status = request.GET.get("status") or None
        if status not in Form.Status.values:
            status = None
        # The count is joined into the one list query, so the page costs the same for any size;
        # a GROUP BY drops Meta.ordering, hence the explicit order.
        forms = (
            selectors.form_list(merchant=request.merchant, status=status)
            .annotate(submission_count=Count("versions__submissions"))
            .order_by(*Form._meta.ordering)
        )
        page = Paginator(forms, PAGE_SIZE).get_page(request.GET.get("page"))
        return render(
            request,
            "smartforms/form_list.html",
            self.context(page=page, statuses=Form.Status.choices, selected_status=status or ""),
        )


class FormDetailView(FormsViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        form = self.get_form_or_404(public_id)
        version = form.current_version
        return render(
            request,
            "smartforms/form_detail.html",
            self.context(
                form=form,
                version=version,
                fields=form_version_render(form_version=version, language=OPERATOR_LANGUAGE),
                submission_count=selectors.submission_list(
                    merchant=request.merchant, form=form
                ).count(),
            ),
        )


class FormCreateView(FormsViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        require(request, "forms.manage")
        return self._render(FormDefinitionForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "forms.manage")
        definition = FormDefinitionForm(request.POST)
        if definition.is_valid():
            try:
                form = services.form_create(
                    merchant=request.merchant,
                    name=definition.cleaned_data["name"],
                    fields=definition.cleaned_data["fields_json"],
                )
            except DomainError as exc:
                definition.add_service_error(exc)
            else:
                messages.success(
                    request, _("Form “%(name)s” created as version 1.") % {"name": form.name}
                )
                return redirect("smartforms:form_detail", form.public_id)
        return self._render(definition, status=422)

    def _render(self, definition: FormDefinitionForm, status: int = 200) -> HttpResponse:
        return render(
            self.request,
            "smartforms/form_form.html",
            self.context(definition=definition, example=fields_to_text(FIELDS_EXAMPLE)),
            status=status,
        )


class FormEditView(FormsViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "forms.manage")
        form = self.get_form_or_404(public_id)
        if not form.is_active:
            messages.info(request, _("This form is archived: it can no longer be changed."))
            return redirect("smartforms:form_detail", form.public_id)
        definition = FormDefinitionForm(
            initial={
                "name": form.name,
                "fields_json": fields_to_text(form.current_version.fields),
            }
        )
        return self._render(form, definition)

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "forms.manage")
        form = self.get_form_or_404(public_id)
        before = form.current_version
        definition = FormDefinitionForm(request.POST)
        if definition.is_valid():
            try:
                updated = services.form_update(
                    form=form,
                    name=definition.cleaned_data["name"],
                    fields=definition.cleaned_data["fields_json"],
                )
            except StateConflict as exc:
                messages.error(request, exc.localized)
                return redirect("smartforms:form_detail", form.public_id)
            except DomainError as exc:
                definition.add_service_error(exc)
            else:
                messages.success(request, _saved_message(before, updated.current_version))
                return redirect("smartforms:form_detail", form.public_id)
        return self._render(form, definition, status=422)

    def _render(
        self, form: Form, definition: FormDefinitionForm, status: int = 200
    ) -> HttpResponse:
        return render(
            self.request,
            "smartforms/form_form.html",
            self.context(
                form=form,
                version=form.current_version,
                definition=definition,
                example=fields_to_text(FIELDS_EXAMPLE),
            ),
            status=status,
        )


def _saved_message(before: FormVersion, after: FormVersion) -> str:
    if after.number != before.number:
        return _(
            "Saved as version %(version)s. Version %(before)s stays as it was for "
            "the answers and payment requests that use it."
        ) % {"version": after.number, "before": before.number}
    return _("Saved. Version %(version)s is up to date.") % {"version": after.number}


class FormPreviewView(FormsViewMixin, View):
    """The payer's view of the current version; submitting only runs the dry run."""

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        form = self.get_form_or_404(public_id)
        language = self._language(request.GET.get("lang"))
        return self._render(form, language)

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        form = self.get_form_or_404(public_id)
        language = self._language(request.POST.get("lang"))
        version = form.current_version
        answers = answers_from_post(
            request.POST, form_version_render(form_version=version, language=language)
        )
        try:
            cleaned = services.submission_dry_run(
                form_version=version, answers=answers, language=language
            )
        except DomainError as exc:
            key = (exc.field or "").removeprefix("answers.")
            known = {field["key"] for field in version.fields}
            errors = {key: exc.localized} if key in known else {}
            problem = "" if errors else exc.localized
            return self._render(
                form, language, answers=answers, errors=errors, problem=problem, status=422
            )
        return self._render(form, language, answers=answers, accepted=cleaned)

    def _language(self, wanted: str | None) -> str:
        default = language_or_default(self.request.merchant.default_language, LANGUAGE_CODES[0])
        return language_or_default(wanted, default)

    def _render(
        self,
        form: Form,
        language: str,
        *,
        answers: dict | None = None,
        errors: dict[str, str] | None = None,
        problem: str = "",
        accepted: dict | None = None,
        status: int = 200,
    ) -> HttpResponse:
        version = form.current_version
        fields = form_version_render(
            form_version=version, language=language, answers=answers, errors=errors
        )
        return render(
            self.request,
            "smartforms/form_preview.html",
            self.context(
                form=form,
                version=version,
                fields=fields,
                language=language,
                languages=LANGUAGES,
                texts=PREVIEW_TEXTS[language],
                problem=problem,
                accepted=_accepted_rows(fields, accepted) if accepted is not None else None,
            ),
            status=status,
        )


def _accepted_rows(fields: list[dict], cleaned: dict) -> list[tuple[str, str]]:
    return [(field["label"], _answer_text(field, cleaned.get(field["key"]))) for field in fields]


def _answer_text(field: dict | None, value: Any) -> str:
    """An answer as an operator reads it: choice labels rather than values, Yes/No for ticks."""
    if value is None or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    labels = {choice["value"]: choice["label"] for choice in (field or {}).get("choices", [])}
    if isinstance(value, list):
        return ", ".join(labels.get(item, str(item)) for item in value)
    return labels.get(value, str(value)) if isinstance(value, str) else str(value)


class FormArchiveView(FormsViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "forms.manage")
        form = self.get_form_or_404(public_id)
        return render(request, "smartforms/form_confirm_archive.html", self.context(form=form))

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "forms.manage")
        form = self.get_form_or_404(public_id)
        form = services.form_archive(form=form)
        messages.success(
            request,
            _(
                "Form “%(name)s” archived. It no longer accepts answers; "
                "its versions and submissions are kept."
            )
            % {"name": form.name},
        )
        return redirect("smartforms:form_detail", form.public_id)


class SubmissionListView(FormsViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        form = self.get_form_or_404(public_id)
        submissions = selectors.submission_list(merchant=request.merchant, form=form)
        page = Paginator(submissions, SUBMISSIONS_PAGE_SIZE).get_page(request.GET.get("page"))
        columns, rows = _submission_table(form.current_version, list(page))
        return render(
            request,
            "smartforms/submission_list.html",
            self.context(form=form, page=page, columns=columns, rows=rows),
        )


def _submission_table(
    current: FormVersion, submissions: list[Submission]
) -> tuple[list[dict], list[dict]]:
    """Columns for every question asked on this page, current version's order first.

    Older versions may have had other questions; their answers still get a column, labelled
    as that version asked them, so nothing a payer answered is hidden.
    """
    versions = {current.pk: current}
    for submission in submissions:
        versions.setdefault(submission.form_version_id, submission.form_version)
    rendered = {
        pk: {
            field["key"]: field
            for field in form_version_render(form_version=version, language=OPERATOR_LANGUAGE)
        }
        for pk, version in versions.items()
    }
    columns: dict[str, dict] = dict(rendered[current.pk])
    for pk in sorted(versions, key=lambda pk: -versions[pk].number):
        for key, field in rendered[pk].items():
            columns.setdefault(key, field)
    rows = []
    for submission in submissions:
        asked = rendered[submission.form_version_id]
        rows.append(
            {
                "submission": submission,
                "cells": [
                    _answer_text(asked.get(key), submission.answers.get(key))
                    if key in asked
                    else ""
                    for key in columns
                ],
            }
        )
    return [{"key": key, "label": field["label"]} for key, field in columns.items()], rows
