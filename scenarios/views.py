"""Back-office pages for scenarios (list, create, edit, detail, pause and resume) and for the
local outbox of the embedded default.

Thin by design: reads go through ``scenarios.selectors`` (and ``notifications.selectors``)
with ``request.merchant``, changes through ``scenarios.services``, and a refusal from a
service is shown next to the steps editor with the step path it names. Viewers may look at
everything but change nothing.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from notifications.selectors import template_list
from notifications.services import template_preview
from pushpay.errors import DomainError
from pushpay.i18n import LANGUAGE_NAMES
from pushpay.tenancy import MerchantViewMixin, can, merchant_zone, require

from . import builder, selectors, services
from .forms import STEPS_EXAMPLE, ScenarioForm, steps_to_input, steps_to_text
from .models import TIME_TRIGGERS, Audience, Channel, Scenario, Step, Trigger

PAGE_SIZE = 25
OUTBOX_PAGE_SIZE = 20

TRIGGER_LABELS = {
    Trigger.REQUEST_CREATED: gettext_lazy("Request sent"),
    Trigger.BEFORE_DEADLINE: gettext_lazy("Before the deadline"),
    Trigger.AFTER_DEADLINE: gettext_lazy("After the deadline"),
    Trigger.PAYMENT_FAILED: gettext_lazy("Payment failed"),
    Trigger.PAYMENT_SUCCEEDED: gettext_lazy("Payment succeeded"),
    Trigger.PARTICIPANT_PAID: gettext_lazy("A participant paid"),
    Trigger.REQUEST_COMPLETED: gettext_lazy("Request fully paid"),
    Trigger.REQUEST_EXPIRED: gettext_lazy("Request expired"),
    Trigger.INSTALLMENT_PLAN_CONFIRMED: gettext_lazy("Installment plan confirmed"),
    Trigger.INSTALLMENT_DUE: gettext_lazy("Installment due"),
    Trigger.INSTALLMENT_FAILED: gettext_lazy("Installment failed"),
    Trigger.INSTALLMENT_SUCCEEDED: gettext_lazy("Installment charged"),
    Trigger.INSTALLMENT_PLAN_COMPLETED: gettext_lazy("Installment plan completed"),
    Trigger.INSTALLMENT_PLAN_DEFAULTED: gettext_lazy("Installment plan defaulted"),
    Trigger.INSTALLMENT_PLAN_CANCELLED: gettext_lazy("Installment plan cancelled"),
}
AUDIENCE_LABELS = {
    Audience.UNPAID_PARTICIPANTS: gettext_lazy("Participants who still owe"),
    Audience.ALL_PARTICIPANTS: gettext_lazy("All participants"),
    Audience.INITIATOR: gettext_lazy("The initiator"),
    Audience.MERCHANT: gettext_lazy("The merchant"),
}
CHANNEL_LABELS = {
    Channel.EMAIL: gettext_lazy("Email"),
    Channel.SMS: gettext_lazy("SMS"),
    Channel.WEBHOOK: gettext_lazy("Webhook"),
}


# --- Reading steps as an operator -----------------------------------------------------------


_UNITS = (
    (604_800, lambda n: ngettext("%(count)s week", "%(count)s weeks", n)),
    (86_400, lambda n: ngettext("%(count)s day", "%(count)s days", n)),
    (3_600, lambda n: ngettext("%(count)s hour", "%(count)s hours", n)),
    (60, lambda n: ngettext("%(count)s minute", "%(count)s minutes", n)),
    (1, lambda n: ngettext("%(count)s second", "%(count)s seconds", n)),
)


def human_duration(seconds: int) -> str:
    """``2 days 6 hours`` rather than ``P2DT6H``: the table is read, not parsed, in the
    operator's language."""
    parts = []
    for size, unit in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(unit(count) % {"count": count})
    return " ".join(parts) or "0"


def describe_offset(step: Step) -> str:
    duration = human_duration(step.offset_seconds) if step.offset_seconds else ""
    if step.trigger == Trigger.BEFORE_DEADLINE:
        if not duration:
            return _("At the deadline")
        return _("%(duration)s before the deadline") % {"duration": duration}
    if step.trigger == Trigger.AFTER_DEADLINE:
        if not duration:
            return _("At the deadline")
        return _("%(duration)s after the deadline") % {"duration": duration}
    if step.trigger == Trigger.REQUEST_CREATED:
        if not duration:
            return _("At sending (send-at time, or creation)")
        return _("%(duration)s after sending (send-at time, or creation)") % {"duration": duration}
    if not duration:
        return _("At the event")
    return _("%(duration)s after the event") % {"duration": duration}


