"""The deployment files, checked offline (issue 14, "Verified here, in CI").

- Every kustomization under deploy/k8s renders (tests/deploy/kustomize_render.py: the kustomize
  features the manifests use, nothing else).
- Every rendered object of a built-in kind validates strictly (unknown fields fail) against the
  Kubernetes JSON schemas bundled by kubernetes-validate, for KUBERNETES_VERSIONS.
- Every custom resource validates against the openAPIV3Schema of its CRD, vendored under
  deploy/k8s/crds (README there: source and version), with unknown fields refused where the
  CRD does not say x-kubernetes-preserve-unknown-fields. A custom kind whose CRD is not vendored
  would have to be listed in NOT_VENDORED (empty now: every CRD is vendored).
- docker-compose.yml validates against the Compose Specification's JSON schema
  (tests/deploy/schemas/compose-spec.json) and has what the issue asks of it.
- What the issue asks of the manifests (probes, resources, security context, PDBs, HPAs,
  Ingress, NetworkPolicies, operators' resources, no secret values).
Each validator is also shown a broken copy, which it must refuse.
"""
from __future__ import annotations

import base64
import copy
import json
import shutil
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))   # --import-mode=importlib: not on the path
from kustomize_render import KustomizeError, build, pod_specs, strategic_merge  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
CRDS = K8S / "crds"
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_SCHEMA = Path(__file__).parent / "schemas" / "compose-spec.json"

KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]   # the oldest we claim to run on, the newest bundled
OVERLAYS = ["overlays/development", "overlays/production"]
KUSTOMIZATIONS = OVERLAYS + ["infra", "migrations", "secrets"]
SERVICES = ["clients", "deals", "activities", "ares", "importer"]
DEPLOYMENTS = [f"crm-{name}" for name in SERVICES + ["gateway"]]
# custom resource kinds (group, version, kind) whose CRD is not in deploy/k8s/crds: they would be
# checked only structurally, not against their schema. Empty: every CRD we use is vendored (the
# README there); a kind added here must still appear in the rendered manifests.
NOT_VENDORED: set[tuple[str, str, str]] = set()


# -- rendering ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def k8s_tree(tmp_path_factory) -> Path:
    """A copy of deploy/k8s with secrets/secrets.env and db-<name>.env made from the committed
    examples, as an operator would before `kubectl apply -k deploy/k8s/secrets`."""
    tree = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, tree)
    secrets = tree / "secrets"
    for example in secrets.glob("*.example.env"):
        filled = secrets / example.name.replace(".example", "")
        filled.unlink(missing_ok=True)
        shutil.copy(example, filled)
    return tree


@pytest.fixture(scope="module")
def rendered(k8s_tree) -> dict[str, list[dict]]:
    return {name: build(k8s_tree / name) for name in KUSTOMIZATIONS}


def all_objects(rendered):
    for name, objects in rendered.items():
        for obj in objects:
            yield name, obj


def gvk(obj) -> tuple[str, str, str]:
    group, _, version = obj["apiVersion"].rpartition("/")
    return group, version, obj["kind"]


