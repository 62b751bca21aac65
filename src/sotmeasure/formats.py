"""File formats as versioned pydantic models, with errors a person can act on.

Every file a user writes or a tool exchanges (recording meta.json, camera profile, setup,
table layout) is read the same way: parse the text, pick the model of the file's format
version from a version -> model table, validate, and turn the first validation problem into
one sentence that names the file and the key ("missing key camera.board", "unknown key
camera.distorsion", "camera.matrix: last row must be [0, 0, 1]"). Reading a newer format
means adding a model to the table, not another hand-written parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Strict, ValidationError

Model = TypeVar("Model", bound=BaseModel)

#: A number as JSON or TOML writes it: an int or a float, never a bool or a quoted string.
Number = Annotated[float, Strict()]


def problem_sentence(exc: ValidationError) -> str:
    """The first validation problem in the file's own key names; an unknown key first (it
    is usually a typo, and then the key it meant is reported missing too)."""
    errors = exc.errors(include_url=False)
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    where = "".join(
        f"[{part}]" if isinstance(part, int) else (f".{part}" if k else str(part))
        for k, part in enumerate(err["loc"])
    )
    kind = err["type"]
    if kind == "missing" and isinstance(err["loc"][-1], int):
        parent = where[: where.rindex("[")]
        return f"{parent}: too few entries (entry [{err['loc'][-1]}] is missing)"
    if kind == "missing":
        return f"missing key {where}"
    if kind == "extra_forbidden":
        return f"unknown key {where}"
    message = str(err["msg"]).removeprefix("Value error, ")
    if kind == "value_error":
        return f"{where}: {message}"
    shown = repr(err.get("input"))
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"{where}: {message.lower()}, got {shown}"


def versioned_model(
    data: Mapping[str, Any], models: Mapping[int, type[Model]], key: str = "format_version"
) -> type[Model]:
    """The model for the file's `key` (absent = the oldest version); ValueError naming the
    supported versions otherwise."""
    version = data.get(key, min(models))
    if isinstance(version, bool) or version not in models:
        supported = ", ".join(str(v) for v in models)
        raise ValueError(f"{key} {version!r} is not supported (this sotmeasure reads {supported})")
    return models[version]