def describe_repeat(step: Step) -> str:
    if not step.repeat_every_seconds:
        return _("Once")
    values = {"every": human_duration(step.repeat_every_seconds), "count": step.repeat_max}
    if step.repeat_until_paid:
        return _("Every %(every)s, %(count)s messages in all, until paid") % values
    return _("Every %(every)s, %(count)s messages in all") % values


def describe_conditions(step: Step) -> list[str]:
    notes = []
    if step.only_if_unpaid:
        notes.append(_("only while unpaid"))
    if step.min_amount is not None:
        notes.append(
            _("only when at least %(amount)s minor units are due") % {"amount": step.min_amount}
        )
    if step.language:
        notes.append(
            _("only to recipients in %(language)s")
            % {"language": LANGUAGE_NAMES.get(step.language, step.language)}
        )
    if step.quiet_start is not None and step.quiet_end is not None:
        start, end = step.quiet_start.strftime("%H:%M"), step.quiet_end.strftime("%H:%M")
        notes.append(_("quiet hours %(start)s to %(end)s") % {"start": start, "end": end})
    return notes


def current_steps(scenario: Scenario) -> list[Step]:
    """The steps of the version new requests get (``scenario_list`` prefetches them all)."""
    steps = [step for step in scenario.all_steps if step.version == scenario.version]
    return sorted(steps, key=lambda step: step.position)


def step_rows(steps: list[Step]) -> list[dict[str, Any]]:
    return [
        {
            "step": step,
            "number": step.position + 1,
            "trigger": TRIGGER_LABELS.get(step.trigger, step.trigger),
            "offset": describe_offset(step),
            "repeat": describe_repeat(step),
            "audience": AUDIENCE_LABELS.get(step.audience, step.audience),
            "channel": CHANNEL_LABELS.get(step.channel, step.channel),
            "conditions": describe_conditions(step),
        }
        for step in steps
    ]


# --- Pages ----------------------------------------------------------------------------------


class ScenariosViewMixin(MerchantViewMixin):
    """Finds the merchant's scenario named in the URL (404 for anyone else's)."""

    def get_scenario_or_404(self, public_id: str) -> Scenario:
        scenario = selectors.scenario_get(merchant=self.request.merchant, public_id=public_id)
        if scenario is None:
            raise Http404("No such scenario.")
        return scenario

    def context(self, **extra: Any) -> dict[str, Any]:
        return {"can_edit": can(self.request.membership, "scenarios.manage"), **extra}

    def editor_context(self, form: ScenarioForm, **extra: Any) -> dict[str, Any]:
        merchant = self.request.merchant
        return self.context(
            definition=form,
            example=steps_to_text(STEPS_EXAMPLE),
            templates=template_list(merchant=merchant, archived=False),
            endpoints=selectors.webhook_endpoint_list(
                merchant=merchant, livemode=self.request.livemode
            ).filter(is_active=True),
            triggers=TRIGGER_LABELS,
            audiences=AUDIENCE_LABELS,
            **extra,
        )


