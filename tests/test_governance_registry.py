"""The policy registry, approval gate and audit log: evo is approved and promoted, a worse controller
is refused with its failing criteria, hand edits of the SQLite file are named by ``policy audit``,
concurrent writers both land and a writer killed mid-register leaves the registry consistent."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from autotts.governance import resolve_policy
from autotts.governance.approval import Criteria, CriteriaError, evaluate_criteria, load_criteria
from autotts.governance.evidence import EvidencePlan
from autotts.governance.registry import FAULT_PAUSE_ENV, Registry, RegistryError, UnapprovedPolicy
from governance_helpers import AUTOTTS, cli

WORSE = '''from autotts.controllers import Controller, majority


class FewVotes(Controller):
    """Reads one to three branches and votes: cheap, and clearly less accurate than SC@64."""

    @classmethod
    def schedule(cls, beta: float) -> dict:
        return {"k": 1 + round(2 * beta)}

    def run(self, episode):
        return majority(episode.read_full(self.params["k"]))
'''
TINY = ["--store", "Qwen3-4B/aime25", "--seeds", "1", "--card-seeds", "1", "--card-beta", "1"]


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with evo@1 and worse@1, registered through the CLI with the default evidence."""
    root = tmp_path_factory.mktemp("registry")
    (root / "worse.py").write_text(WORSE)
    reg = root / "reg.sqlite"
    # evo with the default evidence (8 held-out stores x 20 seeds); the worse one fails clearly with 5 seeds
    for name, ref, seeds in (("evo", "evo", "20"), ("worse", str(root / "worse.py"), "5")):
        result = cli(
            "policy", "register", name, ref, "--beta", "1", "--by", "eng", "--seeds", seeds, "--registry", str(reg)
        )
        assert result.returncode == 0, result.stderr
        assert f"registered {name}@1" in result.stdout
    return reg


