"""The deploy graph: stages, their components and what waits on what."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from vapora_infra.offline.recorder import Recording

_ID = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class DeployGraph:
    """Top-level components by stage, and edges between components."""

    stages: dict[str, list[str]]
    edges: set[tuple[str, str]]


def deploy_graph(recording: Recording) -> DeployGraph:
    """Collapse every resource onto its top-level component."""
    by_urn = {r.urn: r for r in recording.resources}
    top_of: dict[str, str] = {}
    for registration in recording.resources:
        top = registration
        while top.parent in by_urn:
            top = by_urn[top.parent]
        top_of[registration.urn] = top.name

    stages: dict[str, list[str]] = {name: [] for name in recording.stage_order}
    for registration in recording.resources:
        if registration.parent not in by_urn and not registration.custom:
            stages.setdefault(registration.stage, []).append(registration.name)

    edges: set[tuple[str, str]] = set()
    for registration in recording.resources:
        for dependency in registration.dependencies:
            source, target = top_of.get(dependency), top_of[registration.urn]
            if source is not None and source != target:
                edges.add((source, target))
    return DeployGraph(stages, _reduce(edges))


def to_mermaid(graph: DeployGraph) -> str:
    """A Mermaid flowchart, top to bottom, one box per stage."""
    lines = ["flowchart TB"]
    for stage, components in graph.stages.items():
        lines.append(f'  subgraph {_id(stage)}["{stage}"]')
        lines.extend(f'    {_id(c)}["{c}"]' for c in components)
        if not components:
            lines.append(f'    {_id(stage)}_empty(["checks only"])')
        lines.append("  end")
    lines.extend(f"  {_id(a)} --> {_id(b)}" for a, b in sorted(graph.edges))
    return "\n".join(lines) + "\n"


def to_dot(graph: DeployGraph) -> str:
    """A Graphviz digraph with one cluster per stage."""
    lines = ["digraph deploy {", "  rankdir=TB;", "  node [shape=box];"]
    for index, (stage, components) in enumerate(graph.stages.items()):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f'    label="{index + 1}. {stage}";')
        lines.extend(f'    "{c}";' for c in components)
        if not components:
            lines.append(f'    "{stage} (checks)" [shape=note];')
        lines.append("  }")
    lines.extend(f'  "{a}" -> "{b}";' for a, b in sorted(graph.edges))
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_graph(graph: DeployGraph, path: Path) -> list[Path]:
    """Write Mermaid (.mmd/.md) or DOT (.dot/.gv), plus SVG when dot exists."""
    written = [path]
    if path.suffix in (".dot", ".gv"):
        text = to_dot(graph)
    elif path.suffix == ".md":
        text = "```mermaid\n" + to_mermaid(graph) + "```\n"
    else:
        text = to_mermaid(graph)
    path.write_text(text, encoding="utf-8")
    dot = shutil.which("dot")
    if dot is not None:
        svg = path.with_suffix(".svg")
        subprocess.run(
            [dot, "-Tsvg", "-o", str(svg)], input=to_dot(graph), text=True, check=True
        )
        written.append(svg)
    return written


def _id(name: str) -> str:
    return "n_" + _ID.sub("_", name)


def _reduce(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    # Drop edges implied by a longer path, so the picture shows the real chain.
    reach: dict[str, set[str]] = {}
    for source, target in edges:
        reach.setdefault(source, set()).add(target)

    def reachable(start: str, skip: tuple[str, str]) -> set[str]:
        seen: set[str] = set()
        stack = [t for t in reach.get(start, ()) if (start, t) != skip]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(reach.get(node, ()))
        return seen

    return {edge for edge in edges if edge[1] not in reachable(edge[0], edge)}
