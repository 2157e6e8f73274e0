"""The Pulumi engine, driven through the Automation API on the project directory."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vapora_infra.errors import VaporaError

Output = Callable[[str], None]


class EngineError(VaporaError):
    """The Pulumi CLI is missing, or one of its commands failed."""


@dataclass(frozen=True)
class UpdateResult:
    """What one update or preview changed."""

    kind: str
    changes: dict[str, int]

    def summary(self) -> str:
        """Counts such as ``update 2, same 14``."""
        shown = [f"{op} {count}" for op, count in sorted(self.changes.items())]
        return ", ".join(shown) or "no changes"


def require_pulumi_cli() -> None:
    """Refuse early, before any question is asked, when the CLI is missing."""
    if shutil.which("pulumi") is None:
        raise EngineError(
            "the pulumi CLI is not on PATH; install it "
            "(https://www.pulumi.com/docs/install/) and log in to the backend."
        )


class Engine:
    """One existing stack of the project; operations never create a stack."""

    def __init__(self, root: Path, stack: str) -> None:
        require_pulumi_cli()
        from pulumi import automation as auto

        self.root = root
        self.name = stack
        with _engine_errors("opening the stack"):
            try:
                self.stack = auto.select_stack(stack_name=stack, work_dir=str(root))
            except auto.StackNotFoundError:
                raise EngineError(
                    f"stack {stack} does not exist in the backend; run pulumi "
                    f"stack init {stack} first."
                ) from None

    def get_config(self, key: str, *, path: bool = False) -> str | None:
        """A config value as text, or None when the key is not set."""
        from pulumi.automation import CommandError

        try:
            return str(self.stack.get_config(key, path=path).value)
        except CommandError:
            return None

    def set_config(
        self, key: str, value: str, *, path: bool = False, secret: bool = False
    ) -> None:
        """Write one config value into Pulumi.<stack>.yaml."""
        from pulumi.automation import ConfigValue

        with _engine_errors(f"setting {key}"):
            self.stack.set_config(key, ConfigValue(value, secret=secret), path=path)

    def remove_config(self, key: str, *, path: bool = False) -> None:
        """Remove one config value."""
        with _engine_errors(f"removing {key}"):
            self.stack.remove_config(key, path=path)

    def up(
        self, targets: Sequence[str] | None = None, on_output: Output | None = None
    ) -> UpdateResult:
        """Run an update, limited to ``targets`` when given."""
        with _engine_errors("the update"):
            result = self.stack.up(
                target=list(targets) if targets else None,
                target_dependents=False if targets else None,
                on_output=on_output,
                color="never",
                show_secrets=False,
            )
        changes = result.summary.resource_changes or {}
        return UpdateResult("update", {str(k): v for k, v in changes.items()})

    def preview(
        self, targets: Sequence[str] | None = None, on_output: Output | None = None
    ) -> UpdateResult:
        """Show what an update would change."""
        with _engine_errors("the preview"):
            result = self.stack.preview(
                target=list(targets) if targets else None,
                target_dependents=False if targets else None,
                on_output=on_output,
                color="never",
            )
        changes = result.change_summary or {}
        return UpdateResult("preview", {str(k): v for k, v in changes.items()})

    def export(self) -> dict[str, Any]:
        """The stack's state as ``pulumi stack export`` prints it."""
        with _engine_errors("exporting the stack"):
            state = self.stack.export_stack()
        return {"version": state.version, "deployment": state.deployment}

    def import_state(self, state: dict[str, Any]) -> None:
        """Replace the stack's state with an exported one."""
        from pulumi.automation import Deployment

        with _engine_errors("importing the stack"):
            self.stack.import_stack(
                Deployment(state.get("version"), state.get("deployment"))
            )

    def outputs(self) -> dict[str, Any]:
        """The stack outputs; secret values stay masked."""
        with _engine_errors("reading the outputs"):
            found = self.stack.outputs()
        return {
            key: "[secret]" if item.secret else item.value
            for key, item in found.items()
        }

    def output(self, key: str) -> Any:
        """One stack output's plain value, secret or not; None when absent."""
        with _engine_errors(f"reading the {key} output"):
            found = self.stack.outputs()
        item = found.get(key)
        return item.value if item is not None else None

    def history(self) -> list[dict[str, Any]]:
        """Past updates, newest first: kind, result, version and plain config."""
        with _engine_errors("reading the history"):
            entries = self.stack.history(show_secrets=False)
        return [
            {
                "kind": entry.kind,
                "result": entry.result,
                "version": entry.version,
                "config": {
                    key: value.value
                    for key, value in entry.config.items()
                    if not value.secret
                },
            }
            for entry in entries
        ]


@contextmanager
def _engine_errors(doing: str) -> Iterator[None]:
    from pulumi.automation import CommandError

    try:
        yield
    except CommandError as error:
        raise EngineError(f"{doing} failed: {_last_line(str(error))}") from error


def _last_line(text: str) -> str:
    # CommandError carries the whole CLI output; the cause is on its last
    # meaningful stderr line, which is what a user needs to read.
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error")]
    chosen = errors[-1] if errors else (lines[-1] if lines else "no output")
    return chosen[:300]
