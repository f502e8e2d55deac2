"""Back-office pages for message templates: list, create, edit with a live preview, test
sends, archive and restore, and installing the shipped defaults.

Thin by design: reads go through ``notifications.selectors`` with ``request.merchant``,
changes through ``notifications.services``, and a refusal from a service is shown next to the
input it names. The live preview renders what is typed and never saves; viewers may look at
everything but change nothing (and send no tests: a test costs a real SMS with a provider).
"""

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from pushpay.errors import DomainError, InvalidInput
from pushpay.i18n import LANGUAGE_CODES, LANGUAGE_NAMES, language_or_default, other_languages
from pushpay.tenancy import MerchantViewMixin, can, require

from . import selectors, services
from .defaults import STAGE_NAMES
from .forms import SendTestForm, TemplateForm, input_name
from .models import MessageTemplate
from .rendering import VARIABLES, ListOf, check_source
from .segments import GSM7_BASIC, GSM7_EXTENSION, LIMITS, UCS2

PAGE_SIZE = 25


def _stage_name(stage: str) -> str:
    """A stage's name in the operator's language (the English names are the msgids)."""
    return _(STAGE_NAMES[stage]) if stage in STAGE_NAMES else ""


CHANNELS = MessageTemplate.Channel


class TemplatesViewMixin(MerchantViewMixin):
    """Finds the merchant's template named in the URL (404 for anyone else's)."""

    def get_template_or_404(self, public_id: str) -> MessageTemplate:
        template = selectors.template_get(merchant=self.request.merchant, public_id=public_id)
        if template is None:
            raise Http404("No such template.")
        return template

    def context(self, **extra: Any) -> dict[str, Any]:
        return {"can_edit": can(self.request.membership, "templates.manage"), **extra}


# --- Preview --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewProblem:
    label: str
    message: str


def _variable_names() -> list[str]:
    names = []
    for name, shape in VARIABLES.items():
        if isinstance(shape, dict):
            names.extend(f"{name}.{leaf}" for leaf in shape)
        elif isinstance(shape, ListOf):
            names.append(name)
            names.extend(f"item.{leaf}" for leaf in shape.item)
        else:
            names.append(name)
    return names


VARIABLE_NAMES = _variable_names()


def _not_gsm7(text: str) -> list[str]:
    """The characters that turn an SMS into UCS-2, so the operator knows what to replace."""
    seen: dict[str, None] = {}
    for char in text:
        if char not in GSM7_BASIC and char not in GSM7_EXTENSION:
            seen.setdefault(char, None)
    return list(seen)


