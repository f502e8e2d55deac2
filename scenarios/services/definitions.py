"""What a merchant plans to send: scenarios and their versioned steps, checked whole before
anything is stored, and webhook endpoints (checked again at every send)."""

import logging
from collections.abc import Iterable, Mapping
from datetime import time
from typing import Any

from django.db import transaction

from merchants.models import Merchant
from notifications import webhooks as notifications_webhooks
from notifications.models import MessageTemplate
from notifications.selectors import template_for_stage
from pushpay.errors import InvalidFields, InvalidInput
from pushpay.i18n import language_checked
from pushpay.money import MAX_MINOR_UNITS

from ..durations import parse_duration
from ..models import (
    Audience,
    Channel,
    Scenario,
    ScenarioBinding,
    Step,
    Trigger,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)


_UNSET: Any = object()


NAME_MAX_LENGTH = 100


MAX_STEPS = 20


MAX_OFFSET = 365 * 86_400


MIN_REPEAT_EVERY = 3_600


MAX_REPEAT_EVERY = 90 * 86_400


MAX_REPEAT = 20


# The keys of a step, in the order the API shows them.
STEP_FIELDS = (
    "trigger",
    "offset",
    "repeat_every",
    "repeat_max",
    "repeat_until_paid",
    "audience",
    "channel",
    "template",
    "webhook_endpoint",
    "conditions",
    "quiet_hours",
)
STEP_KEYS = frozenset(STEP_FIELDS)

# The shipped default template for each trigger, used when a step names no template.
DEFAULT_STAGE = {
    Trigger.REQUEST_CREATED: "request_created",
    Trigger.BEFORE_DEADLINE: "reminder_before_deadline",
    Trigger.AFTER_DEADLINE: "overdue_reminder",
    Trigger.PAYMENT_FAILED: "payment_failed",
    Trigger.PAYMENT_SUCCEEDED: "payment_succeeded",
    Trigger.PARTICIPANT_PAID: "participant_paid",
    Trigger.REQUEST_COMPLETED: "request_completed",
    Trigger.REQUEST_EXPIRED: "request_expired",
    Trigger.INSTALLMENT_PLAN_CONFIRMED: "installment_plan_confirmed",
    Trigger.INSTALLMENT_DUE: "installment_due_soon",
    Trigger.INSTALLMENT_FAILED: "installment_failed",
    Trigger.INSTALLMENT_SUCCEEDED: "installment_succeeded",
    Trigger.INSTALLMENT_PLAN_COMPLETED: "installment_plan_completed",
    Trigger.INSTALLMENT_PLAN_DEFAULTED: "installment_plan_defaulted",
    Trigger.INSTALLMENT_PLAN_CANCELLED: "installment_plan_cancelled",
}


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("A scenario needs a name.", code="required", field="name")
    name = name.strip()
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInput(
            f"A name is at most {NAME_MAX_LENGTH} characters.", code="too_long", field="name"
        )
    return name


def _duration(value: Any, *, field: str) -> int:
    seconds = parse_duration(value)
    if seconds is None:
        raise InvalidInput(
            "Give whole seconds or an ISO 8601 duration in weeks, days, hours, minutes and "
            "seconds, such as P2D or PT6H.",
            code="invalid_duration",
            field=field,
        )
    return seconds


def _choice(value: Any, choices: Iterable[str], *, code: str, field: str, what: str) -> str:
    choices = list(choices)
    if value not in choices:
        raise InvalidInput(
            f"Unknown {what} {value!r}; use one of {', '.join(choices)}.", code=code, field=field
        )
    return value


def _clock(value: Any, *, field: str) -> time:
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput("Give a time of day such as 21:00.", code="invalid_time", field=field)


