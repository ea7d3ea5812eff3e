"""One JSON sanitiser for results, evidence payloads, log fields and triage details.

``jsonable(value)`` returns ``value`` as something ``json.dumps`` writes without
``allow_nan``: mappings with text keys, lists for lists and tuples, datetimes as ISO
8601 UTC text, durations as seconds, numpy scalars as the Python number they hold,
NaN and infinities as None, anything else as its text. It does not import numpy.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from core.models import iso


def jsonable(value: Any) -> Any:
    """``value`` made JSON-safe (see the module docstring)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return jsonable(value.item())  # a numpy scalar: its Python value
    return str(value)