def preview_context(
    *, merchant: Any, channel: str, texts: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """What the preview pane shows for texts as typed, saved or not.

    Each text is checked by the same sandbox as a save; a refused one is reported with its
    field and line and left out of the rendering, so the other fields and languages still
    preview while the operator fixes it.
    """
    problems: list[PreviewProblem] = []
    field_errors: dict[str, str] = {}
    usable: dict[str, dict[str, str]] = {}
    labels = TemplateForm(channel=channel).fields
    for field, by_language in texts.items():
        usable[field] = {}
        for language, source in by_language.items():
            if not source.strip():
                continue
            try:
                check_source(source, field=f"{field}.{language}")
            except InvalidInput as refusal:
                name = input_name(field, language)
                label = labels[name].label
                problems.append(PreviewProblem(label=label, message=refusal.localized))
                field_errors[name] = f"{label}: {refusal.localized}"
                continue
            usable[field][language] = source
    result = {
        "channel": channel,
        "problems": problems,
        "previews": [],
        # Every input's error slot, so a live check also clears an error once it is fixed.
        "field_errors": [
            (input_name(field, language), field_errors.get(input_name(field, language), ""))
            for field in texts
            for language in LANGUAGE_CODES
        ],
    }
    if not any(usable.get("body_text", {}).values()):
        return result
    draft = MessageTemplate(
        merchant=merchant,
        channel=channel,
        subject=usable.get("subject", {}),
        body_text=usable["body_text"],
        body_html=usable.get("body_html", {}),
    )
    try:
        rendered = services.template_preview(template=draft)
    except DomainError as refusal:
        problems.append(
            PreviewProblem(label=refusal.field or "Template", message=refusal.localized)
        )
        return result
    for language in LANGUAGE_CODES:
        message = rendered[language]
        sms = None
        if message.sms is not None:
            single, per_segment = LIMITS[message.sms.encoding]
            sms = {
                **message.sms.as_dict(),
                "single": single,
                "per_segment": per_segment,
                "culprits": _not_gsm7(message.text) if message.sms.encoding == UCS2 else [],
            }
        result["previews"].append(
            {
                "code": language,
                "name": LANGUAGE_NAMES[language],
                "fallback": _borrowed_from(usable.get("body_text", {}), language),
                "subject": message.subject,
                "subject_fallback": _borrowed_from(usable.get("subject", {}), language),
                "text": message.text,
                "html": message.html,
                "html_fallback": _borrowed_from(usable.get("body_html", {}), language),
                "sms": sms,
            }
        )
    return result


def _borrowed_from(texts: dict[str, str], language: str) -> str:
    """The language a field falls back to when this one was left blank, for the preview."""
    if texts.get(language):
        return ""
    others = [other for other in other_languages(language) if texts.get(other)]
    return LANGUAGE_NAMES[others[0]] if others else ""


def _texts_of(template: MessageTemplate) -> dict[str, dict[str, str]]:
    fields = ("body_text",) if template.channel == CHANNELS.SMS else ("subject", "body_text")
    if template.channel == CHANNELS.EMAIL:
        fields += ("body_html",)
    return {field: dict(getattr(template, field) or {}) for field in fields}


def _sources(template: MessageTemplate, texts: dict[str, dict[str, str]]) -> list[dict]:
    """The stored texts by language, labelled as in the editor."""
    form = TemplateForm(channel=template.channel)
    return [
        {
            "code": language,
            "name": LANGUAGE_NAMES[language],
            "fields": [
                (form.fields[input_name(field, language)].label, by_language.get(language, ""))
                for field, by_language in texts.items()
            ],
        }
        for language in LANGUAGE_CODES
    ]


class TemplatePreviewView(TemplatesViewMixin, View):
    """Renders what the editor holds (htmx swaps the result into the page); never saves."""

    def post(self, request: HttpRequest) -> HttpResponse:
        channel = request.POST.get("channel")
        if channel not in CHANNELS.values:
            channel = CHANNELS.EMAIL
        form = TemplateForm(request.POST, channel=channel)
        return render(
            request,
            "notifications/_template_preview.html",
            {
                **preview_context(merchant=request.merchant, channel=channel, texts=form.texts()),
                "live": True,
            },
        )


# --- Pages ----------------------------------------------------------------------------------


class TemplateListView(TemplatesViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        channel = request.GET.get("channel") or None
        if channel not in CHANNELS.values:
            channel = None
        archived = {"active": False, "archived": True}.get(request.GET.get("status", ""))
        templates = selectors.template_list(
            merchant=request.merchant, channel=channel, archived=archived
        )
        page = Paginator(templates, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = [(template, _stage_name(template.default_stage)) for template in page]
        return render(
            request,
            "notifications/template_list.html",
            self.context(
                page=page,
                rows=rows,
                channels=CHANNELS.choices,
                selected_channel=channel or "",
                selected_status=request.GET.get("status", "") if archived is not None else "",
            ),
        )


class TemplateDetailView(TemplatesViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        template = self.get_template_or_404(public_id)
        return self._render(template, SendTestForm(initial={"language": self._language()}))

    def _language(self) -> str:
        default = self.request.merchant.default_language
        return language_or_default(default, LANGUAGE_CODES[0])

    def _render(
        self, template: MessageTemplate, send_form: SendTestForm, status: int = 200
    ) -> HttpResponse:
        texts = _texts_of(template)
        return render(
            self.request,
            "notifications/template_detail.html",
            self.context(
                template=template,
                stage_name=_stage_name(template.default_stage),
                sources=_sources(template, texts),
                send_form=send_form,
                operator_email=self.request.user.email,
                **preview_context(
                    merchant=self.request.merchant, channel=template.channel, texts=texts
                ),
            ),
            status=status,
        )


class TemplateCreateView(TemplatesViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        require(request, "templates.manage")
        channel = request.GET.get("channel")
        if channel not in CHANNELS.values:
            channel = CHANNELS.EMAIL
        return self._render(TemplateForm(channel=channel, initial={"channel": channel}))

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "templates.manage")
        channel = request.POST.get("channel")
        if channel not in CHANNELS.values:
            channel = CHANNELS.EMAIL
        form = TemplateForm(request.POST, channel=channel)
        if form.is_valid():
            try:
                template = services.template_create(
                    merchant=request.merchant,
                    name=form.cleaned_data["name"],
                    channel=channel,
                    **form.localized(),
                )
            except DomainError as exc:
                form.add_service_error(exc)
            else:
                messages.success(
                    request, _("Template “%(name)s” created.") % {"name": template.name}
                )
                return redirect("notifications:template_detail", template.public_id)
        return self._render(form, status=422)

    def _render(self, form: TemplateForm, status: int = 200) -> HttpResponse:
        return render(
            self.request,
            "notifications/template_form.html",
            self.context(
                form=form,
                variables=VARIABLE_NAMES,
                **_form_preview(self.request, form),
            ),
            status=status,
        )


class TemplateEditView(TemplatesViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "templates.manage")
        template = self.get_template_or_404(public_id)
        form = TemplateForm(channel=template.channel, initial=TemplateForm.initial_for(template))
        return self._render(template, form)

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "templates.manage")
        template = self.get_template_or_404(public_id)
        form = TemplateForm(request.POST, channel=template.channel)
        if form.is_valid():
            try:
                template = services.template_update(
                    template=template, name=form.cleaned_data["name"], **form.localized()
                )
            except DomainError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("Template “%(name)s” saved.") % {"name": template.name})
                return redirect("notifications:template_detail", template.public_id)
        return self._render(template, form, status=422)

    def _render(
        self, template: MessageTemplate, form: TemplateForm, status: int = 200
    ) -> HttpResponse:
        return render(
            self.request,
            "notifications/template_form.html",
            self.context(
                template=template,
                form=form,
                variables=VARIABLE_NAMES,
                **_form_preview(self.request, form),
            ),
            status=status,
        )


def _form_preview(request: HttpRequest, form: TemplateForm) -> dict[str, Any]:
    """The preview as the page opens, so it is right before the first keystroke."""
    return preview_context(
        merchant=request.merchant, channel=form.channel_value, texts=form.texts()
    )


class TemplateSendTestView(TemplateDetailView):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        # Looked up first, so another merchant's id is a 404 here too, not a redirect.
        template = self.get_template_or_404(public_id)
        return redirect("notifications:template_detail", template.public_id)

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "templates.manage")
        template = self.get_template_or_404(public_id)
        form = SendTestForm(request.POST)
        if form.is_valid():
            sms = template.channel == CHANNELS.SMS
            to = form.cleaned_data["phone"] if sms else request.user.email
            try:
                services.template_send_test(
                    template=template, to=to, language=form.cleaned_data["language"]
                )
            except DomainError as exc:
                form.add_error("phone" if sms and exc.field == "to" else None, exc.localized)
            else:
                language = LANGUAGE_NAMES[form.cleaned_data["language"]]
                messages.success(
                    request,
                    _("Test message (%(language)s) sent to %(to)s.")
                    % {"language": language, "to": to},
                )
                return redirect("notifications:template_detail", template.public_id)
        return self._render(template, form, status=422)


class TemplateArchiveView(TemplatesViewMixin, View):
    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "templates.manage")
        template = services.template_archive(template=self.get_template_or_404(public_id))
        messages.success(
            request,
            _(
                "Template “%(name)s” archived: new scenario steps cannot use it; "
                "steps that already do keep sending it."
            )
            % {"name": template.name},
        )
        return redirect("notifications:template_detail", template.public_id)


class TemplateRestoreView(TemplatesViewMixin, View):
    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "templates.manage")
        template = services.template_restore(template=self.get_template_or_404(public_id))
        messages.success(request, _("Template “%(name)s” restored.") % {"name": template.name})
        return redirect("notifications:template_detail", template.public_id)


class TemplateInstallDefaultsView(TemplatesViewMixin, View):
    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "templates.manage")
        before = set(
            selectors.template_list(merchant=request.merchant).values_list("pk", flat=True)
        )
        installed = services.template_install_defaults(merchant=request.merchant)
        added = [template for template in installed if template.pk not in before]
        if added:
            messages.success(
                request,
                _(
                    "%(count)s default templates installed. Defaults you already had were "
                    "left as you edited them."
                )
                % {"count": len(added)},
            )
        else:
            messages.info(request, _("Every default template is already installed."))
        return redirect("notifications:template_list")
