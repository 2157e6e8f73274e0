"""Shared fixtures: the project root and recordings of both stacks."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root, which is the Pulumi project directory."""
    return ROOT
