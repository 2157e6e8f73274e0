"""The Pulumi program: load the stack's settings, build VAPORA, export."""

from pathlib import Path

import pulumi

from vapora_infra.errors import VaporaError
from vapora_infra.program import build
from vapora_infra.spec.project import load_project, stack_config_from_engine

try:
    # A real run must reach the cluster, so its kubeconfig file must exist.
    project = load_project(
        Path(__file__).parent,
        pulumi.get_stack(),
        stack_config_from_engine(),
        for_update=True,
    )
    built = build(project)
except VaporaError as error:
    # A user error is one line in the update's diagnostics, not a traceback.
    pulumi.log.error(str(error))
    raise SystemExit(1) from None

for key, value in built.outputs.items():
    pulumi.export(key, value)
