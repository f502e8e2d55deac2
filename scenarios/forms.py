"""Back-office forms for scenarios: they only read the browser's input.

Every rule about what a step may hold lives in ``scenarios.services``; this turns the steps
textarea into the list the service takes (as the API does), and writes stored steps back in
the same shape, so an operator edits exactly what an integrator would send.
"""

import json
from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy

from pushpay.errors import DomainError
from pushpay.forms import JsonListField

from .models import Channel, Step

STEPS_EXAMPLE = [
    {
        "trigger": "request_created",
        "audience": "unpaid_participants",
        "channel": "email",
        "template": "tp_…",
    },
    {
        "trigger": "before_deadline",
        "offset": "P2D",
        "audience": "unpaid_participants",
        "channel": "sms",
        "quiet_hours": {"start": "21:00", "end": "08:00"},
    },
    {
        "trigger": "after_deadline",
        "offset": "P1D",
        "repeat_every": "P3D",
        "repeat_max": 3,
        "audience": "unpaid_participants",
        "channel": "email",
    },
    {
        "trigger": "payment_succeeded",
        "audience": "merchant",
        "channel": "email",
        "conditions": {"min_amount": 10000},
    },
]

_UNITS = (("W", 604_800), ("D", 86_400))
_TIME_UNITS = (("H", 3_600), ("M", 60), ("S", 1))


def iso_duration(seconds: int) -> str:
    """Seconds as the ISO 8601 duration an operator would type (``P2D``, ``PT6H``)."""
    if seconds == 0:
        return "PT0S"
    days, rest = divmod(seconds, 86_400)
    text = f"P{days}D" if days else "P"
    if rest:
        text += "T"
        for unit, size in _TIME_UNITS:
            count, rest = divmod(rest, size)
            if count:
                text += f"{count}{unit}"
    return text


def steps_to_text(steps: list[dict]) -> str:
    """The textarea's content: one indented document, accents kept readable."""
    return json.dumps(steps, indent=2, ensure_ascii=False)


def steps_to_input(steps: Iterable[Step]) -> list[dict[str, Any]]:
    """Stored steps in the shape the service takes, leaving out what is at its default."""
    result = []
    for step in steps:
        data: dict[str, Any] = {"trigger": step.trigger}
        if step.offset_seconds:
            data["offset"] = iso_duration(step.offset_seconds)
        if step.repeat_every_seconds:
            data["repeat_every"] = iso_duration(step.repeat_every_seconds)
            data["repeat_max"] = step.repeat_max
        if not step.repeat_until_paid:
            data["repeat_until_paid"] = False
        data["audience"] = step.audience
        data["channel"] = step.channel
        if step.channel == Channel.WEBHOOK:
            data["webhook_endpoint"] = step.webhook_endpoint.public_id
        else:
            data["template"] = step.template.public_id
        conditions: dict[str, Any] = {}
        if step.only_if_unpaid:
            conditions["only_if_unpaid"] = True
        if step.min_amount is not None:
            conditions["min_amount"] = step.min_amount
        if step.language:
            conditions["language"] = step.language
        if conditions:
            data["conditions"] = conditions
        if step.quiet_start is not None and step.quiet_end is not None:
            data["quiet_hours"] = {
                "start": step.quiet_start.strftime("%H:%M"),
                "end": step.quiet_end.strftime("%H:%M"),
            }
        result.append(data)
    return result


class ScenarioForm(forms.Form):
    """Name and steps of a scenario, as typed in the editor."""

    name = forms.CharField(label=gettext_lazy("Name"), required=False, strip=False, max_length=200)
    steps_json = JsonListField(label=gettext_lazy("Steps (JSON)"), what="step")

    def add_service_error(self, error: DomainError) -> None:
        """Show a service refusal next to the input it concerns, with the step path; every
        refusal when the service names several, so the operator fixes them in one pass."""
        for refusal in getattr(error, "refusals", None) or [error]:
            self._add_one(refusal)

    def _add_one(self, error: DomainError) -> None:
        if error.field == "name":
            self.add_error("name", error.localized)
        elif error.field and error.field.startswith("steps"):
            self.add_error("steps_json", f"{error.field}: {error.localized}")
        else:
            self.add_error(None, error.localized)
