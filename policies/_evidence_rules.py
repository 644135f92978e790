"""Which evidence a policy requires: its presence checks."""

from __future__ import annotations

from typing import Any

from comparison import (
    artifact_ref,
    dataset_ref,
)
from policies._rule_base import (
    _HOW_TO_LOG_EVAL_DATASET,
    _HOW_TO_LOG_TABLE,
    _HOW_TO_LOG_TRAIN_DATASET,
    _PIPELINE_FILES,
    RunBase,
    _gap_notes,
)
from policies.result import (
    CheckResult,
)
from policies.schema import EvidenceKind

__all__ = ["EvidenceChecks"]


class EvidenceChecks(RunBase):
    """Which evidence a policy requires: its presence checks."""

    # evidence ----------------------------------------------------------------------------------

    def _evidence_checks(self) -> list[CheckResult]:
        return [self._evidence_check(kind) for kind in self.policy.evidence.require]

    def _evidence_check(self, kind: EvidenceKind) -> CheckResult:
        c = self.candidate
        paths = sorted({a.path for a in c.artifacts} | set(c.artifact_paths))
        found: list[str] = []
        how = ""
        gaps: list[str] = []
        if kind == "eval_table":
            if c.eval_table is not None:
                found = [artifact_ref(c, c.eval_table.path)]
            how = _HOW_TO_LOG_TABLE
            gaps = _gap_notes(c, "eval_table", "artifacts")
        elif kind in ("evaluation_dataset", "training_dataset"):
            context = kind.removesuffix("_dataset")
            found = [dataset_ref(d.digest) for d in c.datasets_in(context)]
            how = _HOW_TO_LOG_EVAL_DATASET if context == "evaluation" else _HOW_TO_LOG_TRAIN_DATASET
            gaps = _gap_notes(c, "datasets")
        elif kind == "signature":
            lm = c.logged_model
            mlmodel = [a for a in c.artifacts if a.path.rsplit("/", 1)[-1] == "MLmodel"]
            if lm is not None and lm.signature:
                found = [f"logged_model:{lm.model_id}/MLmodel#signature"]
            elif any("signature:" in a.content for a in mlmodel):
                found = [f"{a.owner}:{a.path}#signature" for a in mlmodel]
            how = (
                "log the model with a signature: mlflow.<flavor>.log_model(..., "
                "signature=mlflow.models.infer_signature(X, model.predict(X))) or input_example=X"
            )
            gaps = _gap_notes(c, "logged_model", "artifacts")
        elif kind == "requirements":
            found = [p for p in paths if p.rsplit("/", 1)[-1] == "requirements.txt"]
            how = "log the model with pip_requirements=[...] so requirements.txt is saved with it"
            gaps = _gap_notes(c, "artifacts", "logged_model")
        elif kind == "pipeline_config":
            found = [
                p
                for p in paths
                if p.startswith("pipeline/") or p.rsplit("/", 1)[-1] in _PIPELINE_FILES
            ] + [a.path for a in c.artifacts if a.pipeline_config]
            how = (
                "log the pipeline config on the source run: "
                "mlflow.log_artifact('pipeline.yaml', artifact_path='pipeline')"
            )
            gaps = _gap_notes(c, "artifacts", "pipeline_config")
        else:  # logged_model_metrics
            lm = c.logged_model
            if lm is not None and lm.metrics:
                found = [f"logged_model:{lm.model_id}/metrics/{m.key}" for m in lm.metrics]
            how = (
                "log evaluation metrics on the logged model with their dataset: "
                "mlflow.log_metric(key, value, model_id=model_info.model_id, dataset=eval_dataset)"
            )
            gaps = _gap_notes(c, "logged_model")
        id = f"evidence.{kind}"
        if found:
            return self.check(id, "evidence", "pass", f"{c.ref} has {kind}", evidence=found[:20])
        details: dict[str, Any] = {"gaps": gaps} if gaps else {}
        # The reason comes first: "missing" alone hides a table that is there but unreadable.
        message = f"required evidence {kind!r} is missing for {c.ref}"
        if gaps:
            more = f" (and {len(gaps) - 1} more)" if len(gaps) > 1 else ""
            message = f"required evidence {kind!r} of {c.ref}: {gaps[0]}{more}"
        return self.check(
            id,
            "evidence",
            "error",
            message,
            how_to_fix=how,
            details=details,
        )
