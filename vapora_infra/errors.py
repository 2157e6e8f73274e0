"""The one exception family of vapora-infra."""

from __future__ import annotations

NO_VALUE = object()
"""Marks a SpecError whose message already names the values involved."""


class VaporaError(Exception):
    """An error the user can act on; the CLI prints it as one line."""


class SpecError(VaporaError):
    """A schema file or stack setting that is not valid.

    The message names the file, the field path, the bad value and what would be
    accepted, so that a user can fix the input without reading any code.
    """

    def __init__(self, source: str, field: str, value: object, expected: str) -> None:
        self.source = source
        self.field = field
        self.value = value
        self.expected = expected
        where = f"{source}: {field}" if field else source
        if value is NO_VALUE:
            super().__init__(f"{where}: {expected}")
        else:
            super().__init__(f"{where}: {_show(value)} {expected}")


def _show(value: object) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text
