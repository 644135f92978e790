"""A review's own CPU, step by step, each beside the way it replaced, on the demo registry.

- **Evidence digest.** `EvidenceBundle.digest` against the canonical JSON of the whole dump (what
  the digest was before), for each candidate's bundle: with evaluation tables seen before (a copy
  of the bundle sharing its table objects, as every candidate shares the champion's table
  through `TABLE_CACHE`) and with tables never seen (a deep copy). The digests must be equal.
- **The texts a screening reads.** `agents.untrusted.screened_texts` of each candidate's bundle
  (both versions' texts, the evaluation tables' distinct cells among them) with tables seen
  before (the table objects a review shares, whose cells were found once) and with tables never
  seen (tables rebuilt from the same columns and rows, made before timing): the way every
  review found them before. The texts must be equal.
- **A model file's importances, first read.** The review's reader (`load_skops_importances`: one
  parse of the file, audited before anything is constructed) per model file of the demo, both
  when the policy trusts the file's types and when it does not (the demo's policies trust none
  for importances), against what it replaced: skops' two public steps (`get_untrusted_types`,
  then `load`) for a trusted file; `load` refusing, then `get_untrusted_types` to name what was
  refused, for a refused one. skops and scikit-learn are imported before timing; the reader's
  times include its SHA-256 of the file (its cache key), which the other columns leave out.

    uv run python -m benchmarks.review_cpu [--workdir DIR] [--reuse] [--repeats N]

Medians of `--repeats` timings each. This module sits on top of the packages it measures, and
nothing imports it.
"""

from __future__ import annotations

import argparse
import gc
import io
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from agents.untrusted import screened_texts
from benchmarks._timing import median_ms
from benchmarks.review_latency import prepare_registry
from scenarios.demo_registry import DemoRegistry
from tools import EvalTable, EvidenceBundle, canonical_digest, collect_bundle, download_artifact

if TYPE_CHECKING:
    from mlflow import MlflowClient

_MODEL_MAX_BYTES = 64 * 1024 * 1024

__all__ = [
    "DigestRow",
    "ImportanceRow",
    "ScreeningRow",
    "main",
    "measure_digests",
    "measure_importances",
    "measure_screening",
]


class DigestRow(BaseModel):
    """One candidate's bundle: its digest's cost each way, and whether the digests agree."""

    version: int
    json_kb: float
    full_dump_ms: float
    new_tables_ms: float
    tables_seen_ms: float
    same_digest: bool


class ScreeningRow(BaseModel):
    """One candidate's bundle: finding the texts its screening reads, each way."""

    version: int
    texts: int
    new_tables_ms: float
    tables_seen_ms: float
    same_texts: bool


class ImportanceRow(BaseModel):
    """One model file: the first read of its importances, now and the way it replaced."""

    version: int
    megabytes: float
    trusted_before_ms: float
    trusted_now_ms: float
    refused_before_ms: float
    refused_now_ms: float


def _digest_ms(copies: Sequence[EvidenceBundle]) -> float:
    """Median time of each copy's first digest (the copies are made before timing)."""
    remaining = list(copies)
    return median_ms(lambda: remaining.pop().digest, len(copies))


def _client(registry: DemoRegistry) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=registry.tracking_uri, registry_uri=registry.tracking_uri)


def _digest_row(version: int, bundle: EvidenceBundle, repeats: int) -> DigestRow:
    full = canonical_digest(bundle.model_dump(mode="json"))
    seen = bundle.model_copy().digest  # keeps the tables' text for the copies sharing them
    return DigestRow(
        version=version,
        json_kb=len(bundle.model_dump_json()) / 1024,
        full_dump_ms=median_ms(lambda: canonical_digest(bundle.model_dump(mode="json")), repeats),
        new_tables_ms=_digest_ms([bundle.model_copy(deep=True) for _ in range(repeats)]),
        tables_seen_ms=_digest_ms([bundle.model_copy() for _ in range(repeats)]),
        same_digest=full == seen == bundle.model_copy(deep=True).digest,
    )


def measure_digests(registry: DemoRegistry, repeats: int = 5) -> list[DigestRow]:
    """Time each candidate's bundle digest both ways (see the module docstring)."""
    client = _client(registry)
    return [
        _digest_row(c.version, collect_bundle(client, registry.model_name, c.version), repeats)
        for c in registry.candidates
    ]


def _with_new_tables(bundle: EvidenceBundle) -> EvidenceBundle:
    """`bundle` with each evaluation table rebuilt from its columns and rows (never seen)."""
    versions: dict[str, Any] = {}
    for role in ("candidate", "baseline"):
        version = getattr(bundle, role)
        if version is not None and version.eval_table is not None:
            table = version.eval_table
            new = EvalTable(path=table.path, columns=table.columns, rows=table.rows)
            versions[role] = version.model_copy(update={"eval_table": new})
    return bundle.model_copy(update=versions)


def _screened_ms(bundles: Callable[[], EvidenceBundle], repeats: int) -> float:
    """Median time of `screened_texts` of `bundles()`, each made and the heap collected before
    its timing, so that neither the copy nor a collection it triggers is timed."""
    times = []
    for _ in range(repeats):
        bundle = bundles()
        gc.collect()
        started = time.perf_counter()
        screened_texts(bundle)
        times.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(times)


