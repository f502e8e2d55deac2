"""Durations as integrators write them: whole seconds, or ISO 8601 (``P2D``, ``PT6H``).

Years and months are refused: their length depends on the calendar, and a reminder "one
month before" would silently move between 28 and 31 days.
"""

import re

_ISO = re.compile(
    r"^(?P<sign>[-+]?)P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_UNITS = {"weeks": 604_800, "days": 86_400, "hours": 3_600, "minutes": 60, "seconds": 1}


def parse_duration(value: object) -> int | None:
    """Seconds for an int or an ISO 8601 duration string; ``None`` when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    match = _ISO.match(value.strip().upper())
    if match is None:
        return None
    seconds = sum(int(match[unit] or 0) * factor for unit, factor in _UNITS.items())
    return -seconds if match["sign"] == "-" else seconds
