"""Kubernetes quantities, durations and names, parsed strictly.

Each parser raises ``ValueError`` with a sentence that says what is accepted;
the schema layer turns it into a one-line error naming the file and field.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_MAX = 63

_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


def _load_quantity_module() -> ModuleType:
    # The Kubernetes client ships the reference quantity parser, but importing
    # the ``kubernetes`` package pulls in its whole API client (about 0.7 s).
    # Loading the one self-contained module file keeps validation fast while
    # still parsing quantities exactly as the client does.
    found = importlib.util.find_spec("kubernetes")
    if found is None or found.origin is None:
        raise ImportError("the 'kubernetes' package is required")
    path = Path(found.origin).parent / "utils" / "quantity.py"
    spec = importlib.util.spec_from_file_location("_vapora_k8s_quantity", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_parse_quantity: Callable[[object], Decimal] = _load_quantity_module().parse_quantity


def quantity_value(text: str) -> Decimal:
    """The numeric value of a Kubernetes quantity: "500m" is 0.5, "2Gi" 2**31."""
    try:
        return _parse_quantity(text)
    except ValueError:
        raise ValueError(
            "is not a Kubernetes quantity; use a number with an optional suffix "
            "such as 500m, 2, 512Mi or 4Gi"
        ) from None


def _cpu(text: str) -> str:
    value = quantity_value(text)
    if value <= 0:
        raise ValueError("must be a positive CPU quantity such as 500m or 2")
    if value * 1000 != int(value * 1000):
        raise ValueError("is finer than a millicore; use whole millicores (1m)")
    return text


def _memory(text: str) -> str:
    if re.fullmatch(r"[0-9.]+m", text):
        raise ValueError(
            "uses the milli suffix 'm', which means thousandths of a byte; "
            f"write {text[:-1]}Mi for mebibytes"
        )
    value = quantity_value(text)
    if value <= 0 or value != int(value):
        raise ValueError("must be a positive whole number of bytes, such as 512Mi")
    return text


def _storage_size(text: str) -> str:
    _memory(text)
    if quantity_value(text) < 2**20:
        raise ValueError("is below 1Mi; volume sizes are given like 20Gi")
    return text


def _not_a_string_number(value: object) -> object:
    # TOML and YAML both allow "3" where 3 was meant; refusing it here is what
    # stops a port or a replica count typed as a string from slipping through.
    if isinstance(value, bool):
        raise ValueError("is a boolean; a number is expected")
    return value


def _quantity_text(value: object) -> object:
    # Quantities are text in Kubernetes, but cpu = 2 in TOML is common and clear.
    if isinstance(value, bool):
        raise ValueError("is a boolean; a quantity such as 500m or 2Gi is expected")
    if isinstance(value, int | float):
        return str(value)
    return value


def duration_seconds(text: str) -> int:
    """Seconds in a duration like "1h30m", "30m", "5m" or "45s"."""
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(
            "is not a duration; use hours, minutes and seconds such as 1h, 30m, "
            "1h30m or 45s"
        )
    hours, minutes, seconds = (int(match.group(g) or 0) for g in ("h", "m", "s"))
    total = hours * 3600 + minutes * 60 + seconds
    if total == 0:
        raise ValueError("is zero; a duration must be at least 1s")
    return total


def _duration(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError(
            'is not a duration; quote a value such as "30m" (YAML reads 1:30 '
            "as a number)"
        )
    duration_seconds(value)
    return value


def _dns_label(text: str) -> str:
    if len(text) > LABEL_MAX or not DNS1123_LABEL.fullmatch(text):
        raise ValueError(
            "is not a DNS-1123 label; use at most 63 lowercase letters, digits "
            "and '-', starting and ending with a letter or digit"
        )
    return text


def check_label(text: str, context: str) -> None:
    """Refuse a derived name (prefix and suffix added) that breaks DNS-1123."""
    if len(text) > LABEL_MAX or not DNS1123_LABEL.fullmatch(text):
        raise ValueError(
            f"makes the {context} name {text!r} ({len(text)} characters), which "
            "is not a DNS-1123 label of at most 63 characters"
        )


Cpu = Annotated[str, BeforeValidator(_quantity_text), AfterValidator(_cpu)]
Memory = Annotated[str, BeforeValidator(_quantity_text), AfterValidator(_memory)]
StorageSize = Annotated[
    str, BeforeValidator(_quantity_text), AfterValidator(_storage_size)
]
Duration = Annotated[str, BeforeValidator(_duration)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
StrictNumber = BeforeValidator(_not_a_string_number)
