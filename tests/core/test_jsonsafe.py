"""The one JSON sanitiser: what json.dumps(allow_nan=False) can write, from results that hold numpy and time values."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from core.jsonsafe import jsonable


def test_numpy_time_and_non_finite_values_become_plain_json():
    value = {
        "count": np.int64(3), "share": np.float32(0.5), "gone": np.float64("nan"), "flag": np.bool_(True),
        "pair": (1, float("inf")), "at": pd.Timestamp("2026-03-12 14:20", tz="UTC"),
        "local": datetime(2026, 3, 12, 15, 20, tzinfo=timezone(timedelta(hours=1))),
        "for": timedelta(minutes=5), "array": np.arange(3), 7: None, "text": "ok",
    }
    out = jsonable(value)
    assert out == {"count": 3, "share": 0.5, "gone": None, "flag": True, "pair": [1, None],
                   "at": "2026-03-12T14:20:00Z", "local": "2026-03-12T14:20:00Z", "for": 300.0,
                   "array": "[0 1 2]", "7": None, "text": "ok"}
    assert type(out["count"]) is int and type(out["flag"]) is bool
    json.dumps(out, allow_nan=False)


def test_nested_structures_are_walked():
    assert jsonable([{"a": [np.float64("-inf"), {"b": np.int8(2)}]}]) == [{"a": [None, {"b": 2}]}]
