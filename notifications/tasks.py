"""django-q2 entry points. Thin: a lost or repeated task only makes the next sweep find the
rows again (ARCHITECTURE.md guarantee 4)."""

from .dispatcher import dispatch_until_empty

# Below Q_CLUSTER's timeout (60 s by default), so a sweep is never killed half-way by it.
SWEEP_SECONDS = 40


def dispatch_due() -> int:
    """Every minute (pushpay.schedules) and on commit of rows due now."""
    return dispatch_until_empty(max_seconds=SWEEP_SECONDS)
