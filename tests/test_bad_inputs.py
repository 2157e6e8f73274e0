"""Every bad input fails with one line naming the file, and registers nothing.

Each case in ``bad_inputs/cases.yaml`` patches a copy of the project's files,
then runs the CLI on it. The patch must still apply to today's files, so the
corpus cannot silently drift away from the inputs it is meant to break.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from vapora_infra.cli import main

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CASES: list[dict[str, Any]] = yaml.safe_load(
    (HERE / "bad_inputs" / "cases.yaml").read_text(encoding="utf-8")
)
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.*.yaml")
PROJECT_DIRS = ("taskservs", "workflows", "migrations")
# The console script installed beside this interpreter, as users run it.
ENTRY_POINT = str(Path(sys.executable).with_name("vapora-infra"))


def copy_project(target: Path) -> Path:
    """The user's schema files (never code) copied to ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for pattern in PROJECT_FILES:
        for path in ROOT.glob(pattern):
            shutil.copy(path, target / path.name)
    for folder in PROJECT_DIRS:
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, target / folder)
    return target


def apply_patch(root: Path, case: dict[str, Any]) -> None:
    """Apply one case's edits; an edit that no longer matches fails the case."""
    for edit in case["edits"]:
        path = root / edit["file"]
        if "copy_from" in edit:
            shutil.copy(root / edit["copy_from"], path)
        text = path.read_text(encoding="utf-8")
        if "replace" in edit:
            old, new = edit["replace"], edit["with"]
            assert text.count(old) >= 1, f"{case['id']}: {old!r} not in {path.name}"
            text = text.replace(old, new, 1 if not edit.get("all") else -1)
        if "append" in edit:
            text += edit["append"]
        path.write_text(text, encoding="utf-8")


class RegistrationSpy:
    """Counts recorder runs and every resource registered with any mock monitor."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from pulumi.runtime import mocks

        from vapora_infra.offline import recorder

        self.records = 0
        self.registrations = 0
        real_record = recorder.record
        real_register = mocks.MockMonitor.RegisterResource

        def record(*args: Any, **kwargs: Any) -> Any:
            self.records += 1
            return real_record(*args, **kwargs)

        def register(monitor: Any, request: Any) -> Any:
            self.registrations += 1
            return real_register(monitor, request)

        monkeypatch.setattr(recorder, "record", record)
        monkeypatch.setattr(mocks.MockMonitor, "RegisterResource", register)


def _ids() -> list[str]:
    return [case["id"] for case in CASES]


def test_corpus_is_large_and_unique() -> None:
    ids = _ids()
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids), "case ids repeat"
    kinds = {case["edits"][0]["file"].split("/")[0] for case in CASES}
    assert {"taskservs", "workflows"} <= kinds
    assert any(kind.startswith("Pulumi.") for kind in kinds)


@pytest.mark.parametrize("case", CASES, ids=_ids())
def test_bad_input_fails_in_one_line_before_any_registration(
    case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_project(tmp_path / "project")
    apply_patch(root, case)
    spy = RegistrationSpy(monkeypatch)
    command = case.get("command", "plan")
    stack = case.get("stack", "dev")

    result = CliRunner().invoke(main, ["-C", str(root), command, "-s", stack])

    output = result.output.strip()
    assert isinstance(result.exception, SystemExit), (
        f"{case['id']}: not a clean exit:\n{output}\n{result.exception!r}"
    )
    assert result.exit_code == 1, f"{case['id']}: exit {result.exit_code}: {output}"
    assert len(output.splitlines()) == 1, f"{case['id']}: not one line:\n{output}"
    assert case["expect"] in output, f"{case['id']}: {output}"
    assert case.get("names", case["edits"][0]["file"]) in output, output
    assert spy.records == 0, f"{case['id']}: the recorder ran"
    assert spy.registrations == 0, f"{case['id']}: {spy.registrations} registered"


# A subprocess proves the same through the installed entry point, where no
# test harness stands between a stray exception and the user's terminal.
@pytest.mark.parametrize(
    "case_id", ["taskserv-port-as-string", "workflow-cycle", "stack-nats-two"]
)
def test_entry_point_prints_one_line_without_traceback(
    case_id: str, tmp_path: Path
) -> None:
    case = next(c for c in CASES if c["id"] == case_id)
    root = copy_project(tmp_path / "project")
    apply_patch(root, case)
    command = case.get("command", "plan")

    done = subprocess.run(
        [ENTRY_POINT, "-C", str(root), command, "-s", case.get("stack", "dev")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert case["expect"] in lines[0]
    assert "Traceback" not in done.stderr
