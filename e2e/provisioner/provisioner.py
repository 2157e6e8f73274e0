"""Bind pending PersistentVolumeClaims to hostPath volumes on a kwok cluster.

kwok fakes nodes and pods but has no storage, so a StatefulSet with a
volumeClaimTemplate never becomes ready. This loop plays the external
provisioner for StorageClasses whose provisioner is ``vapora.local/hostpath``:
it makes sure a default class of that kind exists, creates one pre-bound
hostPath PersistentVolume per pending claim, and deletes the volume once its
claim is gone. It needs only the standard library and ``kubectl``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

PROVISIONER = "vapora.local/hostpath"
DEFAULT_CLASS = "standard"
MANAGED_LABEL = "vapora.local/e2e-provisioner"


def main() -> int:
    """Run the provisioner until interrupted (or once with --once)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubectl", default="kubectl", help="kubectl binary")
    parser.add_argument("--kubeconfig", required=True, help="cluster kubeconfig")
    parser.add_argument("--root", default="/tmp/vapora-e2e-volumes",
                        help="hostPath directory under which volumes are named")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between reconcile passes")
    parser.add_argument("--once", action="store_true", help="reconcile once and exit")
    args = parser.parse_args()
    kube = Kubectl(args.kubectl, args.kubeconfig)

    ensure_default_class(kube)
    while True:
        try:
            reconcile(kube, args.root)
        except subprocess.CalledProcessError as e:
            # The API server may be restarting; try again on the next pass.
            print(f"provisioner: {e.stderr.strip()}", file=sys.stderr, flush=True)
        if args.once:
            return 0
        time.sleep(args.interval)


class Kubectl:
    """A thin JSON-in, JSON-out wrapper around one kubectl binary."""

    def __init__(self, binary: str, kubeconfig: str) -> None:
        self.base = [binary, "--kubeconfig", kubeconfig]

    def get(self, *what: str) -> list[dict[str, Any]]:
        """Return the items of ``kubectl get WHAT -o json``."""
        out = self._run(["get", *what, "-o", "json"])
        items: list[dict[str, Any]] = json.loads(out)["items"]

        return items

    def create(self, obj: dict[str, Any]) -> None:
        """Create OBJ, ignoring an object that already exists."""
        try:
            self._run(["create", "-f", "-"], stdin=json.dumps(obj))
        except subprocess.CalledProcessError as e:
            if "AlreadyExists" not in e.stderr:
                raise

    def delete(self, kind: str, name: str) -> None:
        """Delete one cluster-scoped object if it still exists."""
        self._run(["delete", kind, name, "--ignore-not-found", "--wait=false"])

    def _run(self, argv: list[str], stdin: str | None = None) -> str:
        done = subprocess.run(self.base + argv, input=stdin, capture_output=True,
                              text=True, check=True)

        return done.stdout


def ensure_default_class(kube: Kubectl) -> None:
    """Create the ``standard`` default StorageClass unless a default exists."""
    annotation = "storageclass.kubernetes.io/is-default-class"
    for storage_class in kube.get("storageclass"):
        if storage_class["metadata"].get("annotations", {}).get(annotation) == "true":
            return

    kube.create({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": DEFAULT_CLASS, "annotations": {annotation: "true"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    })
    print(f"provisioner: created default StorageClass {DEFAULT_CLASS}", flush=True)


def reconcile(kube: Kubectl, root: str) -> None:
    """Provision volumes for pending claims and drop released volumes."""
    ours = {sc["metadata"]["name"] for sc in kube.get("storageclass")
            if sc.get("provisioner") == PROVISIONER}

    for claim in kube.get("pvc", "--all-namespaces"):
        spec, meta = claim["spec"], claim["metadata"]
        pending = claim.get("status", {}).get("phase") == "Pending"
        if pending and not spec.get("volumeName") and spec.get("storageClassName") in ours:
            kube.create(volume_for(claim, root))
            print(f"provisioner: bound {meta['namespace']}/{meta['name']}", flush=True)

    for volume in kube.get("pv", "-l", MANAGED_LABEL):
        if volume.get("status", {}).get("phase") in ("Released", "Failed"):
            kube.delete("pv", volume["metadata"]["name"])


def volume_for(claim: dict[str, Any], root: str) -> dict[str, Any]:
    """A hostPath PersistentVolume pre-bound to CLAIM."""
    meta, spec = claim["metadata"], claim["spec"]
    name = f"pvc-{meta['uid']}"

    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "labels": {MANAGED_LABEL: "true"},
            "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
        },
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "storageClassName": spec["storageClassName"],
            # Retain, then delete it ourselves: no in-tree deleter handles a
            # hostPath volume provisioned outside the controller manager.
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
            "hostPath": {"path": f"{root}/{name}", "type": "DirectoryOrCreate"},
        },
    }


if __name__ == "__main__":
    sys.exit(main())
