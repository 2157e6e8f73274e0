"""The shared model base, resource lists, and validation-error formatting."""

from __future__ import annotations

import difflib
import re
import types
from typing import Annotated, Any, Self, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vapora_infra.errors import NO_VALUE, SpecError
from vapora_infra.spec.units import Cpu, Memory, quantity_value

Port = Annotated[int, Field(ge=1, le=65535, description="TCP port, 1..65535")]
Count = Annotated[int, Field(ge=1, le=1000, description="a count, 1..1000")]


class Schema(BaseModel):
    """Base of every schema model: unknown keys and loose types are refused."""

    # strict: "3" is not 3, and 1 is not true; frozen: a loaded spec is a value.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ResourceList(Schema):
    """CPU and memory for one container, as Kubernetes quantities."""

    cpu: Cpu | None = Field(default=None, description="cores, e.g. 500m or 2")
    memory: Memory | None = Field(default=None, description="bytes, e.g. 512Mi")


class Resources(Schema):
    """Requests and limits of one container; limits are never below requests."""

    requests: ResourceList
    limits: ResourceList

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> Self:
        for kind in ("cpu", "memory"):
            request = getattr(self.requests, kind)
            limit = getattr(self.limits, kind)
            if request is None:
                raise ValueError(f"requests.{kind} is missing; every container sets it")
            if limit is None:
                raise ValueError(f"limits.{kind} is missing; every container sets it")
            if quantity_value(limit) < quantity_value(request):
                raise ValueError(
                    f"limits.{kind} {limit} is below requests.{kind} {request}"
                )
        return self


def spec_error(source: str, error: ValidationError, prefix: str = "") -> SpecError:
    """Turn pydantic's most telling error into one line: file, field, value."""
    errors = error.errors()
    # A misspelled key also makes the intended key "missing"; the unknown key,
    # with its close match, is the error worth showing.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [part for part in first["loc"] if not _is_union_tag(part)]
    field = field_path(prefix, loc)
    kind = first["type"]
    value = first.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(error.title, first["loc"])
        hint = _close_match(str(loc[-1]), allowed)
        return SpecError(
            source,
            field,
            loc[-1],
            f"is not a known key{hint}; accepted: {', '.join(sorted(allowed))}."
            if allowed
            else f"is not a known key{hint}.",
        )
    if kind == "missing":
        return SpecError(source, field, None, "is required but missing.")
    if kind == "string_pattern_mismatch":
        pattern = str(first.get("ctx", {}).get("pattern", ""))
        if pattern == r"^\S+$":
            return SpecError(source, field, value, "contains white space.")
        return SpecError(
            source, field, value, f"does not have the accepted form {pattern}."
        )
    if kind in _BOUNDS:
        bound = next(iter(first.get("ctx", {}).values()), "")
        return SpecError(source, field, value, f"{_BOUNDS[kind]} {bound}.")
    if kind == "literal_error":
        expected = _QUOTED.findall(str(first.get("ctx", {}).get("expected", "")))
        hint = _close_match(str(value), expected)
        return SpecError(
            source,
            field,
            value,
            f"is not accepted{hint}; accepted: " + ", ".join(expected) + ".",
        )
    if kind.endswith("_type") and isinstance(value, str) and kind != "string_type":
        if value.strip().lstrip("+-").replace(".", "", 1).isdigit():
            return SpecError(
                source, field, value, "is text; write the value without quotes."
            )
        return SpecError(source, field, value, "is not a number.")
    if (
        kind == "string_type"
        and isinstance(value, int | float)
        and not (isinstance(value, bool))
    ):
        return SpecError(
            source, field, value, "is read as a number; quote it to keep it as text."
        )
    message = str(first["msg"])
    for lead in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(lead)
    if not message.endswith("."):
        message += "."
    if isinstance(value, dict | list) or (
        first["type"] == "value_error" and (_mentions_fields(message))
    ):
        # A rule across fields names the fields itself; the whole mapping
        # would only bury it.
        return SpecError(source, field, NO_VALUE, message)
    return SpecError(source, field, value, _lower_first(message))


def field_path(prefix: str, loc: list[int | str]) -> str:
    """A readable path: vapora:agents.developer.taints[0].effect."""
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += ("." if text != "vapora" else ":") + part
        else:
            text = part
    return text


def _is_union_tag(part: int | str) -> bool:
    # Pydantic names the union member it tried ("AddonSetting", "literal[...]")
    # and dictionary keys ("[key]") in the location; users never wrote those.
    if isinstance(part, int):
        return False
    return "[" in part or part in _model_names(Schema)


def _model_names(model: type[BaseModel]) -> set[str]:
    names = {model.__name__}
    for sub in model.__subclasses__():
        names |= _model_names(sub)
    return names


def _mentions_fields(message: str) -> bool:
    # Parsers of one value speak of it ("is not a duration", "has an invalid
    # name"); the value must then be shown, or the line loses what was wrong.
    if message.startswith(_VALUE_VERBS):
        return False
    return bool(re.match(r"^[a-z_.]+(\[\d+\])? ", message))


_VALUE_VERBS = ("is ", "has ", "uses ", "must ", "makes ", "needs ")


_BOUNDS = {
    "greater_than_equal": "is below the minimum",
    "greater_than": "must be above",
    "less_than_equal": "is above the maximum",
    "less_than": "must be below",
}
_QUOTED = re.compile(r"'([^']*)'")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:1].isupper() else text


def _close_match(word: str, allowed: list[str]) -> str:
    found = difflib.get_close_matches(word, allowed, n=1, cutoff=0.6)
    return f" (did you mean {found[0]!r}?)" if found else ""


_REGISTRY: dict[str, type[BaseModel]] = {}


def register(model: type[BaseModel]) -> type[BaseModel]:
    """Let error messages find a top-level model by its title."""
    _REGISTRY[model.__name__] = model
    return model


def _allowed_keys(title: str, loc: tuple[int | str, ...]) -> list[str]:
    annotation: Any = _REGISTRY.get(title)
    for part in loc[:-1]:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    model = _model_of(annotation)
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _step(annotation: Any, part: int | str) -> Any:
    model = _model_of(annotation)
    if model is not None:
        info = model.model_fields.get(str(part))
        if info is None:
            for candidate in model.model_fields.values():
                if candidate.alias == part:
                    info = candidate
        return None if info is None else info.annotation
    for inner in _unwrap(annotation):
        origin = get_origin(inner)
        if origin in (list, tuple) and isinstance(part, int):
            return get_args(inner)[0]
        if origin is dict:
            return get_args(inner)[1]
    # A pydantic union names the member in the path ("AgentPool"); skip it.
    return annotation


def _unwrap(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        found: list[Any] = []
        for arg in get_args(annotation):
            found.extend(_unwrap(arg))
        return found
    return [annotation]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for inner in _unwrap(annotation):
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return None


__all__ = [
    "Count",
    "Port",
    "ResourceList",
    "Resources",
    "Schema",
    "register",
    "spec_error",
]
