"""Taskservs: one TOML file per VAPORA service."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from vapora_infra.spec.base import Count, Port, Resources, Schema, register
from vapora_infra.spec.units import DnsLabel, check_label

SECRET_REF = re.compile(r"^secret:(?P<name>[^:]*):(?P<key>[^:]*)$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
# Environment values of the form ref:<service>.<output> are wired from the
# named service's Pulumi outputs instead of being written as text.
REF = re.compile(r"^ref:(?P<service>[a-z0-9-]+)\.(?P<output>url|host|port)$")
REF_OUTPUTS = ("url", "host", "port")

# The longest suffix a service adds to its name: "-metrics" for the
# ServiceMonitor and "-allow-ingress" for its NetworkPolicy; the label value
# must still fit 63 characters with it.
_LONGEST_SUFFIX = "-allow-ingress"


def _secret_ref(text: str) -> str:
    match = SECRET_REF.fullmatch(text)
    accepted = (
        "accepted: secret:NAME:KEY with NAME and KEY lowercase DNS labels, such as "
        "secret:vapora-secrets:jwt-secret"
    )
    if match is None:
        raise ValueError(f"is not a secret reference; {accepted}")
    for part in ("name", "key"):
        if not _DNS_LABEL.fullmatch(match.group(part)):
            raise ValueError(f"has an invalid {part} {match.group(part)!r}; {accepted}")
    return text


def _env_name(text: str) -> str:
    if not _ENV_NAME.fullmatch(text):
        raise ValueError("is not an environment variable name like DATABASE_URL")
    return text


SecretRef = Annotated[str, AfterValidator(_secret_ref)]
EnvName = Annotated[str, AfterValidator(_env_name)]


class TaskservInfo(Schema):
    """What the service is and which version of it to deploy."""

    name: DnsLabel
    type: Literal["service"] = "service"
    version: str = Field(pattern=_VERSION.pattern)
    description: str = ""


class Source(Schema):
    """Where the service's code lives; recorded as annotations, not built here."""

    repository: str = Field(min_length=1)
    branch: str = Field(min_length=1)
    path: str = ""


class Build(Schema):
    """How the image is built; the program only reads it for labels."""

    runtime: Literal["rust", "node", "go", "python"]
    build_command: str = Field(min_length=1)
    binary_path: str | None = None
    dockerfile: str = Field(min_length=1)


class DeploymentSettings(Schema):
    """Namespace, replicas and image of the service's Deployment."""

    namespace: Literal["vapora-system", "vapora-agents"] = Field(
        description="one of the namespaces the program creates"
    )
    replicas: Count
    image: str = Field(pattern=r"^\S+$", description="${version} is replaced")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"


class Ports(Schema):
    """The HTTP port and the Prometheus metrics port."""

    http: Port
    metrics: Port | None = None

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if self.metrics == self.http:
            raise ValueError(f"metrics port {self.metrics} equals the http port")
        return self


class HealthCheck(Schema):
    """The HTTP probe used for liveness and readiness."""

    path: str = Field(pattern=r"^/[\x21-\x7e]*$")
    interval_secs: int = Field(ge=1, le=300)
    timeout_secs: int = Field(ge=1, le=300)
    failure_threshold: int = Field(ge=1, le=30)

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> Self:
        if self.timeout_secs > self.interval_secs:
            raise ValueError(
                f"timeout_secs {self.timeout_secs} exceeds interval_secs "
                f"{self.interval_secs}"
            )
        return self


class Dependencies(Schema):
    """Services this one needs (required) or uses when present (optional)."""

    required: list[DnsLabel] = Field(default_factory=list)
    optional: list[DnsLabel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _disjoint(self) -> Self:
        both = set(self.required) & set(self.optional)
        if both:
            raise ValueError(f"{sorted(both)} listed as both required and optional")
        return self

    @property
    def all(self) -> list[str]:
        """Required then optional dependencies."""
        return [*self.required, *self.optional]


class Scaling(Schema):
    """HorizontalPodAutoscaler bounds and utilization targets."""

    min_replicas: Count
    max_replicas: Count
    target_cpu_percent: int | None = Field(default=None, ge=1, le=100)
    target_memory_percent: int | None = Field(default=None, ge=1, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas {self.min_replicas} is above max_replicas "
                f"{self.max_replicas}"
            )
        if self.target_cpu_percent is None and self.target_memory_percent is None:
            raise ValueError("needs target_cpu_percent or target_memory_percent")
        return self


@register
class Taskserv(Schema):
    """A whole taskserv file."""

    taskserv: TaskservInfo
    source: Source
    build: Build
    deployment: DeploymentSettings
    ports: Ports
    resources: Resources
    health_check: HealthCheck
    dependencies: Dependencies = Field(default_factory=Dependencies)
    scaling: Scaling | None = None
    environment: dict[EnvName, str] = Field(default_factory=dict)
    secrets: dict[EnvName, SecretRef] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        scaling = self.scaling
        if scaling is not None:
            low, high = scaling.min_replicas, scaling.max_replicas
            if not low <= self.deployment.replicas <= high:
                raise ValueError(
                    f"deployment.replicas {self.deployment.replicas} lies outside "
                    f"scaling bounds {low}..{high}"
                )
            # Utilization is measured against the request; without one the
            # autoscaler has nothing to divide by and never acts.
            if scaling.target_cpu_percent and self.resources.requests.cpu is None:
                raise ValueError(
                    "scaling.target_cpu_percent needs resources.requests.cpu"
                )
        unknown = set(_PLACEHOLDER.findall(self.deployment.image)) - {"version"}
        if unknown:
            raise ValueError(
                f"deployment.image {self.deployment.image!r} uses "
                f"${{{sorted(unknown)[0]}}}; the only placeholder is ${{version}}"
            )
        both = set(self.environment) & set(self.secrets)
        if both:
            raise ValueError(f"{sorted(both)} set in both environment and secrets")
        for variable, value in self.environment.items():
            if value.startswith("secret:"):
                raise ValueError(
                    f"environment.{variable} is a secret reference; move it to "
                    "[secrets], which turns it into a secretKeyRef"
                )
            ref = REF.fullmatch(value)
            if value.startswith("ref:") and ref is None:
                raise ValueError(
                    f"environment.{variable} {value!r} is not a reference; accepted: "
                    "ref:SERVICE.url, ref:SERVICE.host or ref:SERVICE.port"
                )
            if ref is not None and ref.group("service") not in self.dependencies.all:
                raise ValueError(
                    f"environment.{variable} refers to {ref.group('service')!r}, "
                    "which is not listed in dependencies"
                )
        try:
            check_label(self.name + _LONGEST_SUFFIX, "derived object")
        except ValueError as error:
            raise ValueError(f"taskserv.name {error}") from None
        return self

    @property
    def name(self) -> str:
        """The service name, used for every object it creates."""
        return self.taskserv.name

    @property
    def image(self) -> str:
        """The image reference with the version filled in."""
        return self.deployment.image.replace("${version}", self.taskserv.version)
