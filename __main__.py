"""The Pulumi program: load the stack's settings, build VAPORA, export."""

from pathlib import Path

import pulumi

from vapora_infra.program import build
from vapora_infra.spec.project import load_project, stack_config_from_engine

project = load_project(
    Path(__file__).parent, pulumi.get_stack(), stack_config_from_engine()
)
built = build(project)
for key, value in built.outputs.items():
    pulumi.export(key, value)