class _Refusals:
    """Every refusal of a definition, in the order the checks run: the first one is what a
    caller showing a single error (the API) has always shown, the rest let a page flag every
    field in one round trip."""

    def __init__(self) -> None:
        self.items: list[InvalidInput] = []

    def add(self, message: str, *, code: str, field: str) -> None:
        self.items.append(InvalidInput(message, code=code, field=field))

    def keep(self, refusal: InvalidInput) -> None:
        self.items.append(refusal)

    def __len__(self) -> int:
        return len(self.items)


def _clean_step(raw: Any, index: int, merchant: Merchant, refusals: _Refusals) -> dict | None:
    """The step's stored fields, or ``None`` when it is refused (the reasons go to
    ``refusals``). A field in error never produces a second, derived error: a repetition
    whose interval is unreadable is not also told it lacks one."""
    prefix = f"steps[{index}]"
    before = len(refusals)
    if not isinstance(raw, Mapping):
        refusals.add("Each step is a JSON object.", code="not_an_object", field=prefix)
        return None
    for name in sorted(str(key) for key in set(raw) - STEP_KEYS):
        refusals.add(f"Unknown field '{name}'.", code="unknown_field", field=f"{prefix}.{name}")

    def choice(key: str, choices: Iterable[str], code: str, what: str) -> str | None:
        try:
            return _choice(raw.get(key), choices, code=code, field=f"{prefix}.{key}", what=what)
        except InvalidInput as refusal:
            refusals.keep(refusal)
            return None

    trigger = choice("trigger", Trigger.values, "unknown_trigger", "trigger")
    audience = choice("audience", Audience.values, "unknown_audience", "audience")
    channel = choice("channel", Channel.values, "unknown_channel", "channel")

    offset: int | None
    try:
        offset = _duration(raw.get("offset", 0), field=f"{prefix}.offset")
    except InvalidInput as refusal:
        refusals.keep(refusal)
        offset = None
    if offset is not None and not 0 <= offset <= MAX_OFFSET:
        hint = " before_deadline counts back from the deadline: write P2D, not -P2D." * (
            trigger == Trigger.BEFORE_DEADLINE and offset < 0
        )
        refusals.add(
            f"offset must be between 0 and 365 days.{hint}",
            code="offset_out_of_range",
            field=f"{prefix}.offset",
        )

    repeat_every = raw.get("repeat_every")
    repeat_max = raw.get("repeat_max")
    every_given = repeat_every is not None
    if every_given:
        try:
            repeat_every = _duration(repeat_every, field=f"{prefix}.repeat_every")
        except InvalidInput as refusal:
            refusals.keep(refusal)
            repeat_every = None
        if repeat_every is not None and not MIN_REPEAT_EVERY <= repeat_every <= MAX_REPEAT_EVERY:
            refusals.add(
                "repeat_every must be between one hour and 90 days.",
                code="repeat_out_of_range",
                field=f"{prefix}.repeat_every",
            )
        if repeat_max is None:
            refusals.add(
                "A repeated step needs repeat_max, the total number of messages.",
                code="repeat_max_required",
                field=f"{prefix}.repeat_max",
            )
    if repeat_max is not None:
        if isinstance(repeat_max, bool) or not isinstance(repeat_max, int):
            refusals.add(
                "repeat_max is an integer.", code="invalid_type", field=f"{prefix}.repeat_max"
            )
        else:
            if not every_given:
                refusals.add(
                    "repeat_max needs repeat_every.",
                    code="repeat_every_required",
                    field=f"{prefix}.repeat_every",
                )
            if not 2 <= repeat_max <= MAX_REPEAT:
                refusals.add(
                    f"repeat_max counts every message of the step, the first included: "
                    f"between 2 and {MAX_REPEAT}.",
                    code="repeat_out_of_range",
                    field=f"{prefix}.repeat_max",
                )
    repeat_until_paid = raw.get("repeat_until_paid", True)
    if not isinstance(repeat_until_paid, bool):
        refusals.add(
            "repeat_until_paid is true or false.",
            code="invalid_type",
            field=f"{prefix}.repeat_until_paid",
        )
    if audience == Audience.MERCHANT and channel == Channel.SMS:
        refusals.add(
            "Merchants are notified by email or webhook, not SMS.",
            code="audience_channel_mismatch",
            field=f"{prefix}.channel",
        )

    template = endpoint = None
    if channel == Channel.WEBHOOK:
        if raw.get("template") is not None:
            refusals.add(
                "A webhook step sends a JSON event, not a template.",
                code="not_allowed_for_webhook",
                field=f"{prefix}.template",
            )
        endpoint_id = raw.get("webhook_endpoint")
        if not endpoint_id:
            refusals.add(
                "A webhook step needs webhook_endpoint.",
                code="required",
                field=f"{prefix}.webhook_endpoint",
            )
        else:
            endpoint = WebhookEndpoint.objects.filter(
                merchant=merchant, public_id=str(endpoint_id)
            ).first()
            if endpoint is None:
                refusals.add(
                    f"No such webhook endpoint: '{endpoint_id}'.",
                    code="webhook_endpoint_not_found",
                    field=f"{prefix}.webhook_endpoint",
                )
    elif channel is not None:
        if raw.get("webhook_endpoint") is not None:
            refusals.add(
                "webhook_endpoint applies to webhook steps only.",
                code="not_allowed_for_channel",
                field=f"{prefix}.webhook_endpoint",
            )
        template_id = raw.get("template")
        if template_id is None:
            if trigger is not None:
                template = template_for_stage(
                    merchant=merchant, stage=DEFAULT_STAGE[trigger], channel=channel
                )
                if template is None:
                    refusals.add(
                        f"Name a {channel} template (tp_…); no default is installed for {trigger}.",
                        code="template_required",
                        field=f"{prefix}.template",
                    )
        else:
            # Another merchant's template is "not found", never "forbidden".
            template = MessageTemplate.objects.filter(
                merchant=merchant, public_id=str(template_id)
            ).first()
            if template is None:
                refusals.add(
                    f"No such template: '{template_id}'.",
                    code="template_not_found",
                    field=f"{prefix}.template",
                )
            elif template.channel != channel:
                refusals.add(
                    f"Template '{template_id}' is an {template.channel} template; this step "
                    f"sends {channel}.",
                    code="template_channel_mismatch",
                    field=f"{prefix}.template",
                )
            elif template.is_archived:
                refusals.add(
                    f"Template '{template_id}' is archived.",
                    code="template_archived",
                    field=f"{prefix}.template",
                )

    only_if_unpaid, min_amount, language = False, None, ""
    conditions = raw.get("conditions") or {}
    if not isinstance(conditions, Mapping):
        refusals.add(
            "conditions is a JSON object.", code="not_an_object", field=f"{prefix}.conditions"
        )
        conditions = {}
    for name in sorted(
        str(key) for key in set(conditions) - {"only_if_unpaid", "min_amount", "language"}
    ):
        refusals.add(
            f"Unknown condition '{name}'.",
            code="unknown_field",
            field=f"{prefix}.conditions.{name}",
        )
    only_if_unpaid = conditions.get("only_if_unpaid", False)
    if not isinstance(only_if_unpaid, bool):
        refusals.add(
            "only_if_unpaid is true or false.",
            code="invalid_type",
            field=f"{prefix}.conditions.only_if_unpaid",
        )
    min_amount = conditions.get("min_amount")
    if min_amount is not None and (
        isinstance(min_amount, bool) or not isinstance(min_amount, int) or min_amount <= 0
    ):
        refusals.add(
            "min_amount is a positive integer in minor units.",
            code="invalid_amount",
            field=f"{prefix}.conditions.min_amount",
        )
    elif min_amount is not None and min_amount > MAX_MINOR_UNITS:
        refusals.add(
            f"min_amount is at most {MAX_MINOR_UNITS} minor units.",
            code="amount_too_large",
            field=f"{prefix}.conditions.min_amount",
        )
    language = conditions.get("language") or ""
    if language:
        try:
            language_checked(language, field=f"{prefix}.conditions.language")
        except InvalidInput as refusal:
            refusals.keep(refusal)

    quiet = raw.get("quiet_hours")
    quiet_start = quiet_end = None
    if quiet is not None:
        if not isinstance(quiet, Mapping) or set(quiet) != {"start", "end"}:
            refusals.add(
                'quiet_hours is {"start": "21:00", "end": "08:00"}.',
                code="invalid_quiet_hours",
                field=f"{prefix}.quiet_hours",
            )
        else:
            clocks = []
            for end in ("start", "end"):
                try:
                    clocks.append(_clock(quiet[end], field=f"{prefix}.quiet_hours.{end}"))
                except InvalidInput as refusal:
                    refusals.keep(refusal)
            if len(clocks) == 2:
                quiet_start, quiet_end = clocks
                if quiet_start == quiet_end:
                    refusals.add(
                        "quiet_hours start and end must differ.",
                        code="invalid_quiet_hours",
                        field=f"{prefix}.quiet_hours",
                    )
    if len(refusals) > before:
        return None
    return {
        "position": index,
        "trigger": trigger,
        "offset_seconds": offset,
        "repeat_every_seconds": repeat_every,
        "repeat_max": repeat_max,
        "repeat_until_paid": repeat_until_paid,
        "audience": audience,
        "channel": channel,
        "template": template,
        "webhook_endpoint": endpoint,
        "only_if_unpaid": only_if_unpaid,
        "min_amount": min_amount,
        "language": language,
        "quiet_start": quiet_start,
        "quiet_end": quiet_end,
    }


