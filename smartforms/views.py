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

from pushpay.errors import DomainError, InvalidFields, StateConflict
from pushpay.i18n import LANGUAGE_CODES, LANGUAGE_NAMES, LANGUAGES, language_or_default
from pushpay.tenancy import MerchantViewMixin, can, require

from . import builder, selectors, services
from .definition import fields_check
from .fieldtypes import FIELD_TYPES
from .forms import FIELDS_EXAMPLE, FormDefinitionForm, answers_from_post, fields_to_text
from .models import Form, FormVersion, Submission
from .rendering import fields_render, form_version_render

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


class FormJsonCreateView(FormsViewMixin, View):
    """The advanced editor: the whole definition as JSON, as the API takes it."""

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


class FormJsonEditView(FormsViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "forms.manage")
        form = self.get_form_or_404(public_id)
        if not form.is_active:
            return _archived_redirect(request, form)
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


def _archived_redirect(request: HttpRequest, form: Form) -> HttpResponse:
    messages.info(request, _("This form is archived: it can no longer be changed."))
    return redirect("smartforms:form_detail", form.public_id)


# --- The builder ------------------------------------------------------------------------------


def builder_preview(rows: list[builder.Row]) -> dict[str, Any]:
    """The payer's form in each language for the rows as they stand, saved or not.

    Rendered by the payer page's own code and template; rows that still have a mistake are
    left out (and counted), so the preview keeps working while the operator fixes them.
    """
    definitions, _row_of = builder.definitions_from_rows(rows)
    valid, problems = fields_check(definitions) if definitions else ([], [])
    return {
        "preview_languages": [
            {
                "code": language,
                "name": LANGUAGE_NAMES[language],
                "texts": PREVIEW_TEXTS[language],
                "form_fields": fields_render(
                    fields=valid, language=language, prefix=f"{language}-"
                ),
            }
            for language in LANGUAGE_CODES
        ],
        "preview_left_out": len(definitions) - len(valid),
        "preview_has_problems": bool(problems),
    }


class FormBuilderMixin(FormsViewMixin):
    """The builder's page for a new form (``form`` None) or an existing one.

    Buttons other than Save (Preview, Add a field, Move up/down) only redraw the page, so
    everything works without JavaScript; Save goes through the same services as the JSON
    editor, and every refusal is shown at its row and input at once.
    """

    def builder_get(self, form: Form | None) -> HttpResponse:
        if form is None:
            return self.render_builder(None, name="", rows=[builder.blank_row()])
        rows = builder.rows_from_definitions(form.current_version.fields)
        return self.render_builder(form, name=form.name, rows=rows)

    def builder_post(self, form: Form | None) -> HttpResponse:
        request = self.request
        rows, problems = builder.rows_from_post(request.POST)
        name = request.POST.get("name", "")
        action = request.POST.get("action", "save")
        if request.POST.get("move"):
            rows = builder.rows_move(rows, request.POST["move"])
            action = "move"
        if action == "add":
            rows.append(builder.blank_row())
        if problems:
            return self.render_builder(form, name=name, rows=rows, general=problems, status=422)
        if action != "save":
            return self.render_builder(form, name=name, rows=rows)
        definitions, row_of = builder.definitions_from_rows(rows)
        before = form.current_version if form is not None else None
        try:
            if form is None:
                saved = services.form_create(
                    merchant=request.merchant, name=name, fields=definitions
                )
            else:
                saved = services.form_update(form=form, name=name, fields=definitions)
        except StateConflict as exc:
            if form is None:  # pragma: no cover - creating a form has no state to conflict
                raise
            messages.error(request, exc.message)
            return redirect("smartforms:form_detail", form.public_id)
        except DomainError as exc:
            refusals = exc.refusals if isinstance(exc, InvalidFields) else [exc]
            name_errors, general = builder.place_refusals(rows, row_of, refusals)
            return self.render_builder(
                form,
                name=name,
                rows=rows,
                name_errors=name_errors.get("name", []),
                general=general,
                status=422,
            )
        if before is None:
            messages.success(
                request, _("Form “%(name)s” created as version 1.") % {"name": saved.name}
            )
        else:
            messages.success(request, _saved_message(before, saved.current_version))
        return redirect("smartforms:form_detail", saved.public_id)

    def render_builder(
        self,
        form: Form | None,
        *,
        name: str,
        rows: list[builder.Row],
        name_errors: list[str] | None = None,
        general: list[str] | None = None,
        status: int = 200,
    ) -> HttpResponse:
        for index, row in enumerate(rows):
            row.index = index
            row.prefix = f"{builder.PREFIX}-{index}"
        template_row = builder.blank_row()
        template_row.index = "__prefix__"
        template_row.prefix = f"{builder.PREFIX}-__prefix__"
        error_count = (
            sum(row.error_count for row in rows) + len(name_errors or []) + len(general or [])
        )
        return render(
            self.request,
            "smartforms/form_builder.html",
            self.context(
                form=form,
                version=form.current_version if form else None,
                name=name,
                name_errors=name_errors or [],
                general_errors=general or [],
                error_count=error_count,
                rows=rows,
                template_row=template_row,
                total_forms=len(rows),
                max_forms=builder.MAX_FIELDS,
                types=[(kind, builder.TYPE_NAMES[kind]) for kind in FIELD_TYPES],
                option_types=builder.option_types(),
                choice_types=" ".join(
                    kind.name for kind in FIELD_TYPES.values() if "choices" in kind.options
                ),
                **builder_preview(rows),
            ),
            status=status,
        )


class FormCreateView(FormBuilderMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        require(request, "forms.manage")
        return self.builder_get(None)

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "forms.manage")
        return self.builder_post(None)


class FormEditView(FormBuilderMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "forms.manage")
        form = self.get_form_or_404(public_id)
        if not form.is_active:
            return _archived_redirect(request, form)
        return self.builder_get(form)

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "forms.manage")
        return self.builder_post(self.get_form_or_404(public_id))


class FormBuilderPreviewView(FormsViewMixin, View):
    """The live preview's pane for the builder's rows as posted (fetched as the operator
    types); saves nothing, so any member may ask for it."""

    def post(self, request: HttpRequest) -> HttpResponse:
        rows, _problems = builder.rows_from_post(request.POST)
        return render(request, "smartforms/_builder_preview.html", builder_preview(rows))


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
