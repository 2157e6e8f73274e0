"""Validate a directory written by ``vapora-infra render`` with outside referees.

Three tools nobody on this project wrote judge every rendered object:

- ``kubernetes-validate --strict`` checks built-in objects against the
  Kubernetes OpenAPI schema of the target version;
- ``jsonschema`` checks custom resources against the CRD schemas in
  ``../shared/schemas/crds/<group>/<kind>_<version>.json``; a custom resource
  without a schema there fails unless ``tools/crd_allowlist.yaml`` names it
  with a reason, and is listed either way;
- ``checkov --framework kubernetes`` (run from its own virtualenv, given with
  ``--checkov``) finds insecure settings; skips must be annotated on the object.

Usage: python tools/validate_rendered.py DIR [--checkov BIN] [--schemas DIR]
Exit status 1 when any referee finds a fault.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES_VERSION = "1.30.0"
DEFAULT_SCHEMAS = ROOT.parent / "shared" / "schemas" / "crds"
DEFAULT_ALLOWLIST = Path(__file__).resolve().parent / "crd_allowlist.yaml"
# Files render writes that are not Kubernetes objects.
NOT_OBJECTS = ("charts.yaml",)


@dataclass
class Tally:
    """Counts and messages of one referee."""

    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One summary line."""
        return (
            f"{self.name}: {self.passed} passed, {self.failed} failed, "
            f"{self.skipped} skipped"
        )


