"""Static checks of the deployment files, since no Docker engine or cluster runs in CI.

docker-compose.yml is validated against the Compose JSON schema, then read for the wiring each
service needs; prometheus.yml and the Kubernetes manifests are read the same way.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
K8S_DIR = REPO / "deploy" / "k8s"


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # compose service, Kubernetes overlay and services/<name> directory
    package: str
    command: str
    prefix: str
    port: int


SERVICES = [
    ServiceSpec("pulse-intake", "wellpulse-pulse-intake", "wellpulse-intake", "INTAKE_", 8001),
    ServiceSpec("scoring", "wellpulse-scoring", "wellpulse-scoring", "SCORING_", 8002),
    ServiceSpec("alerts", "wellpulse-alerts", "wellpulse-alerts", "ALERTS_", 8003),
    ServiceSpec("reporting", "wellpulse-reporting", "wellpulse-reporting", "REPORTING_", 8004),
]
SERVICE_IDS = [spec.name for spec in SERVICES]

REQUIRED_SETTINGS = (
    "ENVIRONMENT",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_ENABLE_IDEMPOTENCE",
    "DATABASE_URL",
    "HTTP_HOST",
    "HTTP_PORT",
)


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = _load_yaml(COMPOSE_FILE)
    assert isinstance(loaded, dict), "docker-compose.yml is not a mapping"
    return loaded


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """Compose allows `environment` as a mapping or as a list of KEY=VALUE strings."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _published_ports(service: dict[str, Any]) -> set[tuple[int, int]]:
    """(host port, container port) pairs from the short or long port syntax."""
    published: set[tuple[int, int]] = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            published.add((int(port["published"]), int(port["target"])))
        else:
            *_, host, container = str(port).split(":")
            published.add((int(host), int(container.split("/")[0])))
    return published


def test_compose_file_matches_the_compose_schema() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    assert checker.exists(), f"check-jsonschema is not installed next to {sys.executable}"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("spec", SERVICES, ids=SERVICE_IDS)
def test_compose_builds_the_service_from_the_shared_dockerfile(compose: dict[str, Any], spec: ServiceSpec) -> None:
    build = compose["services"][spec.name]["build"]
    assert (REPO / build["context"]).resolve() == REPO
    assert (REPO / build["dockerfile"]).is_file()

    args = build["args"]
    assert str(args["PORT"]) == str(spec.port)
    project = tomllib.loads((REPO / args["SERVICE_DIR"] / "pyproject.toml").read_text())["project"]
    assert project["name"] == args["PACKAGE"] == spec.package
    assert args["COMMAND"] == spec.command
    assert spec.command in project["scripts"], f"{spec.package} installs no {spec.command}"


