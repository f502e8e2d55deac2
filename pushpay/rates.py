"""Rates written as ``"300/min"``; plain Python, so settings can check them at start-up."""

import re

_PERIODS = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"300/min"`` -> (300, 60); ValueError for anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*([a-z]+)\s*", rate or "")
    if not match or match[2] not in _PERIODS or int(match[1]) < 1:
        raise ValueError(f"a rate looks like 300/min, not {rate!r}")
    return int(match[1]), _PERIODS[match[2]]
