"""Cluster settings refused at load time, each with a one-line message."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vapora_infra.errors import SpecError
from vapora_infra.spec.project import load_project, stack_config_from_file

ROOT = Path(__file__).resolve().parent.parent

Mutation = Callable[[dict[str, Any]], None]


def _prod(mutate: Mutation) -> dict[str, Any]:
    config = copy.deepcopy(stack_config_from_file(ROOT, "prod"))
    mutate(config["cluster"])
    return config


def _pool(cluster: dict[str, Any]) -> dict[str, Any]:
    pool: dict[str, Any] = cluster["nodes"][1]
    return pool


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(
            lambda c: c["addons"].append("linkerd"),
            r"vapora:cluster\.addons\[8\]\.name: 'linkerd' is not accepted; "
            r"accepted: cilium, istio",
            id="unknown-addon",
        ),
        pytest.param(
            lambda c: _pool(c).pop("instance_type"),
            r"vapora:cluster\.nodes\[1\]\.instance_type: None is not set; a "
            r"worker pool needs an instance_type such as t3\.large\.",
            id="worker-without-instance-type",
        ),
        pytest.param(
            lambda c: _pool(c).update(taints=[{"key": "a", "effect": "NoRun"}]),
            r"vapora:cluster\.nodes\[1\]\.taints\[0\]\.effect: 'NoRun' is not "
            r"accepted; accepted: NoSchedule, PreferNoSchedule, NoExecute\.",
            id="unknown-taint-effect",
        ),
        pytest.param(
            lambda c: c.update(version="1.27"),
            r"vapora:cluster: version 1\.27 is not offered by EKS; "
            r"accepted: 1\.29, 1\.30",
            id="eks-version",
        ),
        pytest.param(
            lambda c: c["addons"].__setitem__(
                0, {"name": "cilium", "version": "latest"}
            ),
            r"vapora:cluster\.addons\[0\]\.version: 'latest' is not a chart "
            r"version",
            id="chart-version",
        ),
        pytest.param(
            lambda c: c["aws"].update(vpc_cidr="10.0.0.0/24"),
            r"vapora:cluster\.aws\.vpc_cidr: '10\.0\.0\.0/24' must have a prefix "
            r"from /16 to /20",
            id="vpc-too-small",
        ),
        pytest.param(
            lambda c: c["aws"].update(availability_zones=["us-east-1a", "eu-west-1b"]),
            r"availability_zones: .*zone 'us-east-1a' is not in region eu-west-1",
            id="zone-outside-region",
        ),
    ],
)
def test_bad_cluster_setting_is_refused_with_one_line(
    mutate: Mutation, message: str
) -> None:
    with pytest.raises(SpecError, match=message) as raised:
        load_project(ROOT, "prod", _prod(mutate))

    text = str(raised.value)
    assert text.startswith("Pulumi.prod.yaml: "), text
    assert "\n" not in text
    assert text.endswith("."), text


def test_prod_cluster_settings_load() -> None:
    project = load_project(ROOT, "prod", _prod(lambda c: None))

    assert project.settings.cluster.version == "1.30"


def _dev(kubeconfig: Path, context: str = "vapora-dev") -> dict[str, Any]:
    config = copy.deepcopy(stack_config_from_file(ROOT, "dev"))
    config["cluster"]["kubeconfig"] = {"path": str(kubeconfig), "context": context}
    # A real run also needs every secret value; the kubeconfig is the subject.
    keys = ("db-password", "jwt-secret", "claude-key", "openai-key", "gemini-key")
    config["secretValues"] = {"vapora-secrets": dict.fromkeys(keys, "x")}
    return config


def _write_kubeconfig(path: Path, *contexts: str) -> Path:
    entries = "".join(
        f"  - name: {name}\n    context: {{cluster: c, user: u}}\n" for name in contexts
    )
    path.write_text(f"apiVersion: v1\nkind: Config\ncontexts:\n{entries}")
    return path


def test_kubeconfig_context_missing_from_the_file_is_refused(tmp_path: Path) -> None:
    kubeconfig = _write_kubeconfig(tmp_path / "config", "kind-a", "kind-b")
    message = re.escape(
        "Pulumi.dev.yaml: vapora:cluster.kubeconfig.context: 'vapora-dev' is "
        f"not a context of {kubeconfig}; accepted: kind-a, kind-b."
    )

    with pytest.raises(SpecError, match=message):
        load_project(ROOT, "dev", _dev(kubeconfig), check_context=True)


def test_plan_does_not_read_the_machines_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = _write_kubeconfig(tmp_path / "config", "kind-a")

    project = load_project(ROOT, "dev", _dev(kubeconfig))

    assert project.stack == "dev"


def test_kubeconfig_context_present_in_the_file_loads(tmp_path: Path) -> None:
    kubeconfig = _write_kubeconfig(tmp_path / "config", "kind-a", "vapora-dev")

    project = load_project(ROOT, "dev", _dev(kubeconfig), for_update=True)

    assert project.settings.cluster.kubeconfig is not None


def test_missing_kubeconfig_file_is_not_checked_offline(tmp_path: Path) -> None:
    project = load_project(ROOT, "dev", _dev(tmp_path / "absent"))

    assert project.stack == "dev"


def test_missing_kubeconfig_file_is_refused_for_a_real_run(tmp_path: Path) -> None:
    message = r"vapora:cluster\.kubeconfig\.path: .* does not exist; point it"

    with pytest.raises(SpecError, match=message):
        load_project(ROOT, "dev", _dev(tmp_path / "absent"), for_update=True)


def test_unreadable_kubeconfig_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "config"
    broken.write_text("contexts: [unclosed\n")

    with pytest.raises(SpecError, match=r"cannot be read as YAML"):
        load_project(ROOT, "dev", _dev(broken), check_context=True)