@pytest.mark.parametrize("spec", SERVICES, ids=SERVICE_IDS)
def test_compose_service_settings_use_the_service_prefix(compose: dict[str, Any], spec: ServiceSpec) -> None:
    env = _environment(compose["services"][spec.name])

    missing = [spec.prefix + key for key in REQUIRED_SETTINGS if spec.prefix + key not in env]
    assert not missing, f"{spec.name} lacks {missing}"
    foreign = [key for key in env if not key.startswith(spec.prefix)]
    assert not foreign, f"{spec.name} has settings without its prefix: {foreign}"

    assert env[spec.prefix + "ENVIRONMENT"] == "development"
    assert env[spec.prefix + "KAFKA_ENABLE_IDEMPOTENCE"] == "true"
    assert env[spec.prefix + "KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env[spec.prefix + "DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env[spec.prefix + "DATABASE_URL"]
    assert env[spec.prefix + "HTTP_PORT"] == str(spec.port)


def test_only_intake_gets_the_token_hash_key(compose: dict[str, Any]) -> None:
    holders = {
        spec.name for spec in SERVICES if spec.prefix + "TOKEN_HASH_KEY" in _environment(compose["services"][spec.name])
    }
    assert holders == {"pulse-intake"}


@pytest.mark.parametrize("spec", SERVICES, ids=SERVICE_IDS)
def test_compose_publishes_the_service_port(compose: dict[str, Any], spec: ServiceSpec) -> None:
    assert (spec.port, spec.port) in _published_ports(compose["services"][spec.name])


@pytest.mark.parametrize("spec", SERVICES, ids=SERVICE_IDS)
def test_compose_service_waits_for_healthy_kafka_and_postgres(compose: dict[str, Any], spec: ServiceSpec) -> None:
    depends_on = compose["services"][spec.name]["depends_on"]
    assert isinstance(depends_on, dict), "depends_on must use the long form to carry a condition"
    for dependency in ("kafka", "postgres"):
        assert depends_on[dependency]["condition"] == "service_healthy"
        assert "healthcheck" in compose["services"][dependency], f"{dependency} has no healthcheck"


def test_compose_kafka_serves_compose_and_host_clients(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    env = _environment(kafka)
    assert kafka["image"] == "apache/kafka:3.9.1"
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert any(listener.endswith("//kafka:9092") for listener in advertised)
    assert any(listener.endswith("//localhost:9094") for listener in advertised)
    assert (9094, 9094) in _published_ports(kafka)
    assert int(env["KAFKA_NUM_PARTITIONS"]) == 6


def test_prometheus_scrapes_every_service_port() -> None:
    config = _load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    targets = {
        (job.get("metrics_path", "/metrics"), target)
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    expected = {("/metrics", f"{spec.name}:{spec.port}") for spec in SERVICES}
    assert expected <= targets, f"not scraped: {expected - targets}"


def test_prometheus_rule_files_exist_and_define_alerts() -> None:
    config = _load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    rule_files = config.get("rule_files", [])
    assert rule_files, "prometheus.yml references no rule file"
    for name in rule_files:
        groups = _load_yaml(PROMETHEUS_DIR / name)["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        assert rules, f"{name} has no rules"
        assert all(rule.get("alert") and rule.get("expr") for rule in rules)


def _k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    documents = []
    for path in sorted(K8S_DIR.rglob("*.y*ml")):
        with path.open(encoding="utf-8") as stream:
            documents += [(path, doc) for doc in yaml.safe_load_all(stream) if doc]
    return documents


def _assert_probed(deployment: dict[str, Any], where: str) -> None:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert containers, f"{where}: Deployment has no containers"
    for container in containers:
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", where
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", where


def test_every_k8s_deployment_has_readiness_and_liveness_probes() -> None:
    deployments = [(p, d) for p, d in _k8s_documents() if d.get("kind") == "Deployment"]
    assert deployments, f"no Deployment under {K8S_DIR}"
    for path, deployment in deployments:
        _assert_probed(deployment, str(path.relative_to(REPO)))


@pytest.mark.parametrize("spec", SERVICES, ids=SERVICE_IDS)
def test_k8s_overlay_sets_the_service_port_and_prefix(spec: ServiceSpec) -> None:
    overlay_dir = K8S_DIR / "services" / spec.name
    assert f"services/{spec.name}" in _load_yaml(K8S_DIR / "kustomization.yaml")["resources"]

    overlay = _load_yaml(overlay_dir / "kustomization.yaml")
    assert [image["newName"] for image in overlay["images"]] == [spec.package]
    patches = [yaml.safe_load(patch["patch"]) for patch in overlay["patches"]]
    (container,) = [
        container
        for patch in patches
        if patch["kind"] == "Deployment"
        for container in patch["spec"]["template"]["spec"]["containers"]
    ]
    assert {"name": "http", "containerPort": spec.port} in container["ports"]
    assert [source["prefix"] for source in container["envFrom"]] == [spec.prefix]
    env = {item["name"]: item for item in container["env"]}
    assert env[spec.prefix + "HTTP_PORT"]["value"] == str(spec.port)
    secret = env[spec.prefix + "DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert secret["name"] == "wellpulse-secrets"


def _keeps_a_schema(spec: ServiceSpec) -> bool:
    return any((REPO / "services" / spec.name / "src").glob("wellpulse/*/migrations/*.sql"))


def _overlay_pod(spec: ServiceSpec) -> dict[str, Any]:
    overlay = _load_yaml(K8S_DIR / "services" / spec.name / "kustomization.yaml")
    (pod,) = [
        patch["spec"]["template"]["spec"]
        for patch in (yaml.safe_load(p["patch"]) for p in overlay["patches"])
        if patch["kind"] == "Deployment"
    ]
    return dict(pod)


def test_k8s_base_migrates_in_an_init_container_of_the_same_image() -> None:
    (deployment,) = [
        d for d in yaml.safe_load_all((K8S_DIR / "base" / "service.yaml").read_text()) if d["kind"] == "Deployment"
    ]
    pod = deployment["spec"]["template"]["spec"]
    (migrate,) = pod["initContainers"]
    assert migrate["name"] == "migrate"
    assert migrate["args"] == ["migrate"]
    assert migrate["image"] == pod["containers"][0]["image"]


@pytest.mark.parametrize("spec", SERVICES, ids=SERVICE_IDS)
def test_k8s_migrations_run_before_the_service_with_its_settings(spec: ServiceSpec) -> None:
    pod = _overlay_pod(spec)
    (container,) = pod["containers"]
    (init,) = pod["initContainers"]
    assert init["name"] == "migrate"
    env = {item["name"]: item for item in container["env"]}
    if not _keeps_a_schema(spec):
        assert init.get("$patch") == "delete", f"{spec.name} keeps no schema: no init container"
        assert spec.prefix + "MIGRATE_ON_START" not in env
        return
    # The service itself does not migrate; the init container does, with the same settings.
    assert env[spec.prefix + "MIGRATE_ON_START"]["value"] == "false"
    assert init["envFrom"] == container["envFrom"]
    secrets = [item for item in container["env"] if "secretKeyRef" in item.get("valueFrom", {})]
    assert init["env"] == secrets
    assert spec.prefix + "DATABASE_URL" in {item["name"] for item in secrets}


@pytest.mark.parametrize("spec", [s for s in SERVICES if s.name != "pulse-intake"], ids=SERVICE_IDS[1:])
def test_k8s_consumers_are_static_group_members_named_after_their_pod(spec: ServiceSpec) -> None:
    (container,) = _overlay_pod(spec)["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert env[spec.prefix + "KAFKA_GROUP_INSTANCE_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_rendered_k8s_manifests_have_one_probed_deployment_per_service() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the overlays are still checked one by one")
    result = subprocess.run([kubectl, "kustomize", str(K8S_DIR)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    deployments = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "Deployment"}
    assert set(deployments) == {f"wellpulse-{spec.name}" for spec in SERVICES}
    for name, deployment in deployments.items():
        _assert_probed(deployment, name)
    services = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "Service"}
    for name, deployment in deployments.items():
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = services[name]["spec"]["selector"]
        assert selector.items() <= pod_labels.items()
        # A selector shared by all four services would spread traffic across them.
        assert selector["app.kubernetes.io/name"] == name
    migrating = {
        name: [(c["name"], c["args"]) for c in d["spec"]["template"]["spec"].get("initContainers", [])]
        for name, d in deployments.items()
    }
    assert migrating == {
        f"wellpulse-{spec.name}": [("migrate", ["migrate"])] if _keeps_a_schema(spec) else [] for spec in SERVICES
    }
