"""YAML is read with YAML 1.2 scalars, and ambiguous YAML 1.1 forms are refused."""

from __future__ import annotations

import pytest

from vapora_infra.errors import SpecError
from vapora_infra.spec.files import parse_yaml


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 010", 10),
        ("a: 0o17", 15),
        ("a: 0x1F", 31),
        ("a: 1_0", "1_0"),
        ("a: 2024-01-01", "2024-01-01"),
        ("a: True", True),
        ("a: false", False),
        ('a: "on"', "on"),
    ],
)
def test_scalars_follow_yaml_1_2(text: str, expected: object) -> None:
    assert parse_yaml(text, "x.yaml") == {"a": expected}


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("on_failure: no", 'quote it ("no") if it is text'),
        ("enabled: yes", 'quote it ("yes") if it is text'),
        ("timeout: 1:30", "write a duration such as 1h30m"),
        ("on: push", 'quote it ("on")'),
    ],
)
def test_yaml_1_1_surprises_are_refused_with_a_hint(text: str, hint: str) -> None:
    with pytest.raises(SpecError, match="read as a boolean or a number") as raised:
        parse_yaml(text, "x.yaml")

    assert hint in str(raised.value)
    assert "\n" not in str(raised.value)


def test_duplicate_keys_are_refused_with_their_line() -> None:
    with pytest.raises(SpecError, match=r"x.yaml: line 2: 'a' is a duplicate key"):
        parse_yaml("a: 1\na: 2\n", "x.yaml")
