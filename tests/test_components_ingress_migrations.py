"""The migrations Job and the Istio ingress, under the mock engine."""

from __future__ import annotations

import pytest

from tests.workloads import ROOT, env_of, kind, obj, pod_spec, record_stack
from vapora_infra.offline.recorder import Recording


@pytest.fixture(scope="module")
def prod() -> Recording:
    return record_stack("prod")


@pytest.fixture(scope="module")
def dev() -> Recording:
    return record_stack("dev")


def test_migrations_ship_every_surql_file(prod: Recording) -> None:
    files = obj(prod, "ConfigMap", "surrealdb-migrations").inputs["data"]
    expected = {p.name for p in (ROOT / "migrations").glob("*.surql")}
    assert set(files) == expected and expected
    schema = "".join(files.values())
    for table in ("agent_health", "tasks", "agents"):
        assert f"DEFINE TABLE IF NOT EXISTS {table} " in schema, table
    assert "DEFINE FIELD IF NOT EXISTS queue_depth ON agent_health" in schema


def test_migrations_job_imports_with_the_database_password(prod: Recording) -> None:
    job = obj(prod, "Job", "surrealdb-migrations")
    assert job.stage == "init-database"
    assert job.timeouts["create"] == "10m"
    container = pod_spec(job)["containers"][-1]
    assert container["image"] == "surrealdb/surrealdb:v2.3.10"
    args = container["args"]
    assert args[:3] == [
        "import",
        "--conn",
        "http://surrealdb.vapora-system.svc.cluster.local:8000",
    ]
    assert args[args.index("--pass") + 1] == "$(SURREAL_PASS)"
    assert env_of(job, -1)["SURREAL_PASS"] == {
        "secretKeyRef": {"name": "vapora-secrets", "key": "db-password"}
    }
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_prod_ingress_routes_api_to_backend_and_rest_to_frontend(
    prod: Recording,
) -> None:
    gateway = obj(prod, "Gateway", "vapora-gateway").inputs["spec"]
    assert gateway["selector"] == {"istio": "ingressgateway"}
    https = gateway["servers"][0]
    assert https["hosts"] == ["vapora.example.com"]
    assert https["tls"] == {"mode": "SIMPLE", "credentialName": "vapora-tls"}
    routes = obj(prod, "VirtualService", "vapora").inputs["spec"]
    assert routes["gateways"] == ["vapora-gateway"]
    assert [
        (r["match"][0]["uri"]["prefix"], r["route"][0]["destination"])
        for r in routes["http"]
    ] == [
        (
            "/api",
            {
                "host": "vapora-backend.vapora-system.svc.cluster.local",
                "port": {"number": 8080},
            },
        ),
        (
            "/",
            {
                "host": "vapora-frontend.vapora-system.svc.cluster.local",
                "port": {"number": 3000},
            },
        ),
    ]
    assert obj(prod, "VirtualService", "vapora").stage == "configure-ingress"


def test_dev_without_mesh_has_no_ingress(dev: Recording) -> None:
    assert kind(dev, "Gateway") == []
    assert kind(dev, "VirtualService") == []
