"""The SurrealDB migrations Job: imports migrations/*.surql in file-name order."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import (
    UPSTREAM_IMAGE_PULL,
    UPSTREAM_IMAGE_TAGS,
    StagePolicy,
    checkov_skips,
    labels,
    metadata,
    selector,
)
from vapora_infra.components.flows import MIGRATIONS, Flows
from vapora_infra.components.network import allow_policies
from vapora_infra.components.secrets import DB_USER
from vapora_infra.components.workload import container, pod_spec, secret_env
from vapora_infra.spec.secrets import DB_SECRET

SURREAL_NAMESPACE = "vapora"
SURREAL_DATABASE = "vapora"
MOUNT = "/migrations"
_UNSAFE = re.compile(r"[^a-z0-9-]+")
# An import is a short client run: far less than the database server needs.
IMPORT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}
SKIPS = checkov_skips(
    {
        "CKV_K8S_15": UPSTREAM_IMAGE_PULL,
        "CKV_K8S_35": (
            "surreal import takes the database password only as --pass or "
            "from the environment and has no file option; the Job reads it from "
            "a Secret through secretKeyRef, so it never appears in the object "
            "itself."
        ),
        "CKV_K8S_43": UPSTREAM_IMAGE_TAGS,
    }
)


class Database(Protocol):
    """The SurrealDB outputs the Job connects to."""

    http_url: pulumi.Output[str]


@dataclass(frozen=True)
class SurrealMigrationsArgs:
    """The migration files, by file name, and the database they apply to."""

    files: Mapping[str, str]
    image: str
    namespace: str
    database: Database
    stage: StagePolicy
    flows: Flows
    resources: Mapping[str, Any] = field(default_factory=lambda: IMPORT_RESOURCES)


class SurrealMigrations(pulumi.ComponentResource):
    """A ConfigMap of .surql files and the Job that imports them."""

    def __init__(
        self,
        name: str,
        args: SurrealMigrationsArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:data:SurrealMigrations", name, None, opts)
        if not args.files:
            raise ValueError("SurrealMigrations needs at least one .surql file")
        object_labels = labels(MIGRATIONS, "migrations")
        ordered = sorted(args.files)
        digest = hashlib.sha256()
        for file_name in ordered:
            digest.update(file_name.encode() + b"\0" + args.files[file_name].encode())

        files = k8s.core.v1.ConfigMap(
            f"{name}-files",
            metadata=metadata(MIGRATIONS, args.namespace, object_labels),
            data=dict(args.files),
            opts=args.stage.options(self),
        )

        # The image has no shell to loop over files, and init containers run
        # one after another, each only once the previous one succeeded: every
        # file but the last is an init container, the last the main one.
        steps = [
            container(
                _step_name(file_name),
                args.image,
                args.resources,
                args=[
                    "import",
                    "--conn",
                    args.database.http_url,
                    "--user",
                    DB_USER,
                    "--pass",
                    "$(SURREAL_PASS)",
                    "--ns",
                    SURREAL_NAMESPACE,
                    "--db",
                    SURREAL_DATABASE,
                    f"{MOUNT}/{file_name}",
                ],
                env=[secret_env("SURREAL_PASS", *DB_SECRET)],
                mounts=[{"name": "files", "mountPath": MOUNT, "readOnly": True}],
            )
            for file_name in ordered
        ]
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=metadata(
                MIGRATIONS,
                args.namespace,
                object_labels,
                # A new set of files is a new Job spec, which Pulumi replaces.
                {"vapora.dev/migrations-sha256": digest.hexdigest(), **SKIPS},
            ),
            spec={
                "backoffLimit": 3,
                "activeDeadlineSeconds": 600,
                "template": {
                    "metadata": {
                        "labels": {**object_labels, **selector(MIGRATIONS)},
                        # A sidecar would keep the pod running after the
                        # import ends, and the Job would never complete.
                        "annotations": {"sidecar.istio.io/inject": "false"},
                    },
                    "spec": pod_spec(
                        steps[-1:],
                        initContainers=steps[:-1],
                        restartPolicy="Never",
                        volumes=[{"name": "files", "configMap": {"name": MIGRATIONS}}],
                    ),
                },
            },
            opts=args.stage.options(self, depends_on=[files]),
        )

        allow_policies(
            MIGRATIONS,
            args.namespace,
            selector(MIGRATIONS),
            object_labels,
            args.flows,
            args.stage,
            self,
        )

        self.files = pulumi.Output.from_input(ordered)
        self.register_outputs({"files": self.files, "job": self.job.metadata.name})


def _step_name(file_name: str) -> str:
    stem = file_name.rsplit(".", 1)[0].lower()
    return ("import-" + _UNSAFE.sub("-", stem))[:63].strip("-")
