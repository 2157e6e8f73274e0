"""The Kubernetes Secrets VAPORA's pods read, filled from Pulumi secret config."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import PART_OF, StagePolicy, metadata

DB_USER = "root"


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
