"""Mirror the policy registry into an MLflow tracking server's model registry.

Teams that already run MLflow see every autotts version there: one registered model per policy
name, one model version per autotts version (its run holds the controller source, the evidence
manifest and summary as artifacts, β and hashes as params, headline figures as metrics), the
approval status and approver as model-version tags, and the aliases (``production``, ``staging``,
…) as MLflow aliases. The autotts registry stays the source of truth: :meth:`MlflowMirror.sync` makes
MLflow match it and is idempotent (versions are found again by their ``autotts.id`` tag).

``mlflow`` is imported only when a mirror is used (the ``[mlflow]`` extra).
"""

from __future__ import annotations

import json
from typing import Any

EXPERIMENT = "autotts-policies"


class MirrorError(RuntimeError):
    """The MLflow server could not be reached or refused a change."""


class MlflowMirror:
    def __init__(self, tracking_uri: str, experiment: str = EXPERIMENT):
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as exc:  # the optional extra is not installed
            raise MirrorError("the MLflow mirror needs mlflow: pip install 'autotts[mlflow]'") from exc
        self.uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.experiment = experiment

    def _experiment_id(self) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        return self.client.create_experiment(self.experiment, tags={"autotts": "policy registry mirror"})

    def _model(self, name: str) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_registered_model(name)
        except MlflowException:
            return self.client.create_registered_model(
                name, tags={"autotts.policy": name}, description=f"autotts scaling policy {name} (mirrored)"
            )

    def mirrored_versions(self, name: str) -> dict[str, Any]:
        """autotts version id → MLflow ModelVersion, for the versions already mirrored."""
        found = self.client.search_model_versions(f"name='{name}'")
        return {mv.tags["autotts.id"]: mv for mv in found if "autotts.id" in (mv.tags or {})}

    def sync(self, registry: Any, name: str) -> None:
        """Make MLflow's registered model ``name`` match the autotts registry's versions, decisions and
        aliases."""
        try:
            self._sync(registry, name)
        except MirrorError:
            raise
        except Exception as exc:  # network, server errors: the autotts change itself is already committed
            raise MirrorError(f"MLflow mirror at {self.uri} failed for {name}: {type(exc).__name__}: {exc}") from exc

    def _sync(self, registry: Any, name: str) -> None:
        self._model(name)  # created on first sync
        known = self.mirrored_versions(name)
        numbers: dict[int, str] = {}  # autotts version -> MLflow version
        for row in [r for r in registry.list() if r["name"] == name]:
            version = registry.get(f"{name}@{row['version']}")
            mv = known.get(version.id) or self._push(registry, version)
            numbers[version.version] = str(mv.version)
            self._tag(registry, version, str(mv.version))
        wanted = registry.aliases(name)
        current = dict(getattr(self.client.get_registered_model(name), "aliases", {}) or {})
        for alias, version in wanted.items():
            if current.get(alias) != numbers[version]:
                self.client.set_registered_model_alias(name, alias, numbers[version])
        for alias in current:
            if alias not in wanted:
                self.client.delete_registered_model_alias(name, alias)

    def _push(self, registry: Any, version: Any) -> Any:
        rec = version.record
        evidence = registry.evidence(version)
        run = self.client.create_run(
            self._experiment_id(),
            run_name=f"{version.ref}",
            tags={"autotts.id": version.id, "autotts.name": version.name, "autotts.version": str(version.version)},
        )
        run_id = run.info.run_id
        params = {
            "beta": rec["beta"],
            "controller": rec["controller"]["ref"],
            "controller_kind": rec["controller"]["kind"],
            "source_sha256": rec["source_sha256"],
            "manifest_sha256": rec["manifest_sha256"],
            "evidence_sha256": rec["evidence_sha256"],
            "autotts_version": rec["autotts_version"],
        }
        for key, value in params.items():
            self.client.log_param(run_id, key, value)
        for key, value in _metrics(evidence).items():
            self.client.log_metric(run_id, key, value)
        self.client.log_text(run_id, registry.source(version), "policy/controller.py")
        self.client.log_text(run_id, json.dumps(registry.manifest(version), indent=1), "policy/manifest.json")
        self.client.log_text(run_id, json.dumps(evidence, indent=1), "policy/evidence.json")
        self.client.set_terminated(run_id)
        return self.client.create_model_version(
            version.name,
            source=f"{run.info.artifact_uri}/policy",
            run_id=run_id,
            tags={"autotts.id": version.id, "autotts.version": str(version.version), **_short(params)},
            description=f"autotts {version.ref}: {evidence['vs_sc64'].get('verdict') or ''}",
        )

    def _tag(self, registry: Any, version: Any, mlflow_version: str) -> None:
        decisions = registry.decisions(version.name, version.version)
        tags = {"autotts.status": registry.status(version.name, version.version)}
        if decisions:
            last = decisions[-1]
            tags.update(
                {
                    "autotts.decision": last["action"],
                    "autotts.decided_by": last["by"],
                    "autotts.decided_at": last["at"],
                    "autotts.decision_note": last["note"][:500],
                    "autotts.override": last.get("override") or "",
                }
            )
        for key, value in tags.items():
            self.client.set_model_version_tag(version.name, mlflow_version, key, value)


def _metrics(evidence: dict[str, Any]) -> dict[str, float]:
    out = {}
    for side in ("vs_sc64", "vs_cmc"):
        data = evidence.get(side) or {}
        if data.get("accuracy") is not None:
            out[f"{side}.accuracy"] = float(data["accuracy"])
            out[f"{side}.reference_accuracy"] = float(data["reference_accuracy"])
        for key in ("accuracy_difference", "token_saving_percent"):
            if data.get(key):
                est, low, high = data[key]
                out.update({f"{side}.{key}": est, f"{side}.{key}.low": low, f"{side}.{key}.high": high})
    return out


def _short(params: dict[str, Any]) -> dict[str, str]:
    return {f"autotts.{k}": str(v) for k, v in params.items() if k.endswith("sha256") or k == "beta"}
