"""The Dockerfile and what docker-compose.yml builds from it, read offline (make smoke builds
and runs them: tests/smoke)."""
import re
from pathlib import Path

import yaml

from crm_common.stack import SERVICES

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def stages() -> dict[str, str]:
    """stage name -> its instructions (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    found, name = {}, None
    for line in text.splitlines():
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            name = match.group(1)
            found[name] = ""
        elif name and line.strip() and not line.lstrip().startswith("#"):
            found[name] += line.strip() + "\n"
    return found


def test_one_dockerfile_with_a_target_per_kind_of_image():
    assert not list(ROOT.glob("services/*/Dockerfile")) and not (ROOT / "gateway/Dockerfile").exists()
    found = stages()
    assert {"service", "gateway"} <= set(found)
    for target in ("service", "gateway"):
        body = found[target]
        assert "USER 10001:10001" in body, target
        assert 'HEALTHCHECK' in body and '"crm_common.healthcheck"' in body, target
        assert "COPY --from=build-" in body and "/opt/venv" in body, target   # no build tools


def test_base_image_is_an_exact_tag():
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", DOCKERFILE, re.MULTILINE).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base


def test_compose_builds_each_image_from_its_target():
    # BaseLoader: nameko's CLI, imported by other tests in this process, teaches SafeLoader
    # to expand ${VAR:default} its own way
    compose = yaml.load((ROOT / "docker-compose.yml").read_text(), Loader=yaml.BaseLoader)
    compose = compose["services"]
    for name in SERVICES:
        for service in (name, f"migrate-{name}"):
            build = compose[service]["build"]
            assert build == {"context": ".", "target": "service", "args": {"SERVICE": name}}, service
            assert compose[service]["image"].endswith(f"/{name}:${{CRM_IMAGE_TAG:-dev}}")
    for service in ("gateway", "migrate-gateway", "rabbitmq-definitions"):
        assert compose[service]["build"] == {"context": ".", "target": "gateway"}, service
    # podman's Docker API splits a healthcheck's arguments on spaces: none may hold one
    for name, service in compose.items():
        test = service.get("healthcheck", {}).get("test", [])
        if test and test[0] == "CMD":
            assert all(" " not in arg for arg in test), name


def test_every_dockerignored_path_stays_out_and_the_sources_stay_in():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for needed in ("constraints.txt", "libs", "services", "gateway"):
        assert needed not in ignored
    for kept_out in (".venv", "var", "tests", "docs", "deploy", ".git"):
        assert kept_out in ignored
