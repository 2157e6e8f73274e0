"""The kubeconfig check of an existing cluster: the named context must exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from vapora_infra.errors import SpecError
from vapora_infra.spec.cluster import Cluster

FIELD = "vapora:cluster.kubeconfig"


def check_kubeconfig(cluster: Cluster, source: str, require_file: bool) -> None:
    """Refuse a kubeconfig context that the named file does not hold.

    A missing file is refused only when ``require_file`` is set, which the
    Pulumi program does: an offline plan must work on a machine that has
    never seen the cluster, but a real run cannot reach it without the file.
    """
    kubeconfig = cluster.kubeconfig
    if cluster.platform != "existing" or kubeconfig is None:
        return
    path = Path(kubeconfig.path).expanduser()
    if not path.is_file():
        if require_file:
            raise SpecError(
                source,
                f"{FIELD}.path",
                kubeconfig.path,
                "does not exist; point it at the cluster's kubeconfig file.",
            )
        return

    contexts = _contexts(path, source)
    if kubeconfig.context not in contexts:
        accepted = ", ".join(contexts) or "none"
        raise SpecError(
            source,
            f"{FIELD}.context",
            kubeconfig.context,
            f"is not a context of {kubeconfig.path}; accepted: {accepted}.",
        )


def _contexts(path: Path, source: str) -> list[str]:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        reason = str(error).splitlines()[0]
        raise SpecError(
            source, f"{FIELD}.path", str(path), f"cannot be read as YAML: {reason}."
        ) from None
    entries = data.get("contexts") if isinstance(data, dict) else None
    return [
        str(entry["name"])
        for entry in entries or []
        if isinstance(entry, dict) and "name" in entry
    ]
