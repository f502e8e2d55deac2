"""The scenario builder's forms: steps as rows of a formset instead of JSON.

Like the JSON editor, these only read the browser's input. Each row becomes the step the
API takes (``row_to_step``), every rule stays in ``scenarios.services``, and a refusal comes
back at the row and field it names (``field_of``), with a message in the operator's language.
"""

from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from pushpay.errors import InvalidInput
from pushpay.i18n import LANGUAGES

from .models import Audience, Channel, Step, Trigger
from .services import MAX_REPEAT, MAX_STEPS, NAME_MAX_LENGTH

PREFIX = "steps"

TRIGGER_CHOICES = [
    (Trigger.REQUEST_CREATED, _("Request sent")),
    (Trigger.BEFORE_DEADLINE, _("Before the deadline")),
    (Trigger.AFTER_DEADLINE, _("After the deadline")),
    (Trigger.PAYMENT_FAILED, _("Payment failed")),
    (Trigger.PAYMENT_SUCCEEDED, _("Payment succeeded")),
    (Trigger.PARTICIPANT_PAID, _("A participant paid")),
    (Trigger.REQUEST_COMPLETED, _("Request fully paid")),
    (Trigger.REQUEST_EXPIRED, _("Request expired")),
    (Trigger.INSTALLMENT_PLAN_CONFIRMED, _("Installment plan confirmed")),
    (Trigger.INSTALLMENT_DUE, _("Installment due")),
    (Trigger.INSTALLMENT_FAILED, _("Installment failed")),
    (Trigger.INSTALLMENT_SUCCEEDED, _("Installment charged")),
    (Trigger.INSTALLMENT_PLAN_COMPLETED, _("Installment plan completed")),
    (Trigger.INSTALLMENT_PLAN_DEFAULTED, _("Installment plan defaulted")),
    (Trigger.INSTALLMENT_PLAN_CANCELLED, _("Installment plan cancelled")),
]
AUDIENCE_CHOICES = [
    (Audience.UNPAID_PARTICIPANTS, _("Participants who still owe")),
    (Audience.ALL_PARTICIPANTS, _("All participants")),
    (Audience.INITIATOR, _("The initiator")),
    (Audience.MERCHANT, _("The merchant")),
]
CHANNEL_CHOICES = [
    (Channel.EMAIL, _("Email")),
    (Channel.SMS, _("SMS")),
    (Channel.WEBHOOK, _("Webhook")),
]
TRIGGERS = dict(TRIGGER_CHOICES)
AUDIENCES = dict(AUDIENCE_CHOICES)
CHANNELS = dict(CHANNEL_CHOICES)
LANGUAGE_CHOICES = [("", _("Any language")), *LANGUAGES]

TIME_INPUT = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _count(label, *, help_text="", maximum: int | None = None) -> forms.IntegerField:
    # No min/max here: the service says what is out of range, once, for the API and the page.
    attrs = {"inputmode": "numeric", "min": "0"}
    if maximum is not None:
        attrs["max"] = str(maximum)
    return forms.IntegerField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.NumberInput(attrs=attrs),
    )


class StepRowForm(forms.Form):
    """One step as an operator fills it in; every field is optional here, because what is
    required depends on the others and the service knows the rules."""

    trigger = forms.ChoiceField(label=_("When"), choices=TRIGGER_CHOICES)
    offset_days = _count(_("Days"))
    offset_hours = _count(_("Hours"))
    # Seconds below the hour that a step written as JSON may carry: kept, not shown.
    offset_rest = forms.IntegerField(required=False, widget=forms.HiddenInput)
    repeat_max = _count(
        _("Messages in all"), help_text=_("1 or empty: sent once."), maximum=MAX_REPEAT
    )
    repeat_every_days = _count(_("Every … days"))
    repeat_every_hours = _count(_("and hours"))
    repeat_until_paid = forms.BooleanField(
        label=_("Stop repeating once paid"), required=False, initial=True
    )
    audience = forms.ChoiceField(label=_("Recipients"), choices=AUDIENCE_CHOICES)
    channel = forms.ChoiceField(label=_("Channel"), choices=CHANNEL_CHOICES)
    template = forms.CharField(label=_("Template"), required=False, max_length=64)
    webhook_endpoint = forms.CharField(label=_("Webhook endpoint"), required=False, max_length=64)
    only_if_unpaid = forms.BooleanField(label=_("Only while unpaid"), required=False)
    min_amount = _count(
        _("Only if at least this is due"), help_text=_("In minor units (cents): 1000 = 10.00.")
    )
    language = forms.ChoiceField(
        label=_("Only to recipients in"), choices=LANGUAGE_CHOICES, required=False
    )
    quiet_start = forms.TimeField(
        label=pgettext_lazy("quiet hours", "From"), required=False, widget=TIME_INPUT
    )
    quiet_end = forms.TimeField(
        label=pgettext_lazy("quiet hours", "To"), required=False, widget=TIME_INPUT
    )


