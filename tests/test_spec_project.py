"""Reading a stack's settings back from Pulumi.<stack>.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vapora_infra.spec.project import load_project


@pytest.mark.parametrize(("written", "read"), [("'false'", False), ("'true'", True)])
def test_protect_quoted_by_pulumi_config_set_reads_as_boolean(
    root: Path, tmp_path: Path, written: str, read: bool
) -> None:
    # `pulumi config set` rewrites the stack file and quotes every
    # top-level scalar, so `vapora:protect: false` comes back as text.
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy2(root / name, tmp_path / name)
    for name in ("taskservs", "workflows", "migrations"):
        shutil.copytree(root / name, tmp_path / name)
    text = (root / "Pulumi.dev.yaml").read_text()
    (tmp_path / "Pulumi.dev.yaml").write_text(
        text.replace("vapora:protect: false", f"vapora:protect: {written}")
    )

    project = load_project(tmp_path, "dev")

    assert project.settings.protect is read