class ScenarioListView(ScenariosViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        scenarios = selectors.scenario_list(merchant=request.merchant)
        page = Paginator(scenarios, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = [(scenario, len(current_steps(scenario))) for scenario in page]
        return render(request, "scenarios/scenario_list.html", self.context(page=page, rows=rows))


class ScenarioDetailView(ScenariosViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        scenario = self.get_scenario_or_404(public_id)
        return render(
            request,
            "scenarios/scenario_detail.html",
            self.context(scenario=scenario, rows=step_rows(current_steps(scenario))),
        )


class ScenarioCreateView(ScenariosViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        require(request, "scenarios.manage")
        return self._render(ScenarioForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "scenarios.manage")
        form = ScenarioForm(request.POST)
        if form.is_valid():
            try:
                scenario = services.scenario_create(
                    merchant=request.merchant,
                    name=form.cleaned_data["name"],
                    steps=form.cleaned_data["steps_json"],
                )
            except DomainError as exc:
                form.add_service_error(exc)
            else:
                messages.success(
                    request, _("Scenario “%(name)s” created.") % {"name": scenario.name}
                )
                return redirect("scenarios:scenario_detail", scenario.public_id)
        return self._render(form, status=422)

    def _render(self, form: ScenarioForm, status: int = 200) -> HttpResponse:
        return render(
            self.request,
            "scenarios/scenario_form.html",
            self.editor_context(form),
            status=status,
        )


class ScenarioEditView(ScenariosViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "scenarios.manage")
        scenario = self.get_scenario_or_404(public_id)
        form = ScenarioForm(
            initial={
                "name": scenario.name,
                "steps_json": steps_to_text(steps_to_input(current_steps(scenario))),
            }
        )
        return self._render(scenario, form)

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "scenarios.manage")
        scenario = self.get_scenario_or_404(public_id)
        before = scenario.version
        form = ScenarioForm(request.POST)
        if form.is_valid():
            try:
                updated = services.scenario_update(
                    scenario=scenario,
                    name=form.cleaned_data["name"],
                    steps=form.cleaned_data["steps_json"],
                )
            except DomainError as exc:
                form.add_service_error(exc)
            else:
                if updated.version != before:
                    note = _(
                        "Saved as version %(version)s. Requests already following "
                        "version %(before)s keep its messages."
                    ) % {"version": updated.version, "before": before}
                else:
                    note = _("Saved. Version %(version)s is up to date.") % {
                        "version": updated.version
                    }
                messages.success(request, note)
                return redirect("scenarios:scenario_detail", scenario.public_id)
        return self._render(scenario, form, status=422)

    def _render(self, scenario: Scenario, form: ScenarioForm, status: int = 200) -> HttpResponse:
        return render(
            self.request,
            "scenarios/scenario_form.html",
            self.editor_context(form, scenario=scenario),
            status=status,
        )


class ScenarioPauseView(ScenariosViewMixin, View):
    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "scenarios.manage")
        scenario = services.scenario_pause(scenario=self.get_scenario_or_404(public_id))
        messages.success(
            request,
            _("Scenario “%(name)s” paused: messages falling due are skipped, not delayed.")
            % {"name": scenario.name},
        )
        return redirect("scenarios:scenario_detail", scenario.public_id)


class ScenarioResumeView(ScenariosViewMixin, View):
    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "scenarios.manage")
        scenario = services.scenario_resume(scenario=self.get_scenario_or_404(public_id))
        messages.success(request, _("Scenario “%(name)s” resumed.") % {"name": scenario.name})
        return redirect("scenarios:scenario_detail", scenario.public_id)


class OutboxListView(MerchantViewMixin, View):
    """What the local outbox kept for this merchant: the embedded default's stand-in for an
    inbox and a phone, so operators can read exactly what payers would have received."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not selectors.outbox_in_use(livemode=request.livemode):
            return render(request, "scenarios/outbox_disabled.html")
        outbox = selectors.outbox_list(merchant=request.merchant, livemode=request.livemode)
        page = Paginator(outbox, OUTBOX_PAGE_SIZE).get_page(request.GET.get("page"))
        return render(request, "scenarios/outbox_list.html", {"page": page})


# --- The builder ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    """One message of the timeline preview, in the merchant's time zone."""

    due: datetime
    number: int
    trigger: str
    repetition: int
    repetitions: int
    channel: str
    template: str
    audience: str
    moved: bool  # pushed out of quiet hours
    past: bool  # due before the request is sent: the planner would not send it


def _template_choices(request: HttpRequest) -> list[dict[str, Any]]:
    """The merchant's active templates with a rendered sample in the page's language, so the
    row shows what the chosen one says (and the script can switch it without a round trip)."""
    language = translation.get_language() or request.merchant.default_language
    if language not in LANGUAGE_NAMES:
        language = request.merchant.default_language
    choices = []
    for template in template_list(merchant=request.merchant, archived=False).order_by(
        "channel", "name", "id"
    )[: builder.MAX_TEMPLATES]:
        subject = text = ""
        try:
            rendered = template_preview(template=template, languages=[language])[language]
            subject, text = rendered.subject or "", rendered.text
        except DomainError:
            text = ""
        choices.append(
            {
                "id": template.public_id,
                "name": template.name,
                "channel": template.channel,
                "channel_label": builder.CHANNELS.get(template.channel, template.channel),
                "subject": subject,
                "text": text,
            }
        )
    return choices


def timeline_context(
    request: HttpRequest, formset: Any, timeline_form: builder.TimelineForm
) -> dict[str, Any]:
    """The timeline preview of the rows as typed: the steps the service accepts, planned by
    the outbox's own rules for the example request; rows in error are named, not guessed."""
    merchant = request.merchant
    try:
        forms = list(formset.forms)
    except ValidationError:  # a tampered management form
        forms = []
    if formset.is_bound:
        rows = [row.cleaned_data if row.is_valid() else None for row in forms]
    else:
        rows = [{**builder.NEW_ROW, **row.initial} for row in forms]
    raw = [builder.row_to_step(row) for row in rows if row is not None]
    cleaned, _refusals = services.scenario_steps_check(merchant=merchant, steps=raw)
    numbers = [index + 1 for index, row in enumerate(rows) if row is not None]
    broken = [index + 1 for index, row in enumerate(rows) if row is None]
    steps = []
    for number, data in zip(numbers, cleaned, strict=False):
        if data is None:
            broken.append(number)
            continue
        step = Step(**{**data, "position": number - 1})
        steps.append(step)
    sent_at, deadline = timeline_form.dates()
    zone = merchant_zone(merchant)
    slots = services.timeline_preview(
        steps=steps, sent_at=sent_at, deadline=deadline, time_zone=zone.key
    )
    entries = [
        TimelineEntry(
            due=slot.due.astimezone(zone),
            number=slot.step.position + 1,
            trigger=builder.TRIGGERS.get(slot.step.trigger, slot.step.trigger),
            repetition=slot.repetition + 1,
            repetitions=slot.step.repeat_max if slot.step.repeat_every_seconds else 1,
            channel=builder.CHANNELS.get(slot.step.channel, slot.step.channel),
            template=(
                slot.step.template.name
                if slot.step.template is not None
                else (slot.step.webhook_endpoint.url if slot.step.webhook_endpoint else "")
            ),
            audience=builder.AUDIENCES.get(slot.step.audience, slot.step.audience),
            moved=slot.due != slot.when,
            past=slot.step.trigger != Trigger.REQUEST_CREATED and slot.due < sent_at,
        )
        for slot in slots
    ]
    events = [
        {
            "number": step.position + 1,
            "trigger": builder.TRIGGERS.get(step.trigger, step.trigger),
            "delay": builder.event_delay(step),
            "channel": builder.CHANNELS.get(step.channel, step.channel),
            "template": step.template.name if step.template is not None else "",
        }
        for step in steps
        if step.trigger not in TIME_TRIGGERS
    ]
    return {
        "timeline": entries,
        "timeline_events": events,
        "timeline_broken": sorted(broken),
        "timeline_zone": zone.key,
        "timeline_sent_at": sent_at.astimezone(zone),
        "timeline_deadline": deadline.astimezone(zone) if deadline else None,
        "timeline_deadline_missing": deadline is None,
    }


class ScenarioBuilderView(ScenariosViewMixin, View):
    """The default editor: steps as form rows (no JSON), every error at its row at once, and
    the timeline of an example request. It saves through the same service as the JSON
    editor and the API, so a scenario built here is refused or accepted exactly as there.

    Without JavaScript every button is a submit: "Add a step", "Remove", "Move up/down"
    come back with the rows rearranged and nothing saved, "Preview" with the timeline."""

    template_name = "scenarios/scenario_builder.html"

    def get(self, request: HttpRequest, public_id: str | None = None) -> HttpResponse:
        require(request, "scenarios.manage")
        scenario = self.get_scenario_or_404(public_id) if public_id else None
        if scenario is not None:
            initial = [builder.step_to_row(step) for step in current_steps(scenario)]
            name_form = builder.ScenarioNameForm(initial={"name": scenario.name})
        else:
            initial = [dict(builder.NEW_ROW)]
            name_form = builder.ScenarioNameForm()
        formset = builder.StepFormSet(prefix=builder.PREFIX, initial=initial)
        timeline_form = builder.TimelineForm(initial=builder.TimelineForm.defaults())
        return self._render(scenario, name_form, formset, timeline_form, show_errors=False)

    def post(self, request: HttpRequest, public_id: str | None = None) -> HttpResponse:
        require(request, "scenarios.manage")
        scenario = self.get_scenario_or_404(public_id) if public_id else None
        data = request.POST
        action = data.get("row_action", "")
        if action:
            moved = builder.apply_row_action(data, action)
            return self._render(
                scenario, *self._forms(moved if moved is not None else data), show_errors=False
            )
        name_form, formset, timeline_form = self._forms(data)
        try:
            formset.is_valid()
        except ValidationError:
            return HttpResponse(
                _("The step rows of this form are damaged; reload the page."),
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        name_form.is_valid()
        steps = [builder.row_to_step(row.cleaned_data) for row in formset.forms]
        name = name_form.cleaned_data.get("name", "")
        if "preview" in data:
            self._put_refusals(
                name_form,
                formset,
                services.scenario_definition_refusals(
                    merchant=request.merchant, name=name, steps=steps
                ),
            )
            return self._render(scenario, name_form, formset, timeline_form)
        if not self._has_errors(name_form, formset):
            try:
                saved = self._save(scenario, name, steps)
            except DomainError as refused:
                self._put_refusals(name_form, formset, getattr(refused, "refusals", [refused]))
            else:
                return saved
        else:
            self._put_refusals(
                name_form,
                formset,
                services.scenario_definition_refusals(
                    merchant=request.merchant, name=name, steps=steps
                ),
            )
        return self._render(scenario, name_form, formset, timeline_form, status=422)

    def _forms(self, data: Any) -> tuple[Any, Any, Any]:
        return (
            builder.ScenarioNameForm(data),
            builder.StepFormSet(data, prefix=builder.PREFIX),
            builder.TimelineForm(data),
        )

    @staticmethod
    def _has_errors(name_form: Any, formset: Any) -> bool:
        return bool(
            name_form.errors or formset.non_form_errors() or any(row.errors for row in formset)
        )

    def _save(self, scenario: Scenario | None, name: str, steps: list[dict]) -> HttpResponse:
        request = self.request
        if scenario is None:
            created = services.scenario_create(merchant=request.merchant, name=name, steps=steps)
            messages.success(request, _("Scenario “%(name)s” created.") % {"name": created.name})
            return redirect("scenarios:scenario_detail", created.public_id)
        before = scenario.version
        updated = services.scenario_update(scenario=scenario, name=name, steps=steps)
        if updated.version != before:
            note = _(
                "Saved as version %(version)s. Requests already following "
                "version %(before)s keep its messages."
            ) % {"version": updated.version, "before": before}
        else:
            note = _("Saved. Version %(version)s is up to date.") % {"version": updated.version}
        messages.success(request, note)
        return redirect("scenarios:scenario_detail", scenario.public_id)

    @staticmethod
    def _put_refusals(name_form: Any, formset: Any, refusals: list[DomainError]) -> None:
        """Each refusal at its row and field, in the operator's words; one the page already
        flagged (a number that is not one) is not repeated."""
        for refusal in refusals:
            index, field = builder.field_of(refusal.field)
            message = builder.message_of(refusal, field if index is not None else refusal.field)
            if index is not None and index < len(formset.forms):
                row = formset.forms[index]
                if field in row.errors:
                    continue
                formset.add_refusal(index, field, message)
            elif refusal.field == "name":
                if "name" not in name_form.errors:
                    name_form.add_error("name", message)
            else:
                formset._non_form_errors = formset.error_class(
                    [*formset.non_form_errors(), message], error_class="nonform"
                )

    def _render(
        self,
        scenario: Scenario | None,
        name_form: Any,
        formset: Any,
        timeline_form: Any,
        *,
        status: int = 200,
        show_errors: bool = True,
    ) -> HttpResponse:
        request = self.request
        try:
            rows = list(formset.forms)
        except ValidationError:
            return HttpResponse(
                _("The step rows of this form are damaged; reload the page."),
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        templates = _template_choices(request)
        by_id = {choice["id"]: choice for choice in templates}
        for row in rows:
            row.chosen_template = by_id.get(row["template"].value() or "")
        builder.style_rows(name_form, rows, timeline_form, show_errors=show_errors)
        summary = builder.error_summary(name_form, formset, rows) if show_errors else []
        endpoints = selectors.webhook_endpoint_list(
            merchant=request.merchant, livemode=request.livemode
        ).filter(is_active=True)
        return render(
            request,
            self.template_name,
            self.context(
                scenario=scenario,
                name_form=name_form,
                formset=formset,
                rows=rows,
                empty_row=formset.empty_form,
                timeline_form=timeline_form,
                templates=templates,
                endpoints=endpoints,
                error_summary=summary,
                show_errors=show_errors,
                max_steps=services.MAX_STEPS,
                zone=merchant_zone(request.merchant).key,
                **timeline_context(request, formset, timeline_form),
            ),
            status=status,
        )


class ScenarioTimelineView(ScenariosViewMixin, View):
    """The timeline preview alone, for the builder's script to swap in; never saves, so any
    member may ask for it (a viewer may open the builder's preview of nothing)."""

    def post(self, request: HttpRequest) -> HttpResponse:
        formset = builder.StepFormSet(request.POST, prefix=builder.PREFIX)
        timeline_form = builder.TimelineForm(request.POST)
        return render(
            request,
            "scenarios/_timeline.html",
            timeline_context(request, formset, timeline_form),
        )