class BaseStepFormSet(forms.BaseFormSet):
    def add_refusal(self, index: int, field: str | None, message: str) -> None:
        """A service refusal at its row and field (above the row for a field it has none)."""
        row = self.forms[index]
        row.add_error(field if field in row.fields else None, message)


StepFormSet = forms.formset_factory(
    StepRowForm,
    formset=BaseStepFormSet,
    extra=0,
    max_num=MAX_STEPS,
    absolute_max=MAX_STEPS,
    validate_max=True,
)


class ScenarioNameForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), required=False, max_length=NAME_MAX_LENGTH * 2, strip=False
    )


class TimelineForm(forms.Form):
    """The example request of the timeline preview, in the merchant's time zone (the view
    activates it, so the typed times are read there)."""

    example_sent_at = forms.DateTimeField(
        label=_("Request sent on"),
        required=False,
        widget=DATETIME_INPUT,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )
    example_deadline = forms.DateTimeField(
        label=_("Deadline"),
        required=False,
        widget=DATETIME_INPUT,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )

    @staticmethod
    def defaults() -> dict[str, datetime]:
        """Today at this minute and two weeks later, in the active (merchant's) zone."""
        now = timezone.localtime().replace(second=0, microsecond=0)
        return {"example_sent_at": now, "example_deadline": now + timedelta(days=14)}

    def dates(self) -> tuple[datetime, datetime | None]:
        """The example's dates; a blank or unreadable one falls back to its default."""
        defaults = self.defaults()
        data = self.cleaned_data if self.is_valid() else {}
        sent = data.get("example_sent_at") or defaults["example_sent_at"]
        emptied = self.is_bound and not str(self.data.get("example_deadline", "x")).strip()
        if emptied:
            return sent, None  # the operator cleared it: a request without a deadline
        return sent, data.get("example_deadline") or defaults["example_deadline"]


# --- Rows <-> steps ---------------------------------------------------------------------------


def _seconds(days: int | None, hours: int | None, rest: int | None = None) -> int:
    return (days or 0) * 86_400 + (hours or 0) * 3_600 + (rest or 0)


def row_to_step(data: dict[str, Any]) -> dict[str, Any]:
    """A row's cleaned values as the step the API takes. ``data`` may lack the fields that
    failed the form's own checks: what is left still goes to the service, so every other
    error is found in the same round trip."""
    step: dict[str, Any] = {
        "trigger": data.get("trigger"),
        "audience": data.get("audience"),
        "channel": data.get("channel"),
    }
    if "offset_days" in data and "offset_hours" in data:
        offset = _seconds(data["offset_days"], data["offset_hours"], data.get("offset_rest"))
        if offset:
            step["offset"] = offset
    every_given = data.get("repeat_every_days") is not None or (
        data.get("repeat_every_hours") is not None
    )
    if every_given and "repeat_every_days" in data and "repeat_every_hours" in data:
        step["repeat_every"] = _seconds(data["repeat_every_days"], data["repeat_every_hours"])
    repeat_max = data.get("repeat_max")
    if repeat_max is not None and not (repeat_max == 1 and not every_given):
        step["repeat_max"] = repeat_max
    if "repeat_every" in step or "repeat_max" in step:
        step["repeat_until_paid"] = bool(data.get("repeat_until_paid"))
    if step["channel"] == Channel.WEBHOOK:
        step["webhook_endpoint"] = data.get("webhook_endpoint") or None
    else:
        step["template"] = data.get("template") or None
    conditions: dict[str, Any] = {}
    if data.get("only_if_unpaid"):
        conditions["only_if_unpaid"] = True
    if data.get("min_amount") is not None:
        conditions["min_amount"] = data["min_amount"]
    if data.get("language"):
        conditions["language"] = data["language"]
    if conditions:
        step["conditions"] = conditions
    start, end = data.get("quiet_start"), data.get("quiet_end")
    if start is not None or end is not None:
        step["quiet_hours"] = {
            key: value.strftime("%H:%M")
            for key, value in (("start", start), ("end", end))
            if isinstance(value, time)
        }
    return step