def scenario_steps_check(
    *, merchant: Merchant, steps: Any
) -> tuple[list[dict | None], list[InvalidInput]]:
    """Every step checked, nothing stored: the cleaned fields of each step (``None`` for a
    refused one) and every refusal, for pages that flag all errors at once and preview the
    steps that are already right."""
    refusals = _Refusals()
    if not isinstance(steps, list) or not steps:
        refusals.add("A scenario needs at least one step.", code="required", field="steps")
        return [], refusals.items
    if len(steps) > MAX_STEPS:
        refusals.add(
            f"A scenario has at most {MAX_STEPS} steps.", code="too_many_steps", field="steps"
        )
        return [], refusals.items
    cleaned = [_clean_step(raw, index, merchant, refusals) for index, raw in enumerate(steps)]
    return cleaned, refusals.items


def _clean_definition(
    merchant: Merchant, *, name: Any = _UNSET, steps: Any = _UNSET
) -> tuple[str | None, list[dict] | None]:
    """The name and steps as stored, or one ``InvalidFields`` with every refusal (the name's
    first, then each step's in order)."""
    refusals: list[InvalidInput] = []
    clean_name = None
    if name is not _UNSET:
        try:
            clean_name = _clean_name(name)
        except InvalidInput as refusal:
            refusals.append(refusal)
    cleaned = None
    if steps is not _UNSET:
        cleaned, step_refusals = scenario_steps_check(merchant=merchant, steps=steps)
        refusals.extend(step_refusals)
    if refusals:
        raise InvalidFields(refusals)
    return clean_name, cleaned


