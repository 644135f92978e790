"""The two versions' per-example evaluation tables, paired row by row."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from comparison.unavailable import Unavailable
from tools.evidence import EvalTable, EvidenceBundle
from tools.segments import TablePairing, pair_tables

__all__ = ["PairedTables", "pair_eval_tables"]


class PairedTables(BaseModel):
    """The baseline's and the candidate's tables and which rows are the same examples."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    baseline: EvalTable
    candidate: EvalTable
    pairing: TablePairing


def pair_eval_tables(
    bundle: EvidenceBundle, rows: TablePairing | None = None
) -> PairedTables | Unavailable:
    """Pair the baseline's evaluation table with the candidate's, or say why they cannot be.

    Args:
        bundle: Both versions' evidence.
        rows: `tools.segments.pair_rows` of the two tables, when the caller has it already.
    """
    candidate, baseline = bundle.candidate, bundle.baseline
    if candidate.eval_table is None:
        return Unavailable(reason=f"{candidate.ref} has no per-example evaluation table")
    if baseline is None:
        return Unavailable(reason="there is no baseline version")
    if baseline.eval_table is None:
        return Unavailable(
            reason=f"the baseline {baseline.ref} has no per-example evaluation table"
        )
    pairing = pair_tables(baseline.eval_table, candidate.eval_table, rows)
    if not pairing.paired:
        return Unavailable(reason=f"the two evaluation tables cannot be paired: {pairing.reason}")
    return PairedTables(
        baseline=baseline.eval_table, candidate=candidate.eval_table, pairing=pairing
    )
