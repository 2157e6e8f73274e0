"""Readers for TOML and YAML schema files that refuse ambiguous input.

YAML is read with YAML 1.2 scalars: only true/false are booleans. YAML 1.1 reads
``on``, ``off``, ``yes`` and ``no`` as booleans and ``1:30`` as the number 90,
which has turned ``on_failure: no`` and ``timeout: 1:30`` into silent surprises;
here such plain scalars are refused with a hint to quote them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vapora_infra.errors import SpecError

_YAML11_BOOL = re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")
_YAML11_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_YAML12_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


@dataclass(frozen=True)
class _Ambiguous:
    """A plain scalar that YAML 1.1 and YAML 1.2 read differently."""

    text: str
    line: int


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and no sexagesimal numbers."""


def _strip_resolvers(tags: set[str]) -> None:
    table = _StrictLoader.yaml_implicit_resolvers
    _StrictLoader.yaml_implicit_resolvers = {
        first: [(tag, regex) for tag, regex in entries if tag not in tags]
        for first, entries in table.items()
    }


# YAML 1.1 also reads 010 as 8, 1_0 as 10 and 2024-01-01 as a date; the 1.2
# core schema reads them as 10, text and text, which is what users expect.
_strip_resolvers(
    {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:timestamp"}
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", _YAML12_BOOL, list("tTfF")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)


def _construct_int(loader: _StrictLoader, node: yaml.Node) -> int:
    text = str(node.value)
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_StrictLoader.add_implicit_resolver("!ambiguous", _YAML11_BOOL, list("yYnNoO"))
_StrictLoader.add_implicit_resolver(
    "!ambiguous", _YAML11_SEXAGESIMAL, list("-+0123456789")
)


def _construct_ambiguous(loader: _StrictLoader, node: yaml.Node) -> _Ambiguous:
    return _Ambiguous(str(node.value), node.start_mark.line + 1)


_StrictLoader.add_constructor("!ambiguous", _construct_ambiguous)


def _no_duplicate_keys(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen and not isinstance(key, _Ambiguous):
            raise _DuplicateKey(str(key), key_node.start_mark.line + 1)
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int) -> None:
        self.key = key
        self.line = line


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicate_keys
)


def read_yaml(path: Path, source: str | None = None) -> Any:
    """Parse one YAML document strictly; errors name the file and the line."""
    name = source or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(
            name, "", str(path), f"cannot be read: {error.strerror}."
        ) from None
    return parse_yaml(text, name)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text strictly; ``source`` names it in errors."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except _DuplicateKey as dup:
        raise SpecError(
            source, f"line {dup.line}", dup.key, "is a duplicate key; keep one."
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SpecError(
            source, where, problem, "is malformed YAML; fix the syntax there."
        ) from None
    _refuse_ambiguous(data, source, "")
    return data


def _refuse_ambiguous(data: Any, source: str, path: str) -> None:
    if isinstance(data, _Ambiguous):
        if _YAML11_SEXAGESIMAL.fullmatch(data.text):
            hint = "write a duration such as 1h30m, or quote it if it is text"
        else:
            hint = f'quote it ("{data.text}") if it is text, or write true/false'
        raise SpecError(
            source,
            path or f"line {data.line}",
            data.text,
            f"(line {data.line}) is read as a boolean or a number by YAML 1.1; {hint}.",
        )
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, _Ambiguous):
                _refuse_ambiguous(key, source, path)
            _refuse_ambiguous(value, source, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            _refuse_ambiguous(value, source, f"{path}[{index}]")


def read_toml(path: Path, source: str | None = None) -> dict[str, Any]:
    """Parse one TOML file; duplicate tables and bad syntax are refused."""
    name = source or str(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SpecError(
            name, "", str(path), f"cannot be read: {error.strerror}."
        ) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SpecError(
            name, "", str(error).split("\n")[0], "is malformed TOML; fix the syntax."
        ) from None
