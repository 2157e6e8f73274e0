"""Which pods may talk to which: the network flows VAPORA's workloads need.

Plain data, no resources: the program computes the flows once from the project
and hands each workload component its own share, which it turns into
NetworkPolicies. Namespaces already deny everything but DNS by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from vapora_infra.components.base import PART_OF, selector
from vapora_infra.spec.project import DATA_SERVICES, Project

SYSTEM_NAMESPACE = "vapora-system"
AGENTS_NAMESPACE = "vapora-agents"
MONITORING_NAMESPACE = "monitoring"
KEDA_NAMESPACE = "keda"
ISTIO_NAMESPACE = "istio-system"

AGENT_POOLS = "agent-pools"
MIGRATIONS = "surrealdb-migrations"
NATS_METRICS_PORT = 7777
ISTIOD_XDS_PORT = 15012

# Every pool's pods carry this component label, so a data service admits all
# pools with one rule instead of one per role.
AGENT_POOL_COMPONENT = "agent-pool"
AGENT_POOL_LABELS: dict[str, str] = {
    "app.kubernetes.io/part-of": PART_OF,
    "app.kubernetes.io/component": AGENT_POOL_COMPONENT,
}
ISTIO_GATEWAY_LABELS: dict[str, str] = {"istio": "ingressgateway"}
ISTIOD_LABELS: dict[str, str] = {"app": "istiod"}

# What the agent pools call: the task queue, the model router and the tools.
AGENT_POOL_TARGETS = ("nats", "vapora-llm-router", "vapora-mcp-gateway")
# Services the browser reaches through the Istio ingress gateway.
GATEWAY_TARGETS = ("vapora-frontend", "vapora-backend")
# The router is the only service that calls outside the cluster: the LLM
# providers' HTTPS APIs, whose addresses are not stable enough to list.
EXTERNAL_HTTPS = ("vapora-llm-router",)


@dataclass(frozen=True)
class Peer:
    """Pods on the other side of a flow; no labels means the whole namespace."""

    namespace: str
    labels: Mapping[str, str] | None = None
    cidr: str | None = None


@dataclass(frozen=True)
class Rule:
    """One allowed flow: a peer and the TCP ports of the receiving pod."""

    peer: Peer
    ports: tuple[int, ...]


@dataclass
class Flows:
    """The flows one workload takes part in, from its own side."""

    ingress: list[Rule] = field(default_factory=list)
    egress: list[Rule] = field(default_factory=list)


ANYWHERE = Peer(namespace="", cidr="0.0.0.0/0")


def network_flows(project: Project) -> dict[str, Flows]:
    """Flows per workload name (service, data service, pools, migrations)."""
    settings = project.settings
    cluster = settings.cluster
    taskservs = project.enabled_taskservs()
    enabled = project.enabled_components()
    pools = any(pool.enabled for pool in settings.agents.values())
    peers = _peers(project)
    ports = _client_ports(project)
    flows: dict[str, Flows] = {name: Flows() for name in peers}

    def allow(source: str, target: str, target_ports: tuple[int, ...]) -> None:
        flows[target].ingress.append(Rule(peers[source], target_ports))
        flows[source].egress.append(Rule(peers[target], target_ports))

    for name, taskserv in taskservs.items():
        for needed in taskserv.dependencies.all:
            if needed in enabled:
                allow(name, needed, ports[needed])
    if pools:
        for needed in AGENT_POOL_TARGETS:
            if needed in enabled:
                allow(AGENT_POOLS, needed, ports[needed])
    if "surrealdb" in enabled:
        allow(MIGRATIONS, "surrealdb", ports["surrealdb"])

    nats = settings.storage.nats
    if nats.enabled and nats.replicas > 1:
        allow("nats", "nats", (nats.cluster_port,))
    if nats.enabled and cluster.has_addon("keda"):
        flows["nats"].ingress.append(Rule(Peer(KEDA_NAMESPACE), (nats.monitor_port,)))
    if cluster.has_addon("prometheus"):
        scraper = Peer(MONITORING_NAMESPACE)
        if nats.enabled:
            flows["nats"].ingress.append(Rule(scraper, (NATS_METRICS_PORT,)))
        for name, taskserv in taskservs.items():
            if taskserv.ports.metrics is not None:
                flows[name].ingress.append(Rule(scraper, (taskserv.ports.metrics,)))
    if cluster.network.service_mesh == "istio":
        gateway = Peer(ISTIO_NAMESPACE, ISTIO_GATEWAY_LABELS)
        if settings.ingress.hosts:
            for name in GATEWAY_TARGETS:
                if name in taskservs:
                    flows[name].ingress.append(Rule(gateway, ports[name]))
        # Each sidecar fetches its configuration and certificates from istiod.
        istiod = Rule(Peer(ISTIO_NAMESPACE, ISTIOD_LABELS), (ISTIOD_XDS_PORT,))
        for name, found in flows.items():
            if name != MIGRATIONS:
                found.egress.append(istiod)
    for name in EXTERNAL_HTTPS:
        if name in taskservs:
            flows[name].egress.append(Rule(ANYWHERE, (443,)))
    return flows


def _peers(project: Project) -> dict[str, Peer]:
    storage = project.settings.storage
    found = {
        name: Peer(getattr(storage, name).namespace, selector(name))
        for name in DATA_SERVICES
        if getattr(storage, name).enabled
    }
    for name, taskserv in project.enabled_taskservs().items():
        found[name] = Peer(taskserv.deployment.namespace, selector(name))
    found[AGENT_POOLS] = Peer(AGENTS_NAMESPACE, AGENT_POOL_LABELS)
    found[MIGRATIONS] = Peer(storage.surrealdb.namespace, selector(MIGRATIONS))
    return found


def _client_ports(project: Project) -> dict[str, tuple[int, ...]]:
    storage = project.settings.storage
    found: dict[str, tuple[int, ...]] = {
        name: (getattr(storage, name).port,) for name in DATA_SERVICES
    }
    for name, taskserv in project.enabled_taskservs().items():
        found[name] = (taskserv.ports.http,)
    return found
