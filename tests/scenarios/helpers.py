"""Shared scenario-building helpers for tests and the benchmark."""

from scenarios import services
from scenarios.models import Dispatch, OutboxMessage, Scenario

OUTBOX_BACKEND = "notifications.outbox_backend.OutboxEmailBackend"


def step(trigger: str, template, **overrides) -> dict:
    data = {
        "trigger": trigger,
        "audience": "unpaid_participants",
        "channel": template.channel if template is not None else "webhook",
        "template": template.public_id if template is not None else None,
    }
    data.update(overrides)
    return data


def acceptance_steps(template) -> list[dict]:
    """The issue's scenario: a creation notice, a reminder two days before the deadline and
    three overdue reminders every three days (the first one day after the deadline)."""
    return [
        step("request_created", template),
        step("before_deadline", template, offset="P2D"),
        step("after_deadline", template, offset="P1D", repeat_every="P3D", repeat_max=3),
    ]


def make_scenario(merchant, steps: list[dict], name: str = "Standard") -> Scenario:
    return services.scenario_create(merchant=merchant, name=name, steps=steps)


def outbox_recipients(channel: str = "email") -> list[str]:
    return sorted(OutboxMessage.objects.filter(channel=channel).values_list("to", flat=True))


def statuses(payment_request) -> dict[str, int]:
    result: dict[str, int] = {}
    for status in Dispatch.objects.filter(request=payment_request).values_list("status", flat=True):
        result[status] = result.get(status, 0) + 1
    return result
