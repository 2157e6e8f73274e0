"""Quantities, durations and names parse strictly and compare by value."""

from __future__ import annotations

import pytest

from vapora_infra.spec.units import check_label, duration_seconds, quantity_value


@pytest.mark.parametrize(
    ("left", "right"),
    [("1000m", "1"), ("2048Mi", "2Gi"), ("0.5", "500m"), ("1Gi", "1024Mi")],
)
def test_quantities_compare_by_value(left: str, right: str) -> None:
    assert quantity_value(left) == quantity_value(right)


def test_quantity_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        quantity_value("two gigs")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h", 3600), ("30m", 1800), ("5m", 300), ("1h30m", 5400), ("45s", 45)],
)
def test_durations_parse(text: str, seconds: int) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "1:30", "90", "1d", "30 m", "m", "0m", "1.5h"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        duration_seconds(text)


def test_derived_name_over_63_characters_is_refused() -> None:
    with pytest.raises(ValueError, match="64 characters"):
        check_label("a" * 50 + "-allow-ingress", "derived object")