def named(objects, kind, name):
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_each_kustomization_renders(rendered, name):
    objects = rendered[name]
    assert objects
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "crm", obj["metadata"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "crm"


def test_secrets_need_the_uncommitted_file():
    """deploy/k8s/secrets builds only once an operator has written secrets.env and the
    db-<name>.env files; git ignores them all, never their examples."""
    assert (K8S / "secrets" / ".gitignore").read_text().split() == [
        "secrets.env", "db-*.env", "!*.example.env"]
    examples = {p.name for p in (K8S / "secrets").glob("db-*.example.env")}
    assert examples == {f"db-{n}.example.env" for n in SERVICES + ["gateway"]}
    if not (K8S / "secrets" / "secrets.env").exists():
        with pytest.raises(KustomizeError, match="does not exist"):
            build(K8S / "secrets")


def test_renderer_refuses_what_it_does_not_implement(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(KustomizeError, match="unsupported"):
        build(tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [cm.yaml]\npatches:\n  - target: {kind: ConfigMap, name: other}\n"
        "    patch: '[{op: replace, path: /data/a, value: b}]'\n")
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n")
    with pytest.raises(KustomizeError, match="matches no object"):
        build(tmp_path)


def test_renderer_patches_and_images(rendered):
    """The overlays' patches and images arrived (the renderer does what the files say)."""
    dev, prod = rendered["overlays/development"], rendered["overlays/production"]
    assert named(dev, "ConfigMap", "crm-config")["data"]["LOG_LEVEL"] == "DEBUG"
    assert named(dev, "ConfigMap", "crm-config")["data"]["AMQP_HOST"] == "crm-rabbitmq"
    assert named(dev, "Ingress", "crm-gateway")["spec"]["rules"][0]["host"] == "crm.localtest.me"
    gateway = named(prod, "Deployment", "crm-gateway")
    assert gateway["spec"]["replicas"] == 2
    container = gateway["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/crm/gateway:1.0.0"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"   # merged, not replaced
    assert gateway["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert named(prod, "HorizontalPodAutoscaler", "crm-gateway")["spec"]["minReplicas"] == 2
    assert named(prod, "Ingress", "crm-gateway")["spec"]["tls"][0]["secretName"]
    merged = strategic_merge({"containers": [{"name": "a", "image": "x", "env": [{"name": "A"}]}]},
                             {"containers": [{"name": "a", "env": [{"name": "B", "value": "1"}]}]})
    assert merged == {"containers": [{"name": "a", "image": "x",
                                      "env": [{"name": "A"}, {"name": "B", "value": "1"}]}]}


# -- Kubernetes schemas ---------------------------------------------------------------------

def builtin(obj) -> bool:
    group = gvk(obj)[0]
    return "." not in group or group.endswith(".k8s.io")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_builtin_objects_validate_strictly(rendered, version):
    checked = 0
    for name, obj in all_objects(rendered):
        if builtin(obj):
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{name}: {obj['kind']}/{obj['metadata']['name']}: {exc.message} "
                            f"at {list(exc.path)}")
            checked += 1
    assert checked > 40


def test_kubernetes_validation_refuses_a_broken_manifest(rendered):
    deployment = copy.deepcopy(named(rendered["overlays/production"], "Deployment", "crm-ares"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["paht"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)
    deployment = copy.deepcopy(named(rendered["overlays/production"], "Deployment", "crm-ares"))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


# -- custom resources against their CRDs ----------------------------------------------------

def strict_schema(node):
    """A CRD's structural schema as JSON Schema: unknown fields refused unless the CRD says
    x-kubernetes-preserve-unknown-fields; int-or-string and nullable as Kubernetes reads them.
    (CEL rules, x-kubernetes-validations, are not evaluated.)"""
    if isinstance(node, list):
        return [strict_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k in ("description", "x-kubernetes-validations"):
            continue
        if k == "properties":      # field names, not keywords: a field may be called "description"
            out[k] = {name: strict_schema(sub) for name, sub in v.items()}
        elif k in ("default", "enum", "example"):   # values, not schemas
            out[k] = v
        else:
            out[k] = strict_schema(v)
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if (out.get("type") == "object" and "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="module")
def crd_schemas() -> dict[tuple, dict]:
    schemas = {}
    for path in sorted(CRDS.rglob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd:
                continue
            assert crd["kind"] == "CustomResourceDefinition", path
            for version in crd["spec"]["versions"]:
                key = (crd["spec"]["group"], version["name"], crd["spec"]["names"]["kind"])
                schema = strict_schema(version["schema"]["openAPIV3Schema"])
                jsonschema.Draft7Validator.check_schema(schema)
                schemas[key] = schema
    return schemas


def test_vendored_crds_are_documented(crd_schemas):
    readme = (CRDS / "README.md").read_text()
    for path in CRDS.rglob("*.yaml"):
        assert path.name in readme, f"{path.name} is not in deploy/k8s/crds/README.md"
    assert len(crd_schemas) >= 8


def test_custom_resources_validate_against_their_crds(rendered, crd_schemas):
    kinds = set()
    for name, obj in all_objects(rendered):
        if builtin(obj):
            continue
        key = gvk(obj)
        kinds.add(key)
        if key in NOT_VENDORED:
            continue
        assert key in crd_schemas, f"{name}: no vendored CRD for {key}"
        errors = sorted(jsonschema.Draft7Validator(crd_schemas[key]).iter_errors(obj), key=str)
        assert not errors, f"{name}: {obj['kind']}/{obj['metadata']['name']}: " + "; ".join(
            f"{e.message} at {list(e.path)}" for e in errors)
    # every custom kind is either validated or knowingly not; a new kind must be one of them
    assert NOT_VENDORED <= kinds
    assert {k[2] for k in kinds - NOT_VENDORED} == {"RabbitmqCluster", "User", "Permission", "Policy",
                                                    "Exchange", "ScheduledBackup", "Database",
                                                    "Cluster"}


def test_crd_validation_refuses_a_broken_resource(rendered, crd_schemas):
    user = copy.deepcopy(named(rendered["infra"], "User", "crm-clients-rabbitmq"))
    user["spec"]["tagz"] = ["management"]            # unknown field
    assert list(jsonschema.Draft7Validator(crd_schemas[gvk(user)]).iter_errors(user))
    backup = copy.deepcopy(named(rendered["infra"], "ScheduledBackup", "crm-postgres-nightly"))
    del backup["spec"]["schedule"]                   # required
    assert list(jsonschema.Draft7Validator(crd_schemas[gvk(backup)]).iter_errors(backup))
    policy = copy.deepcopy(named(rendered["infra"], "Policy", "crm-retry-queues"))
    policy["spec"]["applyTo"] = "streams"            # not in the enum
    assert list(jsonschema.Draft7Validator(crd_schemas[gvk(policy)]).iter_errors(policy))
    rabbit = copy.deepcopy(named(rendered["infra"], "RabbitmqCluster", "crm-rabbitmq"))
    rabbit["spec"]["persistence"]["storageClass"] = "fast"   # it is storageClassName
    assert list(jsonschema.Draft7Validator(crd_schemas[gvk(rabbit)]).iter_errors(rabbit))
    database = copy.deepcopy(named(rendered["infra"], "Database", "crm-postgres-deals"))
    database["spec"]["owner"] = 7                    # wrong type
    assert list(jsonschema.Draft7Validator(crd_schemas[gvk(database)]).iter_errors(database))
    postgres = copy.deepcopy(named(rendered["infra"], "Cluster", "crm-postgres"))
    postgres["spec"]["storage"]["storageClassName"] = "fast"   # it is storageClass
    assert list(jsonschema.Draft7Validator(crd_schemas[gvk(postgres)]).iter_errors(postgres))
    postgres = copy.deepcopy(named(rendered["infra"], "Cluster", "crm-postgres"))
    postgres["spec"]["backup"]["retentionPolicy"] = "30 days"  # not ^[1-9][0-9]*[dwm]$
    assert list(jsonschema.Draft7Validator(crd_schemas[gvk(postgres)]).iter_errors(postgres))
    postgres = copy.deepcopy(named(rendered["infra"], "Cluster", "crm-postgres"))
    postgres["spec"]["description"] = "CRM database"   # a field named like the keyword: accepted
    assert not list(jsonschema.Draft7Validator(crd_schemas[gvk(postgres)]).iter_errors(postgres))
    policy = copy.deepcopy(named(rendered["infra"], "Policy", "crm-retry-queues"))
    policy["spec"]["definition"]["anything-goes"] = 1   # preserve-unknown-fields: accepted
    assert not list(jsonschema.Draft7Validator(crd_schemas[gvk(policy)]).iter_errors(policy))


# -- what the issue asks of the manifests ---------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments(rendered, overlay):
    objects = rendered[overlay]
    assert sorted(o["metadata"]["name"] for o in objects if o["kind"] == "Deployment") == sorted(DEPLOYMENTS)
    for deployment in (o for o in objects if o["kind"] == "Deployment"):
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert tmp and "emptyDir" in volumes[tmp[0]["name"]], name
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) == {"cpu", "memory"}, name
            assert container["livenessProbe"] and container["readinessProbe"], name
            assert_probe_is_local(name, container["readinessProbe"])
            assert_probe_is_local(name, container["livenessProbe"])
    gateway = named(objects, "Deployment", "crm-gateway")["spec"]["template"]["spec"]["containers"][0]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    ares = named(objects, "Deployment", "crm-ares")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "metrics", "containerPort": 9102} in ares["ports"]
    assert {"name": "ARES_METRICS_PORT", "value": "9102"} in ares["env"]


def assert_probe_is_local(name, probe):
    """Readiness and liveness ask this container only: the gateway's /healthz and /readyz
    (the broker alone, never a service), ares's metrics server, or the process check."""
    if "httpGet" in probe:
        assert (probe["httpGet"]["path"], probe["httpGet"]["port"]) in {
            ("/healthz", "http"), ("/readyz", "http"), ("/metrics", "metrics")}, name
    else:
        # PID 1 alive (crm_common.healthcheck without CRM_HEALTH_URL: no URL in this env)
        assert probe["exec"]["command"] == ["python", "-m", "crm_common.healthcheck"], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_disruption_budgets_autoscalers_ingress(rendered, overlay):
    objects = rendered[overlay]
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    pdbs = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    covered = {p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for p in pdbs}
    assert covered == set(deployments)
    hpas = {o["spec"]["scaleTargetRef"]["name"] for o in objects if o["kind"] == "HorizontalPodAutoscaler"}
    assert hpas == {"crm-gateway", "crm-ares", "crm-activities"}
    ingress = named(objects, "Ingress", "crm-gateway")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "crm-gateway", "port": {"name": "http"}}
    named(objects, "Service", "crm-gateway")


def egress_ports(policy):
    return {p["port"] for rule in policy["spec"].get("egress", []) for p in rule.get("ports", [])}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies(rendered, overlay):
    policies = {o["metadata"]["name"]: o for o in rendered[overlay] if o["kind"] == "NetworkPolicy"}
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert egress_ports(policies["allow-dns"]) == {53}
    assert egress_ports(policies["crm-to-broker-and-database"]) == {5672, 5432}
    assert egress_ports(policies["crm-ares"]) == {443}
    gateway_in = policies["crm-gateway-ingress"]["spec"]["ingress"][0]["ports"]
    assert gateway_in == [{"protocol": "TCP", "port": 8080}]
    infra = {o["metadata"]["name"]: o for o in rendered["infra"] if o["kind"] == "NetworkPolicy"}
    assert set(infra) == {"crm-rabbitmq", "crm-postgres"}


def test_broker_and_database_on_their_operators(rendered):
    infra = rendered["infra"]
    rabbit = named(infra, "RabbitmqCluster", "crm-rabbitmq")
    assert rabbit["spec"]["replicas"] == 3
    assert "default_queue_type = quorum" in rabbit["spec"]["rabbitmq"]["additionalConfig"]
    for name in SERVICES + ["gateway"]:
        user = named(infra, "User", f"crm-{name}-rabbitmq")
        permission = named(infra, "Permission", f"crm-{name}-rabbitmq")
        assert permission["spec"]["userReference"]["name"] == user["metadata"]["name"]
    exchanges = {o["spec"]["name"] for o in infra if o["kind"] == "Exchange"}
    definitions = json.loads((ROOT / "deploy/rabbitmq/definitions.json").read_text())
    assert exchanges == {e["name"] for e in definitions["exchanges"]}
    policies = [o for o in infra if o["kind"] == "Policy"]
    assert all(p["spec"]["applyTo"] == "quorum_queues" for p in policies)
    postgres = named(infra, "Cluster", "crm-postgres")
    assert postgres["spec"]["instances"] >= 2
    store = postgres["spec"]["backup"]["barmanObjectStore"]
    assert store["destinationPath"].startswith("s3://")
    assert store["s3Credentials"]["accessKeyId"]["name"] == "crm-postgres-backup-s3"
    assert postgres["spec"]["backup"]["retentionPolicy"]
    backup = named(infra, "ScheduledBackup", "crm-postgres-nightly")
    assert backup["spec"]["cluster"]["name"] == "crm-postgres"
    # least privilege: each service's database owned by its own role, no service's by crm
    owners = {o["spec"]["name"]: o["spec"]["owner"] for o in infra if o["kind"] == "Database"}
    assert owners == {name: name for name in SERVICES + ["gateway"]}
    assert postgres["spec"]["bootstrap"]["initdb"]["database"] not in owners
    roles = {r["name"]: r for r in postgres["spec"]["managed"]["roles"]}
    assert set(roles) == set(owners)
    for name, role in roles.items():
        assert role["login"] and role["passwordSecret"]["name"] == f"crm-db-{name}"
        assert not role.get("superuser") and not role.get("createdb")


def test_each_pod_logs_in_to_its_database_as_its_own_role(rendered):
    """Deployments and migration Jobs build their database URL from their own role's Secret:
    no pod can reach another service's database."""
    workloads = [o for name in OVERLAYS + ["migrations"] for o in rendered[name]
                 if o["kind"] in ("Deployment", "Job")]
    seen = set()
    for workload in workloads:
        name = workload["metadata"]["name"].removeprefix("crm-").removeprefix("migrate-")
        for spec in pod_specs(workload):
            env = {e["name"]: e for e in spec["containers"][0].get("env", [])}
            urls = [key for key in env if key.endswith("_DATABASE_URL")]
            assert urls == [f"{name.upper()}_DATABASE_URL"], workload["metadata"]["name"]
            assert env[urls[0]]["value"] == (f"postgresql+psycopg2://{name}:$(DB_PASSWORD)"
                                             f"@crm-postgres-rw:5432/{name}")
            password = env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]
            assert password == {"name": f"crm-db-{name}", "key": "password"}
            # $(DB_PASSWORD) is expanded only from a variable defined before it
            assert list(env).index("DB_PASSWORD") < list(env).index(urls[0])
            seen.add(name)
    assert seen == set(SERVICES + ["gateway"])


def test_each_pod_gets_its_own_broker_user(rendered):
    """Deployments and migration Jobs read the credentials the topology operator made for their
    User; the Secret names follow the operator's <User name>-user-credentials."""
    users = {o["metadata"]["name"] for o in rendered["infra"] if o["kind"] == "User"}
    workloads = [o for name in OVERLAYS + ["migrations"] for o in rendered[name]
                 if o["kind"] in ("Deployment", "Job")]
    for workload in workloads:
        for spec in pod_specs(workload):
            env = {e["name"]: e for e in spec["containers"][0].get("env", [])}
            if "AMQP_URI" not in env:
                assert workload["metadata"]["name"] == "crm-migrate-gateway"
                continue
            secret = env["AMQP_USER"]["valueFrom"]["secretKeyRef"]["name"]
            assert secret.removesuffix("-user-credentials") in users
            assert "$(AMQP_USER):$(AMQP_PASSWORD)@" in env["AMQP_URI"]["value"]


def test_migrations_cover_every_service(rendered):
    jobs = [o for o in rendered["migrations"] if o["kind"] == "Job"]
    assert {j["metadata"]["name"] for j in jobs} == {f"crm-migrate-{n}" for n in SERVICES + ["gateway"]}
    images = {c["image"] for j in jobs for c in j["spec"]["template"]["spec"]["containers"]}
    assert images == {f"crm/{n}:dev" for n in SERVICES + ["gateway"]}


def test_no_secret_values_in_the_repository(rendered):
    committed = [p for p in K8S.rglob("*.yaml")]
    for path in committed:
        for doc in yaml.safe_load_all(path.read_text()):
            assert not (doc and doc.get("kind") == "Secret"), f"{path}: a Secret is committed"
    secret = named(rendered["secrets"], "Secret", "crm-secrets")
    for key, value in secret["data"].items():
        plain = base64.b64decode(value).decode()
        if any(word in key for word in ("PASSWORD", "TOKEN", "URL")):
            assert "CHANGE_ME" in plain, f"{key} in secrets.example.env looks like a real value"
    for name in SERVICES + ["gateway"]:   # each service's role: basic-auth, a placeholder
        role = named(rendered["secrets"], "Secret", f"crm-db-{name}")
        assert role["type"] == "kubernetes.io/basic-auth"
        assert base64.b64decode(role["data"]["username"]).decode() == name
        assert "CHANGE_ME" in base64.b64decode(role["data"]["password"]).decode()
    example = (ROOT / "deploy/compose.env.example").read_text().splitlines()
    for line in example:
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#") and any(w in key for w in ("PASSWORD", "TOKEN", "SECRET")):
            assert value == "", f"{key} has a value in deploy/compose.env.example"


# -- docker compose -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose_validator():
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    # draft 2019-09 by its $schema; it uses only keywords that draft 7 reads the same way
    # (compose-go validates it with a draft 7 validator too)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_validates(compose_validator, compose):
    errors = sorted(compose_validator.iter_errors(compose), key=str)
    assert not errors, "; ".join(f"{e.message} at {list(e.path)}" for e in errors)


def test_compose_validation_refuses_a_broken_file(compose_validator, compose):
    broken = copy.deepcopy(compose)
    broken["services"]["clients"]["helthcheck"] = broken["services"]["clients"]["healthcheck"]
    assert list(compose_validator.iter_errors(broken))
    broken = copy.deepcopy(compose)
    broken["services"]["clients"]["depends_on"]["rabbitmq"]["condition"] = "service_ready"
    assert list(compose_validator.iter_errors(broken))


def test_compose_has_what_the_issue_asks(compose):
    services = compose["services"]
    expected = {"rabbitmq", "postgres", "rabbitmq-definitions", "fake-ares", *SERVICES, "gateway",
                *(f"migrate-{n}" for n in SERVICES + ["gateway"])}
    assert set(services) == expected
    one_shot = {"rabbitmq-definitions", *(f"migrate-{n}" for n in SERVICES + ["gateway"])}
    for name, service in services.items():
        if name not in one_shot:
            assert "healthcheck" in service, f"{name} has no healthcheck"
        for dependency, how in service.get("depends_on", {}).items():
            wanted = ("service_completed_successfully" if dependency in one_shot
                      else "service_healthy")
            assert how["condition"] == wanted, f"{name} -> {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in compose["volumes"], f"{name}: volume {source} is not named"
    for name in SERVICES + ["gateway"]:
        needs = services[name]["depends_on"]
        assert needs[f"migrate-{name}"]["condition"] == "service_completed_successfully"
        assert needs["rabbitmq"]["condition"] == "service_healthy"
        assert "container_name" not in services[name]   # scalable
    assert services["fake-ares"]["profiles"] == ["fake"]
    assert all("profiles" not in s for n, s in services.items() if n != "fake-ares")
    assert {"rabbitmq-data", "postgres-data"} <= set(compose["volumes"])
    used = set()
    text = COMPOSE.read_text()
    for part in text.split("${")[1:]:
        used.add(part.split(":-")[0].split("}")[0])
    example = (ROOT / "deploy/compose.env.example").read_text()
    for variable in used:
        assert f"{variable}=" in example, f"{variable} is not in deploy/compose.env.example"