def scenario_definition_refusals(
    *, merchant: Merchant, name: Any, steps: Any
) -> list[InvalidInput]:
    """Every refusal ``scenario_create`` would give, nothing stored: for a page that also
    has errors of its own and must show the service's at the same time."""
    try:
        _clean_definition(merchant, name=name, steps=steps)
    except InvalidFields as refused:
        return refused.refusals
    return []


def _step_line(data: Mapping) -> str:
    """One step as the audit trail shows it: enough to see what a new version changed."""
    target = data.get("template") or data.get("webhook_endpoint")
    parts = [
        f"{data['position'] + 1}. {data['trigger']}",
        f"{data['offset_seconds']:+d}s",
        data["audience"],
        data["channel"],
        getattr(target, "public_id", ""),
    ]
    if data.get("repeat_every_seconds"):
        parts.append(f"every {data['repeat_every_seconds']}s x{data.get('repeat_max')}")
    if data.get("only_if_unpaid"):
        parts.append("if unpaid")
    if data.get("min_amount"):
        parts.append(f">= {data['min_amount']}")
    if data.get("language"):
        parts.append(data["language"])
    if data.get("quiet_start"):
        parts.append(f"quiet {data['quiet_start']:%H:%M}-{data['quiet_end']:%H:%M}")
    return " · ".join(str(part) for part in parts if part != "")


