"""What every review tool shares: the injected `ReviewContext` and the result helpers (compact
JSON, quoting of untrusted text, size caps)."""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from agents.untrusted import quote_untrusted, scan_text
from comparison import (
    Comparison,
    Unavailable,
    metric_value,
)
from policies.result import CheckResult, PolicyVerdict
from tools.evidence import EvalTable, EvidenceBundle, VersionEvidence
from tools.pipeline_diff import PipelineDiff
from tools.segments import (
    TablePairing,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["ReviewContext", "Side"]

logger = logging.getLogger("promogate.agents")

Side = Literal["candidate", "baseline"]

_MAX_OUTPUT_CHARS = 6000
_MAX_LIMIT = 100
_MAX_RESAMPLES = 5000
_QUOTE_LIMIT = 1500
_UNTRUSTED_MARK = "<untrusted-data"


class ReviewContext:
    """What the tools of one review read, injected by the agent runtime (never by the model).

    Args:
        bundle: The evidence of the candidate and its baseline.
        verdict: The policy verdict (the checks the review is about).
        client: MLflow client for detail the bundle does not hold (metric histories, artifacts);
            None keeps the tools to the bundle.
        caller: Who asked for the review (recorded in traces).
        max_output_chars: Size cap of one tool result.
        comparison: The review's comparison (facts the policies already computed); a new one of
            `bundle` if None.
    """

    def __init__(
        self,
        bundle: EvidenceBundle,
        verdict: PolicyVerdict,
        *,
        client: MlflowClient | None = None,
        caller: str = "reviewer",
        max_output_chars: int = _MAX_OUTPUT_CHARS,
        comparison: Comparison | None = None,
    ) -> None:
        self.bundle = bundle
        self.verdict = verdict
        self.client = client
        self.caller = caller
        self.max_output_chars = max_output_chars
        self.facts = comparison if comparison is not None else Comparison(bundle)
        self._lock = threading.Lock()
        self._refs: set[str] = set()

    @property
    def model(self) -> str:
        return self.bundle.candidate.model

    @property
    def version(self) -> int:
        return self.bundle.candidate.version

    def side(self, which: Side) -> VersionEvidence | None:
        return self.bundle.candidate if which == "candidate" else self.bundle.baseline

    def record_refs(self, refs: Iterable[str]) -> None:
        with self._lock:
            self._refs.update(r for r in refs if r)

    @property
    def seen_refs(self) -> set[str]:
        """Evidence references the tools returned so far in this review."""
        with self._lock:
            return set(self._refs)

    def pipeline_diff(self) -> PipelineDiff | str:
        """The classified config diff of baseline to candidate, or why there is none."""
        diff = self.facts.pipeline_diff()
        return diff.reason if isinstance(diff, Unavailable) else diff

    def pairing(self) -> tuple[EvalTable, EvalTable, TablePairing] | str:
        """(baseline table, candidate table, pairing), or why the tables cannot be paired."""
        paired = self.facts.paired_tables()
        if isinstance(paired, Unavailable):
            return paired.reason
        return paired.baseline, paired.candidate, paired.pairing


# --------------------------------------------------------------------------------------------
# Result helpers


def _quote_suspicious(value: Any, source: str) -> Any:
    """Quote any string that looks like a planted instruction and is not quoted already."""
    if isinstance(value, str):
        if _UNTRUSTED_MARK not in value and scan_text(value):
            return quote_untrusted(source, value, limit=_QUOTE_LIMIT)
        return value
    if isinstance(value, Mapping):
        return {str(k): _quote_suspicious(v, source) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_quote_suspicious(v, source) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _respond(ctx: ReviewContext, tool_name: str, payload: dict[str, Any]) -> str:
    refs = payload.get("evidence")
    if isinstance(refs, list):
        ctx.record_refs(str(r) for r in refs)
    safe = _quote_suspicious(payload, f"tool:{tool_name}")
    text = json.dumps(safe, separators=(",", ":"), default=str, allow_nan=False)
    if len(text) <= ctx.max_output_chars:
        return text
    return json.dumps(
        {
            "truncated": True,
            "note": (
                f"the result was {len(text)} characters, over the {ctx.max_output_chars} cap; "
                "narrow the query (prefix, limit, a single suite or change class)"
            ),
            "partial": text[: ctx.max_output_chars - 300],
        }
    )


def _error(ctx: ReviewContext, tool_name: str, message: str, **extra: Any) -> str:
    return _respond(ctx, tool_name, {"error": message, **extra})


def _quote(source: str, text: str | None) -> str | None:
    return None if text is None else quote_untrusted(source, text, limit=_QUOTE_LIMIT)


def _flags(text: str | None) -> list[str]:
    return scan_text(text) if text else []


def _limit(value: int, default: int = 20) -> int:
    return max(1, min(_MAX_LIMIT, value if value > 0 else default))


def _metric_source(version: VersionEvidence, name: str) -> tuple[float | None, dict[str, Any]]:
    found = metric_value(version, name)
    if isinstance(found, Unavailable):
        return None, {"source": None, "evidence": []}
    where: dict[str, Any] = {"source": found.source}
    if found.source == "logged_model":
        where |= {"dataset_name": found.dataset_name, "dataset_digest": found.dataset_digest}
    return found.value, {**where, "evidence": [found.ref]}


def _checks_about(verdict: PolicyVerdict, predicate: Callable[[CheckResult], bool]) -> list[Any]:
    return [
        {"id": c.id, "status": c.status, "message": c.message}
        for c in verdict.checks
        if predicate(c)
    ]


def _round(value: float | None, digits: int = 6) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)