def step_to_row(step: Step) -> dict[str, Any]:
    """A stored step as the initial values of its row."""
    days, rest = divmod(step.offset_seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    every_days = every_hours = None
    if step.repeat_every_seconds:
        every_days, every_rest = divmod(step.repeat_every_seconds, 86_400)
        every_hours = every_rest // 3_600
    return {
        "trigger": step.trigger,
        "offset_days": days or None,
        "offset_hours": hours or None,
        "offset_rest": rest or None,
        "repeat_max": step.repeat_max,
        "repeat_every_days": every_days,
        "repeat_every_hours": every_hours,
        "repeat_until_paid": step.repeat_until_paid,
        "audience": step.audience,
        "channel": step.channel,
        "template": step.template.public_id if step.template_id else "",
        "webhook_endpoint": step.webhook_endpoint.public_id if step.webhook_endpoint_id else "",
        "only_if_unpaid": step.only_if_unpaid,
        "min_amount": step.min_amount,
        "language": step.language,
        "quiet_start": step.quiet_start,
        "quiet_end": step.quiet_end,
    }


NEW_ROW = {
    "trigger": Trigger.REQUEST_CREATED,
    "audience": Audience.UNPAID_PARTICIPANTS,
    "channel": Channel.EMAIL,
    "repeat_until_paid": True,
}

# A service path's last part -> the row field that shows it.
_ROW_FIELD = {
    "trigger": "trigger",
    "audience": "audience",
    "channel": "channel",
    "offset": "offset_days",
    "repeat_every": "repeat_every_days",
    "repeat_max": "repeat_max",
    "repeat_until_paid": "repeat_until_paid",
    "template": "template",
    "webhook_endpoint": "webhook_endpoint",
    "conditions.only_if_unpaid": "only_if_unpaid",
    "conditions.min_amount": "min_amount",
    "conditions.language": "language",
    "quiet_hours": "quiet_start",
    "quiet_hours.start": "quiet_start",
    "quiet_hours.end": "quiet_end",
}


def field_of(path: str | None) -> tuple[int | None, str | None]:
    """``steps[2].quiet_hours.end`` -> (2, "quiet_end"); (None, path) outside the steps."""
    if not path or not path.startswith(f"{PREFIX}["):
        return None, path
    index_text, _bracket, rest = path[len(PREFIX) + 1 :].partition("]")
    if not index_text.isdigit():
        return None, path
    return int(index_text), _ROW_FIELD.get(rest.removeprefix("."))


# The operator's wording for each refusal, by code (and field where one code has several
# meanings); the service's own message is the fallback, so a new rule is never silent.
_MESSAGES = {
    ("required", "name"): _("Give the scenario a name."),
    ("too_long", "name"): _("At most 100 characters."),
    ("required", "steps"): _("Add at least one step."),
    ("too_many_steps", "steps"): _("A scenario has at most 20 steps."),
    ("unknown_trigger", None): _("Choose when this message goes."),
    ("unknown_audience", None): _("Choose who receives it."),
    ("unknown_channel", None): _("Choose a channel."),
    ("invalid_duration", None): _("Give whole days and hours."),
    ("offset_out_of_range", None): _("Between 0 and 365 days."),
    ("repeat_out_of_range", "repeat_every_days"): _("Repeat every 1 hour to 90 days."),
    ("repeat_out_of_range", "repeat_max"): _("Between 2 and 20 messages, the first included."),
    ("repeat_max_required", None): _("How many messages in all (2 to 20)?"),
    ("repeat_every_required", None): _("Say how often it repeats."),
    ("audience_channel_mismatch", None): _(
        "The merchant is notified by email or webhook, not SMS."
    ),
    ("template_not_found", None): _("Choose one of your templates."),
    ("template_channel_mismatch", None): _("This template is for another channel."),
    ("template_archived", None): _("This template is archived: choose another one."),
    ("template_required", None): _(
        "No default template is installed for this trigger: choose one."
    ),
    ("required", "webhook_endpoint"): _("Choose a webhook endpoint."),
    ("webhook_endpoint_not_found", None): _("Choose one of your webhook endpoints."),
    ("not_allowed_for_webhook", None): _("A webhook step sends an event, not a template."),
    ("invalid_amount", None): _("A positive whole number of minor units."),
    ("amount_too_large", None): _("This amount is too large."),
    ("invalid_choice", "language"): _("Choose French or English."),
    ("invalid_quiet_hours", None): _("Give a start and an end that differ."),
    ("invalid_time", None): _("A time of day such as 21:00."),
}


def message_of(refusal: InvalidInput, field: str | None) -> str:
    return str(
        _MESSAGES.get((refusal.code, field)) or _MESSAGES.get((refusal.code, None)) or refusal
    )


# --- Row operations without JavaScript --------------------------------------------------------


def rows_of(data: Any) -> list[dict[str, list[str]]]:
    """The posted rows, each a mapping of field name to its posted values (a checkbox left
    unticked is simply absent), bounded by the formset's maximum."""
    try:
        total = int(data.get(f"{PREFIX}-TOTAL_FORMS", "0"))
    except (TypeError, ValueError):
        total = 0
    total = min(max(total, 0), MAX_STEPS)
    rows = []
    for index in range(total):
        start = f"{PREFIX}-{index}-"
        rows.append({key[len(start) :]: data.getlist(key) for key in data if key.startswith(start)})
    return rows


def with_rows(data: Any, rows: list[dict[str, list[str]]]) -> Any:
    """``data`` with its step rows replaced by ``rows``, renumbered from 0."""
    result = data.copy()
    for key in list(result):
        if key.startswith(f"{PREFIX}-") and key[len(PREFIX) + 1 :][:1].isdigit():
            del result[key]
    for index, row in enumerate(rows):
        for name, values in row.items():
            result.setlist(f"{PREFIX}-{index}-{name}", values)
    result[f"{PREFIX}-TOTAL_FORMS"] = str(len(rows))
    result[f"{PREFIX}-INITIAL_FORMS"] = "0"
    result.setdefault(f"{PREFIX}-MIN_NUM_FORMS", "0")
    result.setdefault(f"{PREFIX}-MAX_NUM_FORMS", str(MAX_STEPS))
    return result


def apply_row_action(data: Any, action: str) -> Any | None:
    """``add``, ``remove-<i>``, ``up-<i>`` or ``down-<i>`` applied to the posted rows; None
    for an action that is not one of these (the page then just comes back as posted)."""
    rows = rows_of(data)
    name, _dash, index_text = action.partition("-")
    if name == "add" and not index_text:
        if len(rows) >= MAX_STEPS:
            return None
        new = {key: [str(value)] for key, value in NEW_ROW.items() if value is not True}
        new["repeat_until_paid"] = ["on"]
        rows.append(new)
        return with_rows(data, rows)
    if not index_text.isdigit() or int(index_text) >= len(rows):
        return None
    index = int(index_text)
    if name == "remove":
        del rows[index]
    elif name == "up" and index > 0:
        rows[index - 1], rows[index] = rows[index], rows[index - 1]
    elif name == "down" and index + 1 < len(rows):
        rows[index + 1], rows[index] = rows[index], rows[index + 1]
    else:
        return None
    return with_rows(data, rows)


# --- Page helpers -----------------------------------------------------------------------------

# Templates offered in a row's select (each rendered once per page for its preview).
MAX_TEMPLATES = 200


def style_rows(name_form: Any, rows: list[Any], timeline_form: Any, *, show_errors: bool) -> None:
    """Bootstrap classes and the aria links between a field and its error on every input."""
    from requests_app.forms import style_fields

    style_fields(name_form, show_errors=show_errors)
    style_fields(timeline_form, show_errors=show_errors, small=True)
    for row in rows:
        style_fields(row, show_errors=show_errors, small=True)


# How the summary names a field whose own label only makes sense inside its fieldset.
SUMMARY_LABELS = {
    "offset_days": _("Delay (days)"),
    "offset_hours": _("Delay (hours)"),
    "repeat_every_days": _("Repeat every (days)"),
    "repeat_every_hours": _("Repeat every (hours)"),
    "quiet_start": _("Quiet hours (from)"),
    "quiet_end": _("Quiet hours (to)"),
}


def error_summary(name_form: Any, formset: Any, rows: list[Any]) -> list[dict[str, str]]:
    """Every error of the page, each linked to its field, for the box above the form."""
    items = [
        {"href": f"#{name_form['name'].auto_id}", "label": str(name_form.fields["name"].label),
         "message": message}
        for message in name_form.errors.get("name", [])
    ]  # fmt: skip
    for message in formset.non_form_errors():
        items.append({"href": "#step-rows", "label": str(_("Steps")), "message": message})
    for index, row in enumerate(rows):
        step = _("Step %(number)s") % {"number": index + 1}
        for name, messages in row.errors.items():
            if name in row.fields:
                href = f"#{row[name].auto_id}"
                label = f"{step} · {SUMMARY_LABELS.get(name, row.fields[name].label)}"
            else:
                href, label = f"#step-{index}", str(step)
            items.extend({"href": href, "label": label, "message": m} for m in messages)
    return items


def duration_words(seconds: int) -> str:
    """``2 days 6 hours`` in the page's language."""
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, rest = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%(count)d day", "%(count)d days", days) % {"count": days})
    if hours:
        parts.append(ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours})
    if minutes:
        parts.append(
            ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
        )
    if rest:
        parts.append(ngettext("%(count)d second", "%(count)d seconds", rest) % {"count": rest})
    return " ".join(parts)


def event_delay(step: Step) -> str:
    """When an event step goes, relative to its event, with its repetitions."""
    if step.offset_seconds:
        text = _("%(delay)s after the event") % {"delay": duration_words(step.offset_seconds)}
    else:
        text = str(_("right away"))
    if step.repeat_every_seconds:
        text += ", " + _("then every %(every)s, %(count)s messages in all") % {
            "every": duration_words(step.repeat_every_seconds),
            "count": step.repeat_max,
        }
    return text
