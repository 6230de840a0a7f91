"""The registry's MLflow mirror against a real MLflow tracking server, started here on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from governance_helpers import cli

pytest.importorskip("mlflow")

from mlflow.tracking import MlflowClient  # noqa: E402

from autotts.governance.approval import Criteria  # noqa: E402
from autotts.governance.evidence import EvidencePlan  # noqa: E402
from autotts.governance.mlflow_mirror import MlflowMirror  # noqa: E402
from autotts.governance.registry import Registry  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    executable = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        [
            executable,
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        start_new_session=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": ""},
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.time() > deadline:
            os.killpg(server.pid, signal.SIGKILL)
            pytest.fail(f"mlflow server did not start:\n{(root / 'server.log').read_text()[-3000:]}")
        time.sleep(0.5)
    yield uri
    os.killpg(server.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):  # the server's job runners share its process group
        os.killpg(server.pid, signal.SIGKILL)
    log.close()


@pytest.mark.slow
def test_versions_evidence_decisions_and_aliases_reach_mlflow(mlflow_server: str, tmp_path: Path):
    reg_path = tmp_path / "reg.sqlite"
    plan = EvidencePlan(("Qwen3-4B/aime25",), 2, 1, (1.0,))
    mirror = MlflowMirror(mlflow_server)
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    with Registry.open(reg_path, mirror=mirror) as reg:
        v1, _ = reg.register("mirrored", "cmc", 1.0, by="eng", plan=plan)
        v2, _ = reg.register("mirrored", "sc", 0.5, by="eng", plan=plan)
        reg.approve(
            "mirrored@1", by="alice", note="ok", criteria=Criteria(require_reverify=False), override="test mirror"
        )
        reg.promote("mirrored@1", by="alice")
        reg.promote("mirrored@2", "staging", by="alice")

    versions = {mv.tags["autotts.version"]: mv for mv in client.search_model_versions("name='mirrored'")}
    assert set(versions) == {"1", "2"}
    one = versions["1"]
    assert one.tags["autotts.id"] == v1.id and one.tags["autotts.source_sha256"] == v1.record["source_sha256"]
    assert one.tags["autotts.status"] == "approved" and one.tags["autotts.decided_by"] == "alice"
    assert one.tags["autotts.override"] == "test mirror"
    assert versions["2"].tags["autotts.status"] == "pending"
    model = client.get_registered_model("mirrored")
    assert model.aliases == {"production": one.version, "staging": versions["2"].version}

    run = client.get_run(one.run_id)
    assert run.data.params["beta"] == "1.0" and run.data.params["manifest_sha256"] == v1.record["manifest_sha256"]
    assert "vs_sc64.token_saving_percent" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(one.run_id, "policy")}
    assert artifacts == {"policy/controller.py", "policy/manifest.json", "policy/evidence.json"}
    source = Path(client.download_artifacts(one.run_id, "policy/controller.py", str(tmp_path)))
    with Registry.open(reg_path) as reg:
        assert source.read_text() == reg.source(v1)
        evidence = json.loads(
            Path(client.download_artifacts(one.run_id, "policy/evidence.json", str(tmp_path))).read_text()
        )
        assert evidence == reg.evidence(v1)

    # the CLI path: revoking moves MLflow too; syncing again is idempotent (no duplicate versions)
    revoked = cli(
        "policy",
        "revoke",
        "mirrored@1",
        "--by",
        "dave",
        "--note",
        "incident",
        "--registry",
        str(reg_path),
        "--mlflow-uri",
        mlflow_server,
    )
    assert revoked.returncode == 0, revoked.stderr
    assert "production" not in client.get_registered_model("mirrored").aliases
    with Registry.open(reg_path) as reg:
        mirror.sync(reg, "mirrored")
    after = client.search_model_versions("name='mirrored'")
    assert len(after) == 2
    assert {mv.tags["autotts.version"]: mv.tags["autotts.status"] for mv in after} == {"1": "revoked", "2": "pending"}
