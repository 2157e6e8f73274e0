"""The Kubernetes Secrets VAPORA's pods read, filled from Pulumi secret config."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import PART_OF, StagePolicy, metadata
from vapora_infra.spec.taskserv import SECRET_REF, Taskserv

# SurrealDB's root password: the database reads it at start, the migrations
# Job to log in. Services that need it list it in their [secrets] as well.
DB_SECRET = ("vapora-secrets", "db-password")
DB_USER = "root"


def secret_keys(
    taskservs: Mapping[str, Taskserv], database_namespace: str | None
) -> dict[tuple[str, str], list[str]]:
    """Keys per (namespace, Secret name) that the stack's pods read, sorted.

    A namespace's copy of a Secret holds only the keys its own pods reference.
    The vault source builds its ExternalSecrets from the same mapping, so both
    sources provide exactly what the pods ask for.
    """
    found: dict[tuple[str, str], set[str]] = {}
    if database_namespace is not None:
        found.setdefault((database_namespace, DB_SECRET[0]), set()).add(DB_SECRET[1])
    for taskserv in taskservs.values():
        namespace = taskserv.deployment.namespace
        for reference in taskserv.secrets.values():
            match = SECRET_REF.fullmatch(reference)
            if match is not None:
                place = (namespace, match.group("name"))
                found.setdefault(place, set()).add(match.group("key"))
    return {place: sorted(keys) for place, keys in sorted(found.items())}


@dataclass(frozen=True)
class AppSecretsArgs:
    """The Secrets to create and the secret config object holding their values."""

    keys: Mapping[tuple[str, str], Sequence[str]]
    values: pulumi.Output[Any]
    stage: StagePolicy
    retain: bool = True


class AppSecrets(pulumi.ComponentResource):
    """One Secret per name and namespace, its data a Pulumi secret."""

    secrets: dict[str, k8s.core.v1.Secret]

    def __init__(
        self,
        name: str,
        args: AppSecretsArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:security:AppSecrets", name, None, opts)
        self.secrets = {}
        for (namespace, secret_name), keys in args.keys.items():
            # The values are picked inside the secret Output, so they reach the
            # engine encrypted and never appear in a plan or a log.
            picked: pulumi.Output[dict[str, str]] = args.values.apply(
                _picker(secret_name, tuple(keys))
            )
            data: pulumi.Output[dict[str, str]] = pulumi.Output.secret(
                cast("pulumi.Input[dict[str, str]]", picked)
            )
            self.secrets[f"{namespace}/{secret_name}"] = k8s.core.v1.Secret(
                f"{name}-{namespace}-{secret_name}",
                metadata=metadata(
                    secret_name, namespace, {"app.kubernetes.io/part-of": PART_OF}
                ),
                type="Opaque",
                string_data=data,
                opts=args.stage.options(self, retain_on_delete=args.retain),
            )

        self.names = pulumi.Output.from_input(sorted(self.secrets))
        self.register_outputs({"names": self.names})


def _picker(secret_name: str, keys: tuple[str, ...]) -> Callable[[Any], dict[str, str]]:
    def pick(values: Any) -> dict[str, str]:
        # The program checked every key exists; a value that is not a mapping
        # is the offline recorder's placeholder and stands in for each key.
        if not isinstance(values, Mapping):
            return dict.fromkeys(keys, str(values))
        return {key: str(values[secret_name][key]) for key in keys}

    return pick