@pytest.mark.slow
def test_worse_is_refused_evo_approved_and_only_evo_promoted(gated: Path, tmp_path: Path):
    reg = tmp_path / "reg.sqlite"
    shutil.copyfile(gated, reg)
    refused = cli("policy", "approve", "worse@1", "--by", "alice", "--note", "review", "--registry", str(reg))
    assert refused.returncode == 1
    assert "FAIL accuracy vs SC@64" in refused.stdout and "FAIL no store worse than SC@64" in refused.stdout
    assert "pass token saving vs SC@64" in refused.stdout  # cheap, but that is not enough
    assert "skip evidence re-verifiable: not re-run: already refused" in refused.stdout
    assert "accuracy vs SC@64" in refused.stderr and "not approved" in refused.stderr
    promote = cli("policy", "promote", "worse@1", "--registry", str(reg))
    assert promote.returncode == 1 and "only an approved version can carry the production alias" in promote.stderr

    approved = cli(
        "policy", "approve", "evo@1", "--by", "alice", "--note", "held-out evidence read", "--registry", str(reg)
    )
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert "pass evidence re-verifiable: all" in approved.stdout and "evo@1 approved by alice" in approved.stdout
    assert cli("policy", "promote", "evo@1", "--registry", str(reg)).returncode == 0
    assert cli("policy", "promote", "worse@1", "--alias", "staging", "--registry", str(reg)).returncode == 0

    rows = json.loads(cli("policy", "list", "--json", "--registry", str(reg)).stdout)
    status = {f"{r['name']}@{r['version']}": (r["status"], r["aliases"]) for r in rows}
    assert status == {"evo@1": ("approved", ["production"]), "worse@1": ("pending", ["staging"])}

    shown = json.loads(cli("policy", "show", "evo@production", "--json", "--registry", str(reg)).stdout)
    decision = shown["decisions"][0]
    assert decision["by"] == "alice" and decision["action"] == "approve" and decision["at"]
    assert decision["criteria"]["max_accuracy_drop_points"] == 1.0
    values = {r["name"]: r["value"] for r in decision["results"]}
    assert values["accuracy vs SC@64"][1] >= -1.0 and values["token saving vs SC@64"][0] >= 20
    assert decision["evidence"]["source_sha256"] == shown["record"]["source_sha256"]
    evidence = shown["evidence"]
    assert len(evidence["stores"]) == 8 and evidence["seeds"] == 20 and evidence["validation"]["ok"] is True
    assert evidence["vs_cmc"]["accuracy_difference"] and evidence["card"]

    assert cli("policy", "audit", "--registry", str(reg)).returncode == 0
    verified = cli("verify", "evo@1", "--registry", str(reg), "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["differs"] == 0


@pytest.mark.slow
def test_reject_revoke_override_and_resolve(gated: Path, tmp_path: Path):
    reg_path = tmp_path / "reg.sqlite"
    shutil.copyfile(gated, reg_path)
    quick = Criteria(require_reverify=False)
    with Registry.open(reg_path) as reg:
        with pytest.raises(UnapprovedPolicy, match="worse@1 is pending"):
            reg.resolve("worse@1")
        reg.reject("worse@1", by="bob", note="too inaccurate")
        assert reg.status("worse", 1) == "rejected"
        ok, results = reg.approve("worse@1", by="carol", note="pilot", criteria=quick, override="1% canary, watched")
        assert ok and {r.name for r in results if r.ok is False} == {"accuracy vs SC@64", "no store worse than SC@64"}
        assert reg.decisions("worse", 1)[-1]["override"] == "1% canary, watched"
        reg.promote("worse@1", by="carol")
        reg.revoke("worse@1", by="dave", note="incident")
        assert reg.status("worse", 1) == "revoked" and "production" not in reg.aliases("worse")
        with pytest.raises(RegistryError, match="only an approved version"):
            reg.promote("worse@1", by="carol")
        policy = reg.resolve("worse@1", allow_unapproved=True, by="oncall")
        assert policy.status == "revoked" and policy.kind == "file" and policy.class_ref == "" and policy.beta == 1.0
        assert "class FewVotes" in policy.source
        assert reg.audit_entries()[-1]["action"] == "unapproved_use"
        assert reg.audit_entries()[-1]["payload"]["by"] == "oncall"
        assert not reg.audit()
        with pytest.raises(RegistryError, match="no alias 'canary'"):
            reg.get("worse@canary")
    with Registry.open(reg_path) as reg:
        reg.approve("evo@1", by="alice", note="ok", criteria=quick)
        reg.promote("evo@1", by="alice")
    resolved = resolve_policy("evo@production", registry=reg_path)
    assert resolved.kind == "builtin" and resolved.class_ref == "evo" and resolved.version.version == 1
    with pytest.raises(UnapprovedPolicy):
        resolve_policy("worse@1", registry=reg_path)


def test_criteria_toml_defaults_overrides_and_errors(tmp_path: Path):
    assert load_criteria(None) == Criteria()
    path = tmp_path / "team.toml"
    path.write_text("[criteria]\nmin_token_saving_percent = 50\nrequire_reverify = false\n")
    loaded = load_criteria(path)
    assert loaded.min_token_saving_percent == 50.0 and loaded.require_reverify is False
    assert loaded.max_accuracy_drop_points == 1.0 and loaded.source == str(path)
    path.write_text("min_token_savings = 50\n")
    with pytest.raises(CriteriaError, match=r"team.toml: unknown criterion 'min_token_savings'"):
        load_criteria(path)
    path.write_text('require_validation = "yes"\n')
    with pytest.raises(CriteriaError, match="team.toml: require_validation must be true or false"):
        load_criteria(path)
    path.write_text("max_accuracy_drop_points = [\n")
    with pytest.raises(CriteriaError, match="team.toml: not valid TOML"):
        load_criteria(path)


@pytest.mark.slow
def test_stricter_criteria_refuse_evo_and_list_every_failure(gated: Path, tmp_path: Path):
    reg_path = tmp_path / "reg.sqlite"
    shutil.copyfile(gated, reg_path)
    strict = tmp_path / "strict.toml"
    strict.write_text("min_token_saving_percent = 60\nmax_accuracy_drop_points = 0\nrequire_reverify = false\n")
    result = cli(
        "policy", "approve", "evo@1", "--by", "a", "--note", "n", "--criteria", str(strict), "--registry", str(reg_path)
    )
    assert result.returncode == 1
    assert "FAIL token saving vs SC@64" in result.stdout and "FAIL accuracy vs SC@64" in result.stdout
    with Registry.open(reg_path) as reg:
        assert reg.status("evo", 1) == "pending"
        assert reg.audit_entries()[-1]["action"] == "approval_refused"


def _tamper(path: Path, sql: str, *args) -> None:
    """A hand edit, as someone with the sqlite3 shell would make it (dropping the guard triggers first)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute(sql, args)
    conn.close()


def _edited_record(path: Path, table: str, where: str, change) -> str:
    conn = sqlite3.connect(path)
    record = json.loads(conn.execute(f"SELECT record FROM {table} WHERE {where}").fetchone()[0])
    conn.close()
    change(record)
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


@pytest.mark.slow
@pytest.mark.parametrize("case", ["source", "approval", "hash", "entry", "alias", "deleted decision"])
def test_audit_names_the_tampered_entry(gated: Path, tmp_path: Path, case: str):
    reg_path = tmp_path / "reg.sqlite"
    shutil.copyfile(gated, reg_path)
    with Registry.open(reg_path) as reg:
        reg.approve("evo@1", by="alice", note="ok", criteria=Criteria(require_reverify=False))  # entry 3
        reg.promote("evo@1", by="alice")  # entry 4
        assert not reg.audit()
        source_hash = reg.get("evo@1").record["source_sha256"]
    if case == "source":
        _tamper(
            reg_path,
            "UPDATE blobs SET data = CAST(REPLACE(CAST(data AS TEXT), 'max_branches', 'max_brancheZ') "
            "AS BLOB) WHERE sha256 = ?",
            source_hash,
        )
        expected = "entry 1: evo@1 source was tampered with"
    elif case == "approval":
        record = _edited_record(reg_path, "decisions", "action = 'approve'", lambda r: r.update(by="mallory"))
        _tamper(reg_path, "UPDATE decisions SET record = ? WHERE action = 'approve'", record)
        expected = "entry 3: approve of evo@1 was altered"
    elif case == "hash":
        record = _edited_record(reg_path, "versions", "name = 'worse'", lambda r: r.update(source_sha256="0" * 64))
        _tamper(reg_path, "UPDATE versions SET record = ? WHERE name = 'worse'", record)
        expected = "entry 2: version worse@1 record was altered"
    elif case == "entry":
        _tamper(reg_path, "UPDATE audit SET payload = REPLACE(payload, 'alice', 'eve') WHERE seq = 3")
        expected = "entry 3: approve entry was altered"
    elif case == "alias":
        _tamper(reg_path, "INSERT INTO aliases(name, alias, version) VALUES ('worse', 'production', 1)")
        expected = "alias worse@production → 1 was set outside the registry"
    else:
        _tamper(reg_path, "DELETE FROM decisions")
        expected = "entry 3: approve of evo@1 was deleted"
    result = cli("policy", "audit", "--registry", str(reg_path), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    problems = [f"entry {f['entry']}: {f['problem']}" if f["entry"] else f["problem"] for f in report["findings"]]
    assert any(p.startswith(expected) for p in problems), problems
    if case in ("source", "approval", "deleted decision"):
        # a tampered version cannot be run live or promoted
        with Registry.open(reg_path) as reg, pytest.raises(RegistryError, match="evo@1 fails the audit"):
            reg.resolve("evo@1", allow_unapproved=True)
    if case == "source":
        with Registry.open(reg_path) as reg, pytest.raises(RegistryError, match="evo@1 fails the audit"):
            reg.promote("evo@1", by="mallory")


@pytest.mark.slow
def test_library_cannot_rewrite_history(gated: Path, tmp_path: Path):
    reg_path = tmp_path / "reg.sqlite"
    shutil.copyfile(gated, reg_path)
    with Registry.open(reg_path) as reg:
        for sql in ("UPDATE versions SET id = 'x'", "DELETE FROM audit", "UPDATE blobs SET data = x''"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                reg.conn.execute(sql)


def _register(reg: Path, name: str, beta: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*AUTOTTS, "policy", "register", name, "sc", "--beta", beta, "--registry", str(reg), *TINY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


@pytest.mark.slow
def test_concurrent_writers_both_land(tmp_path: Path):
    reg = tmp_path / "reg.sqlite"
    # each holds its write transaction open for a second, so the writes certainly overlap
    procs = [_register(reg, "p", beta, **{FAULT_PAUSE_ENV: "1"}) for beta in ("0.25", "0.5", "1")]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    with Registry.open(reg) as r:
        versions = r.list()
        assert sorted(v["beta"] for v in versions) == [0.25, 0.5, 1.0]
        assert sorted(v["version"] for v in versions) == [1, 2, 3]
        assert [e["seq"] for e in r.audit_entries()] == [1, 2, 3] and not r.audit()


@pytest.mark.slow
def test_kill_9_inside_register_leaves_no_half_version(tmp_path: Path):
    reg = tmp_path / "reg.sqlite"
    first = _register(reg, "p", "1")
    assert first.wait(timeout=300) == 0
    victim = _register(reg, "p", "0.5", **{FAULT_PAUSE_ENV: "120"})
    deadline = time.time() + 240
    line = ""
    while "paused inside register" not in line and time.time() < deadline:
        line = victim.stderr.readline()
        assert line or victim.poll() is None, "the register process ended before its transaction"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    with Registry.open(reg) as r:
        assert [(v["name"], v["version"]) for v in r.list()] == [("p", 1)]
        assert r.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert not r.audit() and r.head()[0] == 1
        blobs = r.conn.execute("SELECT COUNT(*) FROM blobs").fetchone()[0]
        assert blobs == 3  # the killed writer's blobs were rolled back with its version
    again = _register(reg, "p", "0.5")
    assert again.wait(timeout=300) == 0
    with Registry.open(reg) as r:
        assert [v["version"] for v in r.list()] == [1, 2] and not r.audit()


def test_same_content_is_one_version_and_diff_shows_changes(tmp_path: Path):
    reg_path = tmp_path / "reg.sqlite"
    plan = EvidencePlan(("Qwen3-4B/aime25",), 1, 1, (1.0,))
    with Registry.open(reg_path) as reg:
        from autotts.governance.evidence import collect_evidence, controller_source

        manifest = collect_evidence("sc", 1.0, "p", plan)
        source, kind, cls = controller_source("sc")
        first, new = reg.add_version("p", source, kind, "sc", cls, 1.0, manifest, by="x")
        again, new_again = reg.add_version("p", source, kind, "sc", cls, 1.0, manifest, by="y")
        assert new and not new_again and again.version == first.version and again.id == first.id
        second, _ = reg.register("p", "cmc", 1.0, by="x", plan=plan)
        diff = reg.diff("p@1", "p@2")
        assert not diff["same_source"] and "class ConfidenceMomentum" in diff["source_diff"]
        assert (
            diff["figures"]["vs SC@64 (pooled): token_saving_percent"][0]
            != diff["figures"]["vs SC@64 (pooled): token_saving_percent"][1]
        )
    with pytest.raises(RegistryError, match="give NAME@VERSION"):
        resolve_policy("p", registry=reg_path)


@pytest.mark.slow
def test_robustness_result_is_evidence_and_approval_reads_it(tmp_path: Path):
    """`policy register --robustness` keeps an `autotts robustness` result with the version; the
    approval gate counts the conditions that flag the policy against ``max_robustness_flags``."""
    out = tmp_path / "robust"
    robust = cli(
        "robustness", str(Path(__file__).parent / "candidates" / "fragile_delta.py"), "--store", "Qwen3-4B/aime25",
        "--conditions", "delta1500", "--betas", "0.5,1", "--seeds", "2", "--out", str(out), "--trusted",
    )
    assert robust.returncode == 0, robust.stderr
    doc = json.loads((out / "robustness.json").read_text())
    flagged = doc["policy_flagged"]
    reg = tmp_path / "reg.sqlite"
    fragile = str(Path(__file__).parent / "candidates" / "fragile_delta.py")
    registered = cli(
        "policy", "register", "fragile", fragile, "--beta", "1", "--by", "eng", "--registry", str(reg),
        "--robustness", str(out), "--trusted", *TINY,
    )
    assert registered.returncode == 0, registered.stderr
    with Registry.open(reg) as registry:
        evidence = registry.evidence(registry.get("fragile@1"))
        assert evidence["robustness"]["policy_flagged"] == flagged
        assert evidence["robustness"]["conditions"] == len(doc["conditions"])
        ok, results = registry.approve(
            "fragile@1", by="alice", note="", criteria=Criteria(max_robustness_flags=len(flagged) - 0.5)
        )
        robustness = next(r for r in results if r.name == "robustness")
        assert not ok and robustness.ok is False and robustness.value == flagged
        manifest = registry.manifest(registry.get("fragile@1"))
        lenient = Criteria(max_robustness_flags=len(flagged), require_reverify=False)
    (again,) = [
        r
        for r in evaluate_criteria(lenient, manifest["figures"], ["Qwen3-4B/aime25"], lambda: (True, ""),
                                   robustness=evidence["robustness"])
        if r.name == "robustness"
    ]
    assert again.ok is True
    bad = tmp_path / "not-robustness.json"
    bad.write_text('{"schema": "something else"}')
    refused = cli(
        "policy", "register", "x", "evo", "--beta", "1", "--registry", str(reg), "--robustness", str(bad), *TINY
    )
    assert refused.returncode != 0 and "schema" in (refused.stderr + refused.stdout)
