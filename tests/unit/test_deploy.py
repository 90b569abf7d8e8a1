"""deploy/: the launcher config validates against Ray's own schema; compose and KubeRay files
parse and name only settings, ports and commands the code has; images install like CI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import ray
import yaml

from pipeline.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CONFIG_SOURCE = (ROOT / "pipeline" / "config.py").read_text()
CLIENT_SOURCE = (ROOT / "pipeline" / "client" / "http.py").read_text()
CLI_SOURCE = (ROOT / "pipeline" / "cli.py").read_text()
API_PORT = int(re.findall(r'"--port", type=int, default=(\d+)', CLI_SOURCE)[0])


def yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in [str(k), *strings(v)]]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return [str(node)]


def test_the_cluster_launcher_config_validates_against_rays_schema() -> None:
    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    config = yaml.safe_load((DEPLOY / "cluster.yaml").read_text())
    jsonschema.validate(config, schema)
    types = config["available_node_types"]
    assert types[config["head_node_type"]]
    assert types["gpu_nvenc"]["resources"] == {"nvenc": 4}  # L4: NVENC advertised
    assert "nvenc" not in types["gpu_h100"]["resources"]  # H100: no NVENC
    assert types["gpu_nvenc"]["min_workers"] == types["gpu_h100"]["min_workers"] == 0


def test_every_strobe_setting_in_the_manifests_is_read_by_the_code() -> None:
    files = [DEPLOY / "compose.yaml", *sorted((DEPLOY / "kuberay").glob("*.yaml"))]
    files.append(DEPLOY / "cluster.yaml")
    used = set()
    for path in files:
        used |= set(re.findall(r"\bSTROBE_[A-Z0-9_]+", path.read_text()))
    assert {"STROBE_DATABASE_URL", "STROBE_STORAGE_URL", "STROBE_RAY_ADDRESS"} <= used
    for name in used:
        assert f'"{name}"' in CONFIG_SOURCE or f'"{name}"' in CLIENT_SOURCE, name
    shaped = {"STROBE_API_KEYS": "k:p", "STROBE_PUBLIC_URL": "https://strobe.example"}
    env = {n: "1" for n in used if n not in shaped}
    Settings.from_env({**env, **shaped})  # the values shapes parse


def test_compose_runs_the_cli_on_its_default_port() -> None:
    (compose,) = yaml_docs(DEPLOY / "compose.yaml")
    services = compose["services"]
    assert {"postgres", "s3", "api", "worker"} <= set(services)
    assert services["api"]["command"][:2] == ["strobe", "api"]
    assert services["api"]["command"][-1] == str(API_PORT)
    assert services["api"]["ports"] == [f"{API_PORT}:{API_PORT}"]
    assert services["worker"]["command"] == ["strobe", "worker"]
    assert services["api"]["environment"]["STROBE_S3_ENDPOINT_URL"] == "http://s3:9000"


def test_kuberay_has_gpu_groups_from_zero_and_an_api_service() -> None:
    docs = {d["kind"]: d for path in (DEPLOY / "kuberay").glob("*.yaml") for d in yaml_docs(path)}
    cluster = docs["RayCluster"]["spec"]
    assert cluster["enableInTreeAutoscaling"] is True
    groups = {g["groupName"]: g for g in cluster["workerGroupSpecs"]}
    assert groups["gpu-nvenc"]["minReplicas"] == groups["gpu"]["minReplicas"] == 0
    assert json.loads(json.loads(groups["gpu-nvenc"]["rayStartParams"]["resources"])) == {
        "nvenc": 4
    }
    assert groups["cpu"]["minReplicas"] >= 1
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"]
    assert [c.get("command") for c in head][1] == ["strobe", "worker"]
    api = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert api["command"][:2] == ["strobe", "api"] and api["command"][-1] == str(API_PORT)
    assert api["ports"][0]["containerPort"] == API_PORT
    assert api["readinessProbe"]["httpGet"]["path"] == "/health"
    assert docs["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    for name in strings(docs):
        assert not name.startswith("STROBE_") or f'"{name}"' in CONFIG_SOURCE, name


def test_the_images_install_with_the_makefile_targets_ci_uses() -> None:
    makefile = (ROOT / "Makefile").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make setup" in ci
    for name in ("Dockerfile.cpu", "Dockerfile.cuda"):
        runs = [
            line.removeprefix("RUN ").strip()
            for line in (DEPLOY / name).read_text().splitlines()
            if line.startswith("RUN ")
        ]
        installs = [r for r in runs if "pip" in r or "make" in r]
        assert installs and all(r.startswith("make setup") for r in installs), runs
        assert "pip install" not in " ".join(runs)  # no second install path
        for target in re.findall(r"make ([\w-]+)", " ".join(installs)):
            assert re.search(rf"^{target}:", makefile, re.M), target
