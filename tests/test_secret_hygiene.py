"""Secret values never reach a plan, a rendered file, an output or the CLI.

Every secret config key gets a known, unmistakable value. The program then runs
for real under the mock engine, and everything it could show a person is
searched for those values, in plain text and base64.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pulumi.runtime import rpc

from tests.test_bad_inputs import copy_project
from vapora_infra.cli import main
from vapora_infra.offline.plan import to_json
from vapora_infra.offline.recorder import Recording, record
from vapora_infra.offline.render import render
from vapora_infra.spec.project import SECRET_KEYS, load_project

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "prod")
SECRET_VALUES = {
    "vapora-secrets": {
        "jwt-secret": "jwt-Kx7Qp2Lm9Zr4Vt8N",
        "db-password": "db-Hs3Wd6Fg1Jk5Lp0Q",
        "claude-key": "sk-ant-Tz4Yx8Cv2Bn6Mq1R",
        "openai-key": "sk-openai-Ue5Io9Pa3Sd7Fg2H",
        "gemini-key": "gemini-Jk8Lz1Xc4Vb6Nm0Q",
    }
}
SECRET_CONFIG: dict[str, Any] = {
    "secretValues": SECRET_VALUES,
    "slackWebhook": "https://hooks.slack.example/T0-Wq4Er8Ty2Ui6",
    "vaultToken": "hvs.Op3As7Df1Gh5Jk9L",
}
# A secret key added later is covered without editing this file.
SECRET_CONFIG.update(
    {key: f"{key}-Zq8Xw3Ty7Pl" for key in SECRET_KEYS if key not in SECRET_CONFIG}
)


def _values() -> list[str]:
    plain = [v for group in SECRET_VALUES.values() for v in group.values()]
    plain += [v for k, v in SECRET_CONFIG.items() if k != "secretValues"]
    encoded = [base64.b64encode(v.encode()).decode() for v in plain]
    return plain + encoded


LEAKS = _values()


def assert_clean(text: str, where: str) -> None:
    """No secret value, plain or base64, appears in ``text``."""
    found = [value for value in LEAKS if value in text]
    assert not found, f"{where} shows secret values {found}"


@pytest.fixture(scope="module", params=STACKS)
def recording(request: pytest.FixtureRequest) -> Recording:
    project = load_project(ROOT, request.param)
    return record(project, secret_config=SECRET_CONFIG)


def test_plan_json_holds_no_secret(recording: Recording) -> None:
    assert_clean(json.dumps(to_json(recording), default=str), "plan --json")


def test_stack_outputs_hold_no_secret(recording: Recording) -> None:
    assert_clean(json.dumps(recording.outputs, default=str), "stack outputs")


def test_rendered_files_hold_no_secret(recording: Recording, tmp_path: Path) -> None:
    for path in render(recording, tmp_path):
        assert_clean(path.read_text(encoding="utf-8"), str(path.name))


def test_every_secret_object_carries_its_data_as_a_pulumi_secret(
    recording: Recording,
) -> None:
    secrets = [r for r in recording.resources if r.inputs.get("kind") == "Secret"]
    assert secrets, f"{recording.stack}: no Secret object was registered"
    for registration in secrets:
        for key in ("data", "stringData"):
            if key in registration.inputs:
                value = registration.inputs[key]
                assert _is_secret(value), (
                    f"Secret {registration.urn}: {key} is not a Pulumi secret"
                )


def test_secret_values_reached_the_secrets(recording: Recording) -> None:
    # Guards the test itself: a program that ignored the values would pass
    # every search above without proving anything.
    inside = json.dumps(
        [r.inputs for r in recording.resources if r.inputs.get("kind") == "Secret"],
        default=str,
    )
    assert any(value in inside for value in LEAKS), "secret values never used"


# The CLI replaces secret config with placeholders before the program runs, so
# one stack shows the path; the values themselves are traced above, per stack.
@pytest.mark.parametrize("stack", ["dev"])
def test_cli_shows_no_secret_from_plain_stack_config(
    stack: str, tmp_path: Path
) -> None:
    root = copy_project(tmp_path / "project")
    config_file = root / f"Pulumi.{stack}.yaml"
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    # Plain, not `secure:`: the worst case, where the values sit in the file.
    data["config"].update({f"vapora:{k}": v for k, v in SECRET_CONFIG.items()})
    config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "render"
    runner = CliRunner()

    for args in (
        ["validate"],
        ["plan"],
        ["plan", "--json"],
        ["render", "--out", str(out)],
    ):
        result = runner.invoke(main, ["-C", str(root), *args, "-s", stack])
        assert result.exit_code == 0, result.output
        assert_clean(result.output, f"vapora-infra {' '.join(args)}")
    for path in (p for p in out.rglob("*") if p.is_file()):
        assert_clean(path.read_text(encoding="utf-8"), f"render {path.name}")


def _is_secret(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    # A map whose every value is secret hides as much as a secret map.
    return isinstance(value, dict) and all(_is_secret(v) for v in value.values())
