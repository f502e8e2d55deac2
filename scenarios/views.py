"""Back-office pages for scenarios (list, create, edit, detail, pause and resume) and for the
local outbox of the embedded default.

Thin by design: reads go through ``scenarios.selectors`` (and ``notifications.selectors``)
with ``request.merchant``, changes through ``scenarios.services``, and a refusal from a
service is shown next to the steps editor with the step path it names. Viewers may look at
everything but change nothing.
"""

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from notifications.selectors import template_list
from pushpay.errors import DomainError
from pushpay.i18n import LANGUAGE_NAMES
from pushpay.tenancy import MerchantViewMixin, can, require

from . import selectors, services
from .forms import STEPS_EXAMPLE, ScenarioForm, steps_to_input, steps_to_text
from .models import Audience, Channel, Scenario, Step, Trigger

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
