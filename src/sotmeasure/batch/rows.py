"""The measurement contract's JSON (`MeasurementResult.to_dict`) as one flat table row.

Flattening is generic so that a number added to the contract appears as a column without a
change here: nested objects join their keys with "."; error-budget components are keyed by
their name; [lo, hi] intervals become ".lo"/".hi"; other lists and the free-text reason
counts (`frames_rejected`) are kept as JSON text. The whole object is also kept verbatim in
`result_json`, so nothing is lost to flattening.
"""

from __future__ import annotations

import json
from typing import Any

_INTERVAL_KEYS = ("_ci95_mm", "_ci95_deg", "ci95")
_AS_JSON = ("frames_rejected",)


def _is_interval(key: str, value: list[Any]) -> bool:
    return (
        len(value) == 2
        and all(isinstance(v, int | float) for v in value)
        and any(key.endswith(s) for s in _INTERVAL_KEYS)
    )


def _named_list(value: list[Any]) -> bool:
    return bool(value) and all(isinstance(v, dict) and "name" in v for v in value)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """One level of columns from a nested JSON object (see module docstring)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key in _AS_JSON or (isinstance(value, list) and not _named_list(value)):
            if isinstance(value, list) and _is_interval(key, value):
                out[f"{name}.lo"], out[f"{name}.hi"] = value
            else:
                out[name] = json.dumps(value, sort_keys=True)
        elif isinstance(value, dict):
            out.update(flatten(value, f"{name}.") if value else {name: None})
        elif isinstance(value, list):
            for entry in value:
                rest = {k: v for k, v in entry.items() if k != "name"}
                out.update(flatten(rest, f"{name}.{entry['name']}."))
        else:
            out[name] = value
    return out


def result_columns(contract: dict[str, Any]) -> dict[str, Any]:
    """Row columns for one result (its `to_dict()` without per-frame values)."""
    body = {k: v for k, v in contract.items() if k != "frames"}
    return {**flatten(body), "result_json": json.dumps(body, sort_keys=True)}
