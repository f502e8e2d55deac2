"""scenarios owns what a merchant plans to send and when: scenario definitions
(``definitions``) and the planner that turns requests and their events into outbox rows
(``planner``). Callers import from here.
"""

from .definitions import (
    DEFAULT_STAGE,
    MAX_OFFSET,
    MAX_REPEAT,
    MAX_REPEAT_EVERY,
    MAX_STEPS,
    MIN_REPEAT_EVERY,
    NAME_MAX_LENGTH,
    STEP_FIELDS,
    STEP_KEYS,
    scenario_create,
    scenario_definition_refusals,
    scenario_pause,
    scenario_resume,
    scenario_steps_check,
    scenario_update,
    webhook_endpoint_create,
)
from .planner import (
    dispatch_resend,
    dispatches_cancel_for_participant,
    dispatches_cancel_for_request,
    dispatches_plan_for_event,
    dispatches_plan_for_new_request,
    dispatches_plan_for_request,
    dispatches_replan_for_request,
    timeline_preview,
)

__all__ = [
    "DEFAULT_STAGE",
    "MAX_OFFSET",
    "MAX_REPEAT",
    "MAX_REPEAT_EVERY",
    "MAX_STEPS",
    "MIN_REPEAT_EVERY",
    "NAME_MAX_LENGTH",
    "STEP_FIELDS",
    "STEP_KEYS",
    "dispatch_resend",
    "dispatches_cancel_for_participant",
    "dispatches_cancel_for_request",
    "dispatches_plan_for_event",
    "dispatches_plan_for_new_request",
    "dispatches_plan_for_request",
    "dispatches_replan_for_request",
    "scenario_create",
    "scenario_definition_refusals",
    "scenario_pause",
    "scenario_resume",
    "scenario_steps_check",
    "scenario_update",
    "timeline_preview",
    "webhook_endpoint_create",
]
