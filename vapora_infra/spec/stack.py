"""Stack settings: everything under the ``vapora:`` config namespace."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from vapora_infra.spec.agents import AgentPool, Role
from vapora_infra.spec.base import Count, Resources, Schema, register
from vapora_infra.spec.cluster import Cluster
from vapora_infra.spec.data import DataServices
from vapora_infra.spec.taskserv import Scaling
from vapora_infra.spec.units import DnsLabel

_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$"
)
_VERSION = r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$"


def _host(text: str) -> str:
    if not _HOST.fullmatch(text):
        raise ValueError("is not a lowercase DNS host name like vapora.example.com")
    return text


Host = Annotated[str, AfterValidator(_host)]


class ServiceOverride(Schema):
    """Per-stack changes to one taskserv: on/off, version, size."""

    enabled: bool = True
    version: str | None = Field(default=None, pattern=_VERSION)
    replicas: Count | None = None
    scaling: Scaling | None = None
    resources: Resources | None = None


class Ingress(Schema):
    """The Istio Gateway's hosts and TLS certificate Secret."""

    hosts: list[Host] = Field(default_factory=list)
    tls_secret: DnsLabel | None = None


class Vault(Schema):
    """A Vault-compatible store (RustyVault speaks the same API)."""

    address: str = Field(pattern=r"^https?://[^\s]+$")
    mount: str = Field(default="secret", pattern=r"^[a-z0-9][-a-z0-9/]*$")
    path: str = Field(default="vapora", pattern=r"^[a-z0-9][-a-z0-9/]*$")
    auth: Literal["token", "kubernetes"] = "token"
    role: str | None = Field(default=None, description="role for kubernetes auth")

    @model_validator(mode="after")
    def _role_for_kubernetes(self) -> Self:
        if self.auth == "kubernetes" and not self.role:
            raise ValueError("auth kubernetes needs the vault role")
        return self


class SecretSource(Schema):
    """Where the values of Kubernetes Secrets come from."""

    source: Literal["pulumi-config", "vault"] = "pulumi-config"
    vault: Vault | None = None

    @model_validator(mode="after")
    def _vault_settings(self) -> Self:
        if self.source == "vault" and self.vault is None:
            raise ValueError("source vault needs the vault settings")
        return self


class Notifications(Schema):
    """Where workflow completion notices go."""

    slack_webhook_key: str = Field(
        default="slackWebhook", description="secret config key of the webhook URL"
    )


class Autoscaler(Schema):
    """Where the operations CLI reads queue depth from."""

    queue_source: Literal["nats", "surrealdb"] = "nats"
    stream: str = Field(default="AGENT_TASKS", pattern=r"^[A-Za-z0-9_-]+$")


@register
class StackSettings(Schema):
    """All settings of one stack, as found in Pulumi.<stack>.yaml."""

    cluster: Cluster
    storage: DataServices
    agents: dict[Role, AgentPool] = Field(default_factory=dict)
    services: dict[DnsLabel, ServiceOverride] = Field(default_factory=dict)
    ingress: Ingress = Field(default_factory=Ingress)
    secrets: SecretSource = Field(default_factory=SecretSource)
    protect: bool = Field(
        default=True, description="protect stateful objects from deletion"
    )
    autoscaler: Autoscaler = Field(default_factory=Autoscaler)
    notifications: Notifications = Field(default_factory=Notifications)

    @model_validator(mode="after")
    def _storage_classes_exist(self) -> Self:
        classes = {sc.name for sc in self.cluster.storage.storage_classes}
        for name in sorted(self.storage.enabled_names()):
            wanted = getattr(self.storage, name).storage.storage_class
            if wanted not in classes:
                raise ValueError(
                    f"storage.{name}.storage.storage_class {wanted!r} is not a class "
                    f"of cluster.storage.storage_classes; accepted: "
                    + ", ".join(sorted(classes))
                )
        if self.secrets.source == "vault" and not self.cluster.has_addon(
            "external-secrets"
        ):
            raise ValueError("secrets.source vault needs the external-secrets add-on")
        return self