def main(argv: list[str] | None = None) -> int:
    """Run every referee on DIR; print findings and a summary table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--schemas", type=Path, default=DEFAULT_SCHEMAS)
    parser.add_argument("--allowlist", type=Path, default=DEFAULT_ALLOWLIST)
    parser.add_argument("--kubernetes-version", default=KUBERNETES_VERSION)
    parser.add_argument("--checkov", help="checkov executable (its own venv)")
    args = parser.parse_args(argv)

    objects = load_objects(args.directory)
    if not objects:
        print(f"{args.directory}: no Kubernetes objects to validate")
        return 1
    builtin = {p: o for p, o in objects.items() if is_builtin(o["apiVersion"])}
    custom = {p: o for p, o in objects.items() if p not in builtin}
    tallies = [
        validate_builtin(list(builtin), args.kubernetes_version),
        validate_custom(custom, args.schemas, load_allowlist(args.allowlist)),
    ]
    if args.checkov:
        tallies.append(run_checkov(args.checkov, args.directory))
    else:
        print("checkov: not run (no --checkov given)")

    print(f"\n{args.directory}: {len(objects)} objects")
    for tally in tallies:
        for note in tally.notes:
            print(f"  {note}")
        print(tally.line())
    return 1 if any(t.failed for t in tallies) else 0


def load_objects(directory: Path) -> dict[Path, dict[str, Any]]:
    """Every object file render wrote, one object per file."""
    found: dict[Path, dict[str, Any]] = {}
    # Secrets sit in a subdirectory so that `kubectl apply -f DIR` skips them.
    for path in sorted(directory.rglob("*.yaml")):
        if path.name in NOT_OBJECTS:
            continue
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
        if len(documents) != 1 or not isinstance(documents[0], dict):
            raise SystemExit(f"{path}: expected exactly one object")
        obj = documents[0]
        if "apiVersion" not in obj or "kind" not in obj:
            raise SystemExit(f"{path}: has no apiVersion or kind")
        found[path] = obj
    return found


def is_builtin(api_version: str) -> bool:
    """Whether the API group is served by Kubernetes itself, not by a CRD."""
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def validate_builtin(paths: list[Path], version: str) -> Tally:
    """kubernetes-validate --strict over every built-in object, in one run."""
    tally = Tally(f"kubernetes-validate --strict -k {version}")
    if not paths:
        return tally
    command = [_tool("kubernetes-validate"), "--strict", "-k", version, "--quiet"]
    done = subprocess.run(
        [*command, *map(str, paths)], capture_output=True, text=True, check=False
    )
    bad = {
        line.split()[1]
        for line in done.stdout.splitlines() + done.stderr.splitlines()
        if line.startswith("ERROR") and len(line.split()) > 1
    }
    for line in (done.stdout + done.stderr).splitlines():
        if line.startswith(("ERROR", "WARN")):
            tally.notes.append(line)
    if done.returncode != 0 and not bad:
        # A crash or an unknown version is a failure of the whole run.
        tally.notes.append(f"exit {done.returncode}: {done.stderr.strip()}")
        tally.failed = len(paths)
        return tally
    tally.failed = len(bad)
    tally.passed = len(paths) - len(bad)
    return tally


def validate_custom(
    objects: dict[Path, dict[str, Any]], schemas: Path, allowed: dict[str, str]
) -> Tally:
    """Each custom resource against its CRD schema; missing schemas listed."""
    tally = Tally(f"jsonschema (CRD schemas in {schemas})")
    for path, obj in objects.items():
        group, _, version = obj["apiVersion"].rpartition("/")
        kind = obj["kind"]
        schema_file = schemas / group / f"{kind.lower()}_{version}.json"
        if not schema_file.is_file():
            key = f"{group}/{kind}"
            if key in allowed:
                tally.skipped += 1
                tally.notes.append(
                    f"NO SCHEMA {path.name}: {key} {version} (allowed: {allowed[key]})"
                )
            else:
                tally.failed += 1
                tally.notes.append(
                    f"NO SCHEMA {path.name}: {key} {version}; expected {schema_file}"
                    " (add a schema, or list it in crd_allowlist.yaml with a reason)"
                )
            continue
        schema = json.loads(schema_file.read_text())
        validator = jsonschema.validators.validator_for(schema)(schema)
        errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.path))
        if errors:
            tally.failed += 1
            for error in errors:
                where = ".".join(str(p) for p in error.absolute_path) or "(root)"
                tally.notes.append(f"INVALID {path.name}: {where}: {error.message}")
        else:
            tally.passed += 1
    return tally


def load_allowlist(path: Path) -> dict[str, str]:
    """group/Kind -> why that custom resource may go without a schema."""
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    for key, reason in data.items():
        if not isinstance(reason, str) or not reason.strip():
            raise SystemExit(f"{path}: {key} needs a reason")
    return {str(k): str(v) for k, v in data.items()}


def run_checkov(executable: str, directory: Path) -> Tally:
    """checkov's Kubernetes checks; every failure is listed with its object."""
    tally = Tally("checkov --framework kubernetes")
    done = subprocess.run(
        [
            executable,
            "-d",
            str(directory),
            "--framework",
            "kubernetes",
            "--output",
            "json",
            "--compact",
            # Offline and deterministic: no guideline download, no API calls.
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        tally.failed = 1
        tally.notes.append(f"checkov gave no report: {done.stderr.strip()[-2000:]}")
        return tally
    reports = report if isinstance(report, list) else [report]
    for part in reports:
        results = part.get("results", {})
        summary = part.get("summary", part)
        tally.passed += int(summary.get("passed", 0))
        tally.failed += int(summary.get("failed", 0))
        tally.skipped += int(summary.get("skipped", 0))
        for check in results.get("failed_checks", []):
            tally.notes.append(
                f"FAILED {check['check_id']} {check.get('resource')} "
                f"({Path(check.get('file_path', '')).name}): {check.get('check_name')}"
            )
        for check in results.get("skipped_checks", []):
            reason = (check.get("check_result") or {}).get("suppress_comment", "")
            tally.notes.append(
                f"SKIPPED {check['check_id']} {check.get('resource')}: {reason}"
            )
    return tally


def _tool(name: str) -> str:
    # Prefer the tool installed beside this interpreter (the project's venv).
    beside = Path(sys.executable).with_name(name)
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed; run make .venv first")
    return found


if __name__ == "__main__":
    sys.exit(main())