def _steps_lines(scenario: Scenario, version: int) -> list[str]:
    steps = Step.objects.filter(scenario=scenario, version=version).select_related(
        "template", "webhook_endpoint"
    )
    return [
        _step_line(
            vars(step) | {"template": step.template, "webhook_endpoint": step.webhook_endpoint}
        )
        for step in steps.order_by("position")
    ]


def scenario_create(*, merchant: Merchant, name: str, steps: list[Mapping]) -> Scenario:
    """Check every step first, then store the scenario and its steps as version 1.

    A refusal is an ``InvalidFields`` naming every field at fault; its own code, message and
    field are the first one's, so the API's single error is unchanged."""
    name, cleaned = _clean_definition(merchant, name=name, steps=steps)
    with transaction.atomic():
        scenario = Scenario(merchant=merchant, name=name)
        # Steps are bulk-created, out of the history's sight: the scenario's entry says them.
        scenario._audit_extra = {"steps": [None, [_step_line(data) for data in cleaned]]}
        scenario.save()
        Step.objects.bulk_create(Step(scenario=scenario, version=1, **data) for data in cleaned)
    return scenario


def scenario_update(
    *, scenario: Scenario, name: str = _UNSET, steps: list[Mapping] = _UNSET
) -> Scenario:
    """Rename, or replace the steps whole.

    New steps become a new version when some request already follows the current one, so
    requests under way keep the messages they were promised; otherwise they replace it.
    """
    new_name, cleaned = _clean_definition(scenario.merchant, name=name, steps=steps)
    with transaction.atomic():
        scenario = Scenario.objects.select_for_update().get(pk=scenario.pk)
        if new_name is not None:
            scenario.name = new_name
        if cleaned is not None:
            before = _steps_lines(scenario, scenario.version)
            after = [_step_line(data) for data in cleaned]
            if before != after:
                scenario._audit_extra = {"steps": [before, after]}
            in_use = ScenarioBinding.objects.filter(
                scenario=scenario, version=scenario.version
            ).exists()
            if in_use:
                scenario.version += 1
            else:
                Step.objects.filter(scenario=scenario, version=scenario.version).delete()
            Step.objects.bulk_create(
                Step(scenario=scenario, version=scenario.version, **data) for data in cleaned
            )
        scenario.save()
    return scenario


def _set_paused(scenario: Scenario, paused: bool) -> Scenario:
    with transaction.atomic():
        scenario = Scenario.objects.select_for_update().get(pk=scenario.pk)
        if scenario.is_paused != paused:
            scenario.is_paused = paused
            scenario.save(update_fields=["is_paused", "updated_at"])
    return scenario


def scenario_pause(*, scenario: Scenario) -> Scenario:
    """Messages falling due while paused are skipped (reason ``paused``), not delayed: a
    reminder sent days late would say the wrong thing."""
    return _set_paused(scenario, True)


def scenario_resume(*, scenario: Scenario) -> Scenario:
    return _set_paused(scenario, False)


def webhook_endpoint_create(
    *,
    merchant: Merchant,
    url: str,
    description: str = "",
    livemode: bool = False,
    events: list[str] | None = None,
) -> WebhookEndpoint:
    """Kept for the scenario steps' callers: endpoints belong to notifications."""
    return notifications_webhooks.webhook_endpoint_create(
        merchant=merchant, url=url, description=description, livemode=livemode, events=events
    )