def _screening_row(version: int, bundle: EvidenceBundle, repeats: int) -> ScreeningRow:
    texts = screened_texts(bundle)  # finds the shared tables' cells for the timings below
    return ScreeningRow(
        version=version,
        texts=len(texts),
        new_tables_ms=_screened_ms(lambda: _with_new_tables(bundle), repeats),
        tables_seen_ms=_screened_ms(lambda: bundle, repeats),
        same_texts=screened_texts(_with_new_tables(bundle)) == texts,
    )


def measure_screening(registry: DemoRegistry, repeats: int = 5) -> list[ScreeningRow]:
    """Time finding each candidate's screened texts both ways (see the module docstring)."""
    client = _client(registry)
    return [
        _screening_row(c.version, collect_bundle(client, registry.model_name, c.version), repeats)
        for c in registry.candidates
    ]


def _model_file(client: MlflowClient, model: str, version: int) -> bytes | None:
    """The bytes of a version's skops model file, read as a review reads a logged model's files."""
    source = str(client.get_model_version(model, str(version)).source)
    if not source.startswith("models:/"):
        return None
    model_id = source.removeprefix("models:/")
    names = [str(a.path) for a in client.list_logged_model_artifacts(model_id)]
    skops_files = [name for name in names if name.endswith(".skops")]
    if not skops_files:
        return None
    return download_artifact(
        client, "logged_model", model_id, skops_files[0], max_bytes=_MODEL_MAX_BYTES
    )


def _refused_before(data: bytes) -> object:
    import skops.io as sio

    try:
        return sio.load(io.BytesIO(data), trusted=[])
    except Exception:  # noqa: BLE001 - the refusal is what is timed
        return sio.get_untrusted_types(data=data)


def _importance_row(version: int, data: bytes, repeats: int) -> ImportanceRow:
    import skops.io as sio

    from tools import load_skops_importances

    trusted = sio.get_untrusted_types(data=data)
    reads = iter(range(10**9))

    def now(types: list[str], available: bool) -> None:
        # A new source each time: the reader's cache would answer a repeated read.
        found = load_skops_importances(data, trusted_types=types, source=f"bench-{next(reads)}")
        if found.available is not available:
            raise RuntimeError(f"v{version}: importances {found.available}: {found.reason}")

    return ImportanceRow(
        version=version,
        megabytes=len(data) / 1e6,
        trusted_before_ms=median_ms(
            lambda: sio.load(io.BytesIO(data), trusted=sio.get_untrusted_types(data=data)),
            repeats,
        ),
        trusted_now_ms=median_ms(lambda: now(trusted, True), repeats),
        refused_before_ms=median_ms(lambda: _refused_before(data), repeats),
        refused_now_ms=median_ms(lambda: now([], not trusted), repeats),
    )


def measure_importances(registry: DemoRegistry, repeats: int = 3) -> list[ImportanceRow]:
    """Time the first read of each demo model file's importances both ways."""
    import skops.io as sio

    client = _client(registry)
    versions = [registry.champion_version, *(c.version for c in registry.candidates)]
    files = {v: data for v in versions if (data := _model_file(client, registry.model_name, v))}
    # Imports and scikit-learn's first load out of the timings.
    warm = next(iter(files.values()))
    sio.load(io.BytesIO(warm), trusted=sio.get_untrusted_types(data=warm))
    return [_importance_row(version, data, repeats) for version, data in files.items()]


def render(
    digests: Sequence[DigestRow],
    importances: Sequence[ImportanceRow],
    screenings: Sequence[ScreeningRow] = (),
) -> str:
    lines = [
        "| version | bundle JSON (kB) | full dump (ms) | new tables (ms) | tables seen (ms) "
        "| same digest |",
        "|---|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| v{r.version} | {r.json_kb:.0f} | {r.full_dump_ms:.1f} | {r.new_tables_ms:.1f} | "
        f"{r.tables_seen_ms:.1f} | {'yes' if r.same_digest else 'NO'} |"
        for r in digests
    ]
    lines += [
        "",
        "| model file of | MB | trusted: two steps (ms) | trusted: now (ms) | now / before "
        "| refused: load, then audit (ms) | refused: now (ms) | now / before |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| v{r.version} | {r.megabytes:.1f} | {r.trusted_before_ms:.0f} | {r.trusted_now_ms:.0f} "
        f"| {r.trusted_now_ms / r.trusted_before_ms:.2f} | {r.refused_before_ms:.0f} "
        f"| {r.refused_now_ms:.0f} | {r.refused_now_ms / r.refused_before_ms:.2f} |"
        for r in importances
    ]
    if screenings:
        lines += [
            "",
            "| version | texts screened | tables never seen (ms) | tables seen (ms) "
            "| seen / never seen | same texts |",
            "|---|---:|---:|---:|---:|---|",
        ]
        lines += [
            f"| v{r.version} | {r.texts} | {r.new_tables_ms:.2f} | {r.tables_seen_ms:.2f} "
            f"| {r.tables_seen_ms / r.new_tables_ms:.2f} | {'yes' if r.same_texts else 'NO'} |"
            for r in screenings
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/promogate-bench"))
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    registry = prepare_registry(args.workdir, reuse=args.reuse)
    print(
        render(
            measure_digests(registry, args.repeats),
            measure_importances(registry, 3),
            measure_screening(registry, args.repeats),
        )
    )


if __name__ == "__main__":
    main()
