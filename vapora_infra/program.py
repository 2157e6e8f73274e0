"""Builds a whole VAPORA stack from a loaded project, in the workflow's order."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from vapora_infra.components.base import StagePolicy
from vapora_infra.components.flows import Flows, network_flows
from vapora_infra.errors import SpecError
from vapora_infra.spec.project import Project
from vapora_infra.spec.stages import RESOURCE_TASKS, Stage, plan_stages
from vapora_infra.spec.units import duration_seconds
from vapora_infra.spec.workflow import Step

SYSTEM_NAMESPACE = "vapora-system"
AGENTS_NAMESPACE = "vapora-agents"


@dataclass
class Built:
    """What the program registered, for exports and for the offline plan."""

    stages: list[Stage]
    # Top-level component name -> the stage that deployed it.
    stage_of: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Context:
    """State shared while the stages are built, in order."""

    project: Project
    built: Built
    provider: k8s.Provider | None = None
    by_stage: dict[str, list[pulumi.Resource]] = field(default_factory=dict)
    steps: dict[str, Step] = field(default_factory=dict)
    # Stage name -> the object that is ready once everything in it is.
    gates: dict[str, pulumi.Resource] = field(default_factory=dict)
    # Service name -> its component, for references between services.
    services: dict[str, Any] = field(default_factory=dict)
    cluster: Any = None
    platform: Any = None

    def policy(self, stage: Stage) -> StagePolicy:
        after = [self.gates[name] for name in self.frontier(stage.step)]
        timeout = stage.step.timeout
        # Pulumi reads timeouts as Go durations; 1h30m is valid in both worlds,
        # but normalise to minutes so the plan shows one unit.
        if timeout is not None:
            timeout = f"{duration_seconds(timeout) // 60}m"
        return StagePolicy(stage.name, timeout, tuple(after))

    def frontier(self, step: Step) -> list[str]:
        # Only the nearest stages that registered something: earlier ones are
        # reached through them, and depending on every earlier component made
        # each resource carry hundreds of dependencies the engine re-checks.
        found: list[str] = []
        for needed in step.depends_on:
            if needed in self.gates:
                found.append(needed)
            else:
                found.extend(self.frontier(self.steps[needed]))
        return sorted(set(found))

    def add(self, stage: Stage, component: pulumi.Resource, name: str) -> None:
        self.by_stage[stage.name].append(component)
        self.built.stage_of[name] = stage.name

    def options(self) -> pulumi.ResourceOptions:
        """Options for a top-level component: the one cluster provider."""
        if self.provider is None:
            return pulumi.ResourceOptions()
        return pulumi.ResourceOptions(providers={"kubernetes": self.provider})


def build(project: Project) -> Built:
    """Register every resource of the stack; return what was built."""
    stages = plan_stages(project)
    built = Built(stages)
    context = _Context(
        project,
        built,
        by_stage={s.name: [] for s in stages},
        steps={s.name: s.step for s in stages},
    )

    for stage in stages:
        _BUILDERS[RESOURCE_TASKS[stage.task]](context, stage)
        _close_stage(context, stage)

    built.outputs["stages"] = [stage.name for stage in stages]
    return built


def _close_stage(context: _Context, stage: Stage) -> None:
    """Register the stage's gate: one object later stages wait for.

    Waiting on a component means waiting on each of its children, so letting
    every resource of a stage wait on every component before it costs a
    dependency per pair, and the SDK checks each for cycles. A gate per stage
    keeps that linear; it also leaves a record in the cluster of which stages
    of the deploy workflow have completed.
    """
    components = context.by_stage[stage.name]
    if not components or context.provider is None:
        return
    name = f"stage-{stage.name}"
    upstream = ", ".join(context.frontier(stage.step))
    gate = k8s.core.v1.ConfigMap(
        name,
        metadata={
            "name": f"vapora-{name}",
            "namespace": SYSTEM_NAMESPACE,
            "labels": {
                "app.kubernetes.io/part-of": "vapora",
                "app.kubernetes.io/managed-by": "pulumi",
                "app.kubernetes.io/component": "deploy-stage",
            },
        },
        data={"stage": stage.name, "after": upstream},
        opts=pulumi.ResourceOptions(provider=context.provider, depends_on=components),
    )
    context.gates[stage.name] = gate
    context.built.stage_of[name] = stage.name


def _build_cluster(context: _Context, stage: Stage) -> None:
    from vapora_infra.components.namespaces import Namespaces, NamespacesArgs

    settings = context.project.settings
    policy = context.policy(stage)
    if settings.cluster.platform == "existing":
        from vapora_infra.components.existing_cluster import (
            ExistingCluster,
            ExistingClusterArgs,
        )

        cluster: Any = ExistingCluster("cluster", ExistingClusterArgs(settings.cluster))
    else:
        from vapora_infra.components.eks_cluster import EksCluster, EksClusterArgs

        cluster = EksCluster(
            "cluster", EksClusterArgs(settings.cluster, context.project.stack, policy)
        )
    context.cluster = cluster
    context.provider = cluster.provider
    context.add(stage, cluster, "cluster")
    context.built.outputs["cluster_name"] = cluster.cluster_name
    if settings.cluster.platform == "aws-eks":
        # Secret: it names the endpoint and the role that reaches it.
        context.built.outputs["kubeconfig"] = cluster.kubeconfig
        # What the plan shows about pools that create no instances.
        context.built.outputs["cluster_notes"] = cluster.notes

    namespaces = Namespaces(
        "namespaces",
        NamespacesArgs(
            names=[SYSTEM_NAMESPACE, AGENTS_NAMESPACE],
            stage=policy,
            istio_injection=settings.cluster.network.service_mesh == "istio",
            retained=frozenset({SYSTEM_NAMESPACE}),
        ),
        context.options(),
    )
    context.add(stage, namespaces, "namespaces")


def _build_nothing(context: _Context, stage: Stage) -> None:
    # A check step registers nothing: the provider's readiness await is the
    # health check, and later stages wait on this one's upstream components.
    return None


def _build_addons(context: _Context, stage: Stage) -> None:
    """The platform: every add-on the stack enables."""
    from vapora_infra.components.platform.platform import Platform, PlatformArgs
    from vapora_infra.spec.secrets import check_vault_token, secret_keys

    project = context.project
    settings = project.settings
    if not settings.cluster.addons:
        return
    config = pulumi.Config("vapora")
    surrealdb = settings.storage.surrealdb
    vault = settings.secrets.vault
    vault_token = None
    if settings.secrets.source == "vault" and vault and vault.auth == "token":
        vault_token = config.get_secret("vaultToken")
        if vault_token is None:
            # The loader refuses this before an update; the program itself may
            # also run without it (the offline recorder), so it refuses alike.
            check_vault_token(project.config_file, True, {}, require=True)

    platform = Platform(
        "platform",
        PlatformArgs(
            cluster=settings.cluster,
            stage=context.policy(stage),
            secrets=settings.secrets,
            app_secrets=secret_keys(
                project.enabled_taskservs(),
                surrealdb.namespace if surrealdb.enabled else None,
            ),
            vault_token=vault_token,
            grafana_password=config.get_secret("grafanaAdminPassword"),
        ),
        context.options(),
    )
    context.platform = platform
    context.add(stage, platform, "platform")


def _build_services(context: _Context, stage: Stage) -> None:
    """Data services and taskservs of one deploy-taskservs step."""
    policy = context.policy(stage)
    flows = network_flows(context.project)
    secrets = _app_secrets(context, stage, policy)
    if secrets is not None:
        policy = dataclasses.replace(policy, after=(*policy.after, secrets))

    for name in stage.data:
        component = _data_service(context, name, policy, flows)
        context.services[name] = component
        context.add(stage, component, name)
    for name in stage.taskservs:
        _taskserv(context, stage, policy, name, flows)


def _data_service(
    context: _Context, name: str, policy: StagePolicy, flows: dict[str, Flows]
) -> pulumi.Resource:
    settings = context.project.settings
    storage = settings.storage
    protect = settings.protect
    if name == "surrealdb":
        from vapora_infra.components.surrealdb import SurrealDB, SurrealDBArgs

        return SurrealDB(
            name,
            SurrealDBArgs(storage.surrealdb, policy, flows[name], protect),
            context.options(),
        )
    if name == "nats":
        from vapora_infra.components.nats import Nats, NatsArgs

        metrics = settings.cluster.has_addon("prometheus")
        return Nats(
            name,
            NatsArgs(storage.nats, policy, flows[name], protect, metrics),
            context.options(),
        )
    from vapora_infra.components.redis import Redis, RedisArgs

    return Redis(
        name, RedisArgs(storage.redis, policy, flows[name], protect), context.options()
    )


def _taskserv(
    context: _Context,
    stage: Stage,
    policy: StagePolicy,
    name: str,
    flows: dict[str, Flows],
) -> None:
    from vapora_infra.components.service import (
        TaskservService,
        TaskservServiceArgs,
    )

    project = context.project
    taskserv = project.enabled_taskservs()[name]
    references = {
        needed: context.services[needed]
        for needed in taskserv.dependencies.all
        if needed in context.services
    }
    # A required service must be up before this one starts, beyond the stage
    # order: its pods would otherwise crash-loop until it answers.
    required = [references[needed] for needed in taskserv.dependencies.required]
    component = TaskservService(
        name,
        TaskservServiceArgs(
            taskserv,
            dataclasses.replace(policy, after=(*policy.after, *required)),
            flows[name],
            references,
            metrics=project.settings.cluster.has_addon("prometheus"),
        ),
        context.options(),
    )
    context.services[name] = component
    context.add(stage, component, name)


def _build_agents(context: _Context, stage: Stage) -> None:
    """The agent runtime taskserv and one pool per role of the step."""
    from vapora_infra.components.agent_pool import AgentPool, AgentPoolArgs
    from vapora_infra.components.flows import AGENT_POOLS

    settings = context.project.settings
    policy = context.policy(stage)
    flows = network_flows(context.project)
    secrets = _app_secrets(context, stage, policy)
    if secrets is not None:
        policy = dataclasses.replace(policy, after=(*policy.after, secrets))

    for name in stage.taskservs:
        _taskserv(context, stage, policy, name, flows)
    nats = context.services.get("nats")
    pools = {str(role): pool for role, pool in settings.agents.items()}
    for role in stage.agents:
        if nats is None:
            raise SpecError(
                context.project.config_file,
                "vapora:storage.nats.enabled",
                False,
                f"leaves agent pool {role!r} without its task queue; enable NATS.",
            )
        pool = AgentPool(
            f"agents-{role}",
            AgentPoolArgs(
                role=role,
                pool=pools[role],
                namespace=AGENTS_NAMESPACE,
                stage=policy,
                flows=flows[AGENT_POOLS],
                nats=nats,
                stream=settings.autoscaler.stream,
                keda=settings.cluster.has_addon("keda"),
            ),
            context.options(),
        )
        context.add(stage, pool, f"agents-{role}")


def _build_migrations(context: _Context, stage: Stage) -> None:
    """The Job that imports migrations/*.surql into SurrealDB."""
    from vapora_infra.components.flows import MIGRATIONS
    from vapora_infra.components.migrations import (
        SurrealMigrations,
        SurrealMigrationsArgs,
    )

    project = context.project
    surrealdb = project.settings.storage.surrealdb
    database = context.services.get("surrealdb")
    files = {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted((project.root / "migrations").glob("*.surql"))
    }
    if database is None or not files:
        return

    migrations = SurrealMigrations(
        "migrations",
        SurrealMigrationsArgs(
            files=files,
            image=surrealdb.image,
            namespace=surrealdb.namespace,
            database=database,
            stage=context.policy(stage),
            flows=network_flows(project)[MIGRATIONS],
        ),
        context.options(),
    )
    context.add(stage, migrations, "migrations")


def _build_ingress(context: _Context, stage: Stage) -> None:
    """The Istio Gateway and routes, on stacks that run the Istio mesh."""
    from vapora_infra.components.ingress import IstioIngress, IstioIngressArgs

    settings = context.project.settings
    frontend = context.services.get("vapora-frontend")
    backend = context.services.get("vapora-backend")
    mesh = settings.cluster.network
    if (
        mesh.service_mesh != "istio"
        or mesh.ingress_controller != "istio-gateway"
        or not settings.ingress.hosts
        or frontend is None
        or backend is None
    ):
        return

    ingress = IstioIngress(
        "ingress",
        IstioIngressArgs(
            hosts=settings.ingress.hosts,
            namespace=SYSTEM_NAMESPACE,
            frontend=frontend,
            backend=backend,
            stage=context.policy(stage),
            tls_secret=settings.ingress.tls_secret,
        ),
        context.options(),
    )
    context.add(stage, ingress, "ingress")
    context.built.outputs["urls"] = ingress.urls


def _app_secrets(
    context: _Context, stage: Stage, policy: StagePolicy
) -> pulumi.Resource | None:
    """The Secrets pods read, created by the first stage that deploys pods."""
    from vapora_infra.components.secrets import AppSecrets, AppSecretsArgs
    from vapora_infra.spec.secrets import check_secret_config, secret_keys

    for existing in context.by_stage.values():
        for component in existing:
            if isinstance(component, AppSecrets):
                return component
    project = context.project
    settings = project.settings
    surrealdb = settings.storage.surrealdb
    keys = secret_keys(
        project.enabled_taskservs(),
        surrealdb.namespace if surrealdb.enabled else None,
    )
    if not keys or settings.secrets.source == "vault":
        # With the vault source the add-ons stage syncs these same Secrets
        # (secret_keys gives their names and keys) through ExternalSecrets.
        return None
    values = _secret_values()
    if values is None:
        # Pods that read a missing Secret never start; the same refusal the
        # loader gives an update, for runs that bypass it.
        check_secret_config(project.config_file, keys, {}, require=True)
        return None

    secrets = AppSecrets(
        "secrets",
        AppSecretsArgs(keys, values, policy, retain=True),
        context.options(),
    )
    context.add(stage, secrets, "secrets")
    return secrets


def _secret_values() -> pulumi.Output[Any] | None:
    """The secret config object; the loader checked it holds every key."""
    from pulumi.runtime import config as runtime_config

    raw = runtime_config.get_config("vapora:secretValues")
    if raw is None:
        return None
    if isinstance(raw, str) and not raw.startswith("{"):
        # An offline placeholder stands in for the whole object; the engine
        # always hands over the structured value.
        return pulumi.Output.secret(raw)
    return pulumi.Config("vapora").require_secret_object("secretValues")


_BUILDERS: dict[str, Callable[[_Context, Stage], None]] = {
    "cluster": _build_cluster,
    "check": _build_nothing,
    # Filled in as the platform and workload components land.
    "addons": _build_addons,
    "services": _build_services,
    "agents": _build_agents,
    "migrations": _build_migrations,
    "ingress": _build_ingress,
}
