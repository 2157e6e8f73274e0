"""External Secrets Operator: VAPORA's Secrets from a Vault-compatible store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import PART_OF
from vapora_infra.components.platform.charts import (
    AddonArgs,
    ChartSource,
    chart,
    namespace,
)
from vapora_infra.spec.stack import Vault

# external-secrets.io/v1, the API the ExternalSecrets below are written in,
# is served from chart 0.17 on.
EXTERNAL_SECRETS = ChartSource(
    "external-secrets", "https://charts.external-secrets.io", "0.19.2"
)
NAMESPACE = "external-secrets"
STORE = "vapora-vault"
TOKEN_SECRET = "vapora-vault-token"
TOKEN_KEY = "token"
REFRESH = "1h"


class ExternalSecrets(pulumi.ComponentResource):
    """The operator, a ClusterSecretStore for Vault, and VAPORA's ExternalSecrets.

    ``secrets`` holds one ExternalSecret per (namespace, Secret name); the
    workload stages create no Secret of their own when it is set.
    """

    secrets: dict[tuple[str, str], k8s.apiextensions.CustomResource]

    def __init__(
        self,
        name: str,
        args: AddonArgs,
        vault: Vault,
        app_secrets: Mapping[tuple[str, str], Sequence[str]],
        vault_token: pulumi.Output[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("vapora:platform:ExternalSecrets", name, None, opts)
        if vault.auth == "token" and vault_token is None:
            raise ValueError("token auth needs the vaultToken secret config")
        self.version = EXTERNAL_SECRETS.pinned(args.spec, "external-secrets")

        space = namespace(f"{name}-namespace", NAMESPACE, self, args.stage)

        # A chart: the CRDs and the webhook are plain objects; the operator
        # issues the webhook's certificate itself, with no Helm hook.
        self.chart = chart(
            f"{name}-chart",
            EXTERNAL_SECRETS,
            self.version,
            NAMESPACE,
            {"installCRDs": True, "replicaCount": 2},
            args.stage.options(self, depends_on=[*args.after, space]),
        )

        store_after: list[pulumi.Resource] = [self.chart]
        if vault_token is not None and vault.auth == "token":
            # Secret even if the caller passed a plain value.
            token_data: pulumi.Output[dict[str, str]] = pulumi.Output.secret(
                vault_token.apply(lambda value: {TOKEN_KEY: value})
            )
            token = k8s.core.v1.Secret(
                f"{name}-vault-token",
                metadata={
                    "name": TOKEN_SECRET,
                    "namespace": NAMESPACE,
                    "labels": {"app.kubernetes.io/part-of": PART_OF},
                },
                type="Opaque",
                string_data=token_data,
                opts=args.stage.options(self, depends_on=[space]),
            )
            store_after.append(token)

        self.store = k8s.apiextensions.CustomResource(
            f"{name}-store",
            api_version="external-secrets.io/v1",
            kind="ClusterSecretStore",
            metadata={"name": STORE, "labels": {"app.kubernetes.io/part-of": PART_OF}},
            spec=cluster_secret_store_spec(vault),
            opts=args.stage.options(self, depends_on=store_after),
        )

        self.secrets = {}
        for (secret_namespace, secret_name), keys in app_secrets.items():
            self.secrets[(secret_namespace, secret_name)] = (
                k8s.apiextensions.CustomResource(
                    f"{name}-{secret_namespace}-{secret_name}",
                    api_version="external-secrets.io/v1",
                    kind="ExternalSecret",
                    metadata={
                        "name": secret_name,
                        "namespace": secret_namespace,
                        "labels": {"app.kubernetes.io/part-of": PART_OF},
                    },
                    spec=external_secret_spec(vault, secret_name, keys),
                    opts=args.stage.options(self, depends_on=[self.store]),
                )
            )

        self.register_outputs(
            {
                "version": self.version,
                "store": STORE,
                "secrets": sorted(f"{ns}/{n}" for ns, n in self.secrets),
            }
        )


def cluster_secret_store_spec(vault: Vault) -> dict[str, Any]:
    """A store reading the KV version 2 engine at the vault settings' mount."""
    auth: dict[str, Any]
    if vault.auth == "kubernetes":
        auth = {"kubernetes": {"mountPath": "kubernetes", "role": vault.role}}
    else:
        auth = {
            "tokenSecretRef": {
                "name": TOKEN_SECRET,
                "namespace": NAMESPACE,
                "key": TOKEN_KEY,
            }
        }
    return {
        "provider": {
            "vault": {
                "server": vault.address,
                "path": vault.mount,
                "version": "v2",
                "auth": auth,
            }
        }
    }


def external_secret_spec(
    vault: Vault, secret_name: str, keys: Sequence[str]
) -> dict[str, Any]:
    """Keys of one Secret, read from ``<path>/<secret name>`` in the store."""
    return {
        "refreshInterval": REFRESH,
        "secretStoreRef": {"kind": "ClusterSecretStore", "name": STORE},
        "target": {"name": secret_name, "creationPolicy": "Owner"},
        "data": [
            {
                "secretKey": key,
                "remoteRef": {"key": f"{vault.path}/{secret_name}", "property": key},
            }
            for key in keys
        ],
    }
