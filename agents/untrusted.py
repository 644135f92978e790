"""Untrusted text: screen every text the reviewer, chat or PR bot reads; quote it safely.

Everything read from MLflow (descriptions, tags, params, dataset names, config values, artifact
contents, evaluation-table cells), from a pull request or from a model's output is data. The
reviewer never follows it; when such text tries to steer the review, the attempt itself is a
security finding. This module is the one place that decides what counts as such an attempt:

- `screen_text(text, place)` screens one text read at a named place (see `PLACES`; the PR bot
  screens titles, bodies, branch names, commit messages, comments and file contents with it);
- `screen_bundle(bundle, verdict)` screens every text of a review's evidence before any
  investigator reads it, and checks the claims those texts make against the evidence;
- `untrusted_text_check(verdict, screening)` applies the policies' `agent.untrusted_text` hook
  (report | escalate | block) in the decide step;
- `quote_untrusted(source, text)` wraps text for a model prompt so it reads as data.

A screening is a function of the evidence and the verdict alone, so a review screens once and
keeps the result in memory; a local review, a process of its own, also keeps it on disk
(`use_screening_disk_cache`) under the evidence digest, the verdict and this code's own sources.

Detection lives in `agents._untrusted_detectors` (intents and hidden carriers) and
`agents._untrusted_claims` (claims against evidence); docs/architecture.md lists the places.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agents._untrusted_claims import Contradiction, find_contradictions
from agents._untrusted_detectors import (
    CARRIER_KINDS,
    HITS_CACHE,
    INTENT_KINDS,
    Hit,
    Kind,
    compile_patterns,
    find_hits,
    fold_text,
)
from policies.decision import Finding
from policies.result import CheckResult, PolicyVerdict
from tools.disk_cache import DiskCache, producer_fingerprint
from tools.evidence import EvalTable, EvidenceBundle, VersionEvidence
from tools.evidence_cache import content_key
from tools.installed_versions import installed_version
from tools.pipeline_config import is_config_artifact, load_pipeline_config, value_text

__all__ = [
    "CARRIER_KINDS",
    "INTENT_KINDS",
    "KINDS",
    "PLACES",
    "Detection",
    "Kind",
    "Place",
    "ScreenedText",
    "Screening",
    "UntrustedTextAction",
    "artifact_ref",
    "clear_screening_cache",
    "compile_patterns",
    "normalize_untrusted",
    "quote_untrusted",
    "safety_case_ref",
    "scan_bundle",
    "scan_text",
    "screen_bundle",
    "screen_text",
    "screened_texts",
    "untrusted_text_check",
    "use_screening_disk_cache",
]

logger = logging.getLogger("promogate.agents")

Place = Literal[
    "version_description",
    "version_tag",
    "run_description",
    "run_name",
    "run_tag",
    "run_param",
    "metric_name",
    "logged_model_param",
    "logged_model_tag",
    "dataset_name",
    "dataset_source",
    "config_value",
    "text_artifact",
    "eval_table_cell",
    "safety_response",
    "pr_title",
    "pr_body",
    "pr_branch",
    "pr_commit_message",
    "pr_comment",
    "pr_file",
    "tool_output",
]

PLACES: dict[Place, str] = {
    "version_description": "model version description",
    "version_tag": "model version tag",
    "run_description": "run description",
    "run_name": "run name",
    "run_tag": "run tag",
    "run_param": "run param",
    "metric_name": "metric name",
    "logged_model_param": "logged model param",
    "logged_model_tag": "logged model tag",
    "dataset_name": "dataset name",
    "dataset_source": "dataset source",
    "config_value": "pipeline config value",
    "text_artifact": "text artifact",
    "eval_table_cell": "evaluation table cell",
    "safety_response": "safety-suite response",
    "pr_title": "pull request title",
    "pr_body": "pull request body",
    "pr_branch": "pull request branch name",
    "pr_commit_message": "commit message",
    "pr_comment": "pull request comment",
    "pr_file": "file changed in the pull request",
    "tool_output": "tool output",
}

KINDS: dict[Kind, str] = {
    "addresses_model": "addresses an automated reviewer or model",
    "claims_approval": "claims an approval, exemption, override, sign-off or verdict",
    "claims_policy_change": "claims a policy change or poses as policy text",
    "orders_verdict": "orders a verdict",
    "dismisses_checks": "tells the reader to skip, ignore or reverse checks, or explains a "
    "failure away",
    "overrides_instructions": "tries to replace the reviewer's instructions",
    "role_marker": "carries a role or turn marker",
    "fake_tool_output": "poses as tool output",
    "asks_concealment": "asks not to be reported",
    "pressure": "applies urgency or authority pressure",
    "hidden_comment": "hides text in an HTML or Markdown comment",
    "zero_width": "hides characters inside words (zero-width or direction controls)",
    "unicode_tags": "hides text in invisible Unicode tag characters",
    "homoglyph": "spells words with look-alike letters",
    "base64": "hides text in base64",
    "false_claim": "makes a claim the evidence contradicts",
}

UntrustedTextAction = Literal["report", "escalate", "block"]

# Imperatives and questions are ordinary in prose written for humans (READMEs, pull requests):
# there only explicit address of an automated reader counts as addressing the model.
_PROSE_PLACES: frozenset[Place] = frozenset(
    {"text_artifact", "pr_title", "pr_body", "pr_commit_message", "pr_comment", "pr_file"}
)
_MAX_QUOTED = 4000
_EXCERPT = 200
_MAX_TABLE_STRINGS = 2000
_SAFETY_OUTPUT_SKIP = frozenset(
    {"case_id", "id", "prompt", "input", "attack", "goal", "behavior", "category", "expected"}
)
_MAX_MESSAGE_REFS = 20
# Short identifier-like cells (row ids, segment names) cannot carry a sentence.
_IDENTIFIER = re.compile(r"^(?:[\w.:/-]{0,12}|[\w.:/-]*\d[\w.:/-]*)$")


class Detection(BaseModel):
    """One kind of steering found in one text: where it is, what it is, and the text, escaped."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    place: Place
    ref: str = Field(description="Evidence reference of the text, e.g. 'run:<id>/params/<key>'.")
    kind: Kind
    matched: str = Field(description="The matched words, JSON-escaped (ASCII only).")
    quote: str = Field(description="An excerpt of the text, JSON-escaped (ASCII only).")
    carrier: Kind | None = Field(
        default=None, description="The hidden carrier the matched text was decoded from."
    )
    claim: Contradiction | None = None


class ScreenedText(BaseModel):
    """One text of the evidence and where it was read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    place: Place
    ref: str
    text: str
    role: Literal["candidate", "baseline"] = "candidate"


class Screening(BaseModel):
    """Every detection and contradiction in a review's evidence, and what was screened."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    detections: list[Detection] = Field(default_factory=list)
    texts: int = 0
    chars: int = 0

    @property
    def flagged(self) -> bool:
        return bool(self.detections)

    @property
    def refs(self) -> list[str]:
        """The evidence references holding flagged text, in order, once each."""
        return list(dict.fromkeys(d.ref for d in self.detections))

    def findings(self) -> list[Finding]:
        """One warning finding per flagged text, and one per contradicted claim."""
        findings: list[Finding] = []
        by_ref: dict[str, list[Detection]] = {}
        for detection in self.detections:
            if detection.kind != "false_claim":
                by_ref.setdefault(detection.ref, []).append(detection)
        for ref, found in by_ref.items():
            first = found[0]
            kinds = "; ".join(
                KINDS[d.kind] + (f" (hidden in {KINDS[d.carrier]})" if d.carrier else "")
                for d in found
            )
            findings.append(
                Finding(
                    title="Planted instruction in evidence ignored",
                    detail=(
                        f"The {PLACES[first.place]} at {ref} holds text that tries to steer the "
                        f"review: {kinds}. Text: {first.quote}. It was treated as data and "
                        "changed nothing; whoever wrote it should be asked why."
                    ),
                    severity="warning",
                    evidence=[ref],
                )
            )
        for detection in self.detections:
            if detection.claim is not None:
                findings.append(
                    Finding(
                        title="False claim in evidence",
                        detail=(
                            f"{detection.claim.message[0].upper()}{detection.claim.message[1:]}. "
                            f"Text: {detection.quote}. The gate decides on the measured "
                            "evidence, not on the claim."
                        ),
                        severity="warning",
                        evidence=[detection.ref, *detection.claim.evidence],
                    )
                )
        return findings


def normalize_untrusted(text: str) -> str:
    """The text as the detectors read it: NFKC-folded (fullwidth letters become ASCII),
    invisible and tag characters removed, look-alike letters folded to Latin."""
    return fold_text(text)


def _escape(text: str, width: int = _EXCERPT) -> str:
    clipped = text if len(text) <= width else text[:width] + "…"
    return json.dumps(clipped, ensure_ascii=True)


def _excerpt(text: str, matched: str) -> str:
    """The part of `text` around `matched` (searched in the folded text when not found raw)."""
    for haystack in (text, " ".join(fold_text(text).split())):
        at = haystack.find(matched)
        if at >= 0:
            start = max(0, at - 40)
            end = min(len(haystack), at + len(matched) + 80)
            tail = "…" if end < len(haystack) else ""
            return ("…" if start else "") + haystack[start:end] + tail
    return text[:_EXCERPT]


def _detections(text: str, place: Place, ref: str, hits: list[Hit]) -> list[Detection]:
    return [
        Detection(
            place=place,
            ref=ref,
            kind=hit.kind,
            matched=_escape(hit.matched, 120),
            quote=_escape(_excerpt(text, hit.matched)),
            carrier=hit.carrier,
        )
        for hit in hits
    ]


def screen_text(text: str, place: Place, ref: str | None = None) -> list[Detection]:
    """Screen one untrusted text read at `place`: one detection per kind of steering found.

    Args:
        text: The text exactly as read (a description, tag, PR body, model output, ...).
        place: Where it was read; one of `PLACES`.
        ref: Its evidence reference; `place` when not given.
    """
    if not text:
        return []
    hits = find_hits(text, prose_only=place in _PROSE_PLACES)
    return _detections(text, place, ref or place, hits)


def scan_text(text: str) -> list[str]:
    """The kinds of steering `text` holds (empty when none), e.g. ``["orders_verdict"]``.

    Args:
        text: Untrusted text: a description, tag, param, artifact, PR text or model output.
    """
    return [d.kind for d in screen_text(text, "tool_output")]


def artifact_ref(version: VersionEvidence, owner: str, path: str) -> str:
    """Evidence reference of a version's artifact, e.g. ``run:<run_id>/artifacts/<path>``."""
    if owner == "logged_model":
        model_id = version.model_id or (
            version.logged_model.model_id if version.logged_model is not None else None
        )
        return f"logged_model:{model_id or version.ref}/artifacts/{path}"
    return (
        f"run:{version.run_id}/artifacts/{path}"
        if version.run_id
        else (f"version:{version.ref}/artifacts/{path}")
    )


def _inputs_ref(version: VersionEvidence) -> str:
    return f"run:{version.run_id}/inputs" if version.run_id else f"version:{version.ref}/datasets"


def safety_case_ref(
    version: VersionEvidence, suite: str, case: dict[str, object], index: int
) -> str:
    """Evidence reference of one failing safety case of a version."""
    case_id = case.get("case_id", case.get("id", index))
    return f"safety:{suite}/{version.ref}/cases/{case_id}"


def _config_texts(version: VersionEvidence) -> Iterator[tuple[Place, str, str]]:
    """String values of the version's pipeline config files, each at its own reference."""
    if not any(is_config_artifact(a) for a in version.artifacts):
        return
    config = load_pipeline_config(version)
    for value in config.values.values():
        if value.format in ("run_params", "datasets"):
            continue  # run params and dataset inputs are screened at their own places
        if isinstance(value.value, bool | int | float) or value.value is None:
            continue
        owner = "logged_model" if value.origin == "logged_model" else "run"
        yield (
            "config_value",
            f"{artifact_ref(version, owner, value.source)}#{value.key}",
            (value_text(value.value)),
        )


def _table_texts(version: VersionEvidence) -> Iterator[tuple[Place, str, str]]:
    """Column names and distinct string cells of the evaluation table (bounded)."""
    table = version.eval_table
    if table is None:
        return
    base = artifact_ref(version, "run", table.path)
    # A table is parsed once and shared (the champion's by every candidate compared with it), and
    # finding its distinct cells walks every row: half of screening the demo's bundles, per review.
    for fragment, text in table.derived(_SCREENED_CELLS, lambda: _screened_cells(table)):
        yield "eval_table_cell", f"{base}#{fragment}", text


_SCREENED_CELLS = "screened cells"


def _screened_cells(table: EvalTable) -> tuple[tuple[str, str], ...]:
    """(reference fragment, text) of the column names and the distinct string cells that are not
    identifiers, each at its first row, at most `_MAX_TABLE_STRINGS` in all."""
    cells: list[tuple[str, str]] = []
    seen: set[str] = set()
    for column in table.columns:
        if column not in seen:
            seen.add(column)
            cells.append((f"columns/{column}", column))
    for position, column in enumerate(table.columns):
        firsts: dict[str, int] = {}
        for index, row in enumerate(table.rows):
            cell = row[position] if position < len(row) else None
            if isinstance(cell, str) and cell not in firsts:
                firsts[cell] = index
        for cell, index in firsts.items():
            if cell in seen or _IDENTIFIER.match(cell):
                continue
            if len(seen) >= _MAX_TABLE_STRINGS:
                return tuple(cells)
            seen.add(cell)
            cells.append((f"rows/{index}/{column}", cell))
    return tuple(cells)


def _version_texts(version: VersionEvidence) -> Iterator[tuple[Place, str, str]]:
    """(place, evidence reference, text) for every text an author or a model controls."""
    ref = f"version:{version.ref}"
    if version.description:
        yield "version_description", f"{ref}/description", version.description
    for key, value in version.tags.items():
        yield "version_tag", f"{ref}/tags/{key}", f"{key}={value}"
    run = version.run
    if run is not None:
        run_ref = f"run:{run.run_id}"
        if run.description:
            yield "run_description", f"{run_ref}/description", run.description
        if run.run_name:
            yield "run_name", f"{run_ref}/name", run.run_name
        for key, value in run.params.items():
            yield "run_param", f"{run_ref}/params/{key}", f"{key}={value}"
        for key, value in run.tags.items():
            # The run description is the mlflow.note.content tag: report it once, not twice.
            is_note = key == "mlflow.note.content"
            if (not key.startswith("mlflow.") or is_note) and not (
                is_note and value == run.description
            ):
                yield "run_tag", f"{run_ref}/tags/{key}", f"{key}={value}"
        for key in run.metrics:
            yield "metric_name", f"{run_ref}/metrics/{key}", key
    logged = version.logged_model
    if logged is not None:
        model_ref = f"logged_model:{logged.model_id}"
        for key, value in logged.params.items():
            yield "logged_model_param", f"{model_ref}/params/{key}", f"{key}={value}"
        for key, value in logged.tags.items():
            if not key.startswith("mlflow."):
                yield "logged_model_tag", f"{model_ref}/tags/{key}", f"{key}={value}"
        for metric in logged.metrics:
            if metric.dataset_name:
                yield (
                    "dataset_name",
                    f"{model_ref}/metrics/{metric.key}/dataset",
                    metric.dataset_name,
                )
    for dataset in version.datasets:
        inputs = f"{_inputs_ref(version)}/{dataset.name}"
        yield "dataset_name", f"{inputs}/name", dataset.name
        if dataset.source:
            yield "dataset_source", f"{inputs}/source", dataset.source
    yield from _config_texts(version)
    for artifact in version.artifacts:
        yield (
            "text_artifact",
            artifact_ref(version, artifact.owner, artifact.path),
            (artifact.content),
        )
    yield from _table_texts(version)
    for suite in version.safety.values():
        for index, case in enumerate(suite.failing_cases):
            case_ref = safety_case_ref(version, suite.suite, case, index)
            for key, value in case.items():
                if isinstance(value, str) and key not in _SAFETY_OUTPUT_SKIP:
                    yield "safety_response", case_ref, value


def screened_texts(bundle: EvidenceBundle) -> list[ScreenedText]:
    """Every text of the candidate's and the baseline's evidence that the screening reads."""
    texts: list[ScreenedText] = []
    for role, version in (("candidate", bundle.candidate), ("baseline", bundle.baseline)):
        if version is None:
            continue
        for place, ref, text in _version_texts(version):
            texts.append(ScreenedText(place=place, ref=ref, text=text, role=role))
    return texts


def _screen_version(
    bundle: EvidenceBundle,
    version: VersionEvidence,
    verdict: PolicyVerdict | None,
    *,
    is_candidate: bool,
) -> tuple[list[Detection], int, int]:
    detections: list[Detection] = []
    texts = chars = 0
    # A config file's values are screened one by one; its raw text then only adds what the
    # values did not show (comments, keys).
    by_file: dict[str, set[Kind]] = {}
    for place, ref, text in _version_texts(version):
        texts += 1
        chars += len(text)
        found = screen_text(text, place, ref)
        if place == "config_value":
            by_file.setdefault(ref.split("#", 1)[0], set()).update(d.kind for d in found)
        elif place == "text_artifact" and ref in by_file:
            found = [d for d in found if d.kind not in by_file[ref]]
        detections.extend(found)
        approval = next((d for d in found if d.kind == "claims_approval"), None)
        claims = find_contradictions(
            fold_text(text),
            version=version,
            bundle=bundle,
            verdict=verdict,
            where=PLACES[place],
            is_candidate=is_candidate,
            approval_claim=json.loads(approval.matched) if approval is not None else None,
        )
        detections.extend(
            Detection(
                place=place,
                ref=ref,
                kind="false_claim",
                matched=_escape(claim.claim, 120),
                quote=_escape(_excerpt(text, claim.claim)),
                claim=claim,
            )
            for claim in claims
        )
    return detections, texts, chars


_CACHE_SIZE = 32
_cache: OrderedDict[tuple[str, str], Screening] = OrderedDict()
_cache_lock = threading.Lock()
# None: screenings are kept in memory only (the default; a local review chooses a disk cache).
_disk_cache: DiskCache | None = None

#: The form of what the disk cache keeps for a screening; bump it when that form changes.
SCREENING_FORMAT_VERSION = 1


def use_screening_disk_cache(cache: DiskCache | None) -> None:
    """Keep screenings in `cache` too, for later processes, or (None) in memory only.

    For one-shot processes (a local review): a long-running one screens each version once and
    keeps the result in memory.

    Args:
        cache: The on-disk cache, or None to stop using one.
    """
    global _disk_cache  # one per process, as the memory cache; set once at start-up
    _disk_cache = cache


def _screening_sources() -> list[Path]:
    """The sources of what turns evidence and a verdict into a screening: these detectors and
    claims, the evidence model and the pipeline-config parsers whose values are screened."""
    import policies.result
    import tools.evidence
    import tools.pipeline_config

    here = Path(__file__)
    tools_dir = Path(tools.pipeline_config.__file__)
    return [
        here,
        here.with_name("_untrusted_detectors.py"),
        here.with_name("_untrusted_claims.py"),
        Path(tools.evidence.__file__),
        tools_dir,
        *sorted(tools_dir.parent.glob("_config_*.py")),
        Path(policies.result.__file__),
    ]


@functools.cache
def _producer_fingerprint() -> str | None:
    """What turns evidence and a verdict into a screening (`_screening_sources`, pydantic), or
    None when it cannot be told."""
    try:
        versions = {"pydantic": installed_version("pydantic")}
        return producer_fingerprint(SCREENING_FORMAT_VERSION, _screening_sources(), versions)
    except (OSError, PackageNotFoundError) as exc:
        logger.warning("screenings are not kept on disk: %s", exc)
        return None


def _disk_key(key: tuple[str, str]) -> str | None:
    fingerprint = _producer_fingerprint()
    return None if fingerprint is None else content_key(fingerprint, *key).hex()


def _remember(key: tuple[str, str], screening: Screening) -> None:
    with _cache_lock:
        _cache[key] = screening
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)


def screen_bundle(bundle: EvidenceBundle, verdict: PolicyVerdict | None = None) -> Screening:
    """Screen every text of a review's evidence, and check its claims against the evidence.

    The result depends only on the bundle and the verdict, so a review screens once: the
    pipeline before investigating, the investigators and the chat read the same result.

    Args:
        bundle: The candidate's and the baseline's evidence.
        verdict: The policy verdict; claims of passed checks and approvals are checked against
            it (None skips those).
    """
    key = (bundle.digest, verdict.model_dump_json() if verdict is not None else "")
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    disk = _disk_cache
    disk_key = _disk_key(key) if disk is not None else None
    if disk is not None and disk_key is not None:
        kept = disk.get_model(disk_key, Screening)
        if kept is not None:
            _remember(key, kept)
            return kept
    detections, texts, chars = _screen_version(bundle, bundle.candidate, verdict, is_candidate=True)
    if bundle.baseline is not None:
        more, more_texts, more_chars = _screen_version(
            bundle, bundle.baseline, verdict, is_candidate=False
        )
        detections += more
        texts += more_texts
        chars += more_chars
    screening = Screening(detections=detections, texts=texts, chars=chars)
    _remember(key, screening)
    if disk is not None and disk_key is not None:
        disk.put_model(disk_key, screening)
    return screening


def clear_screening_cache() -> None:
    """Forget cached screenings and detector results (benchmarks time first screenings)."""
    with _cache_lock:
        _cache.clear()
    HITS_CACHE.clear()


def scan_bundle(bundle: EvidenceBundle, verdict: PolicyVerdict | None = None) -> list[Finding]:
    """The findings of `screen_bundle`: one per flagged text, one per contradicted claim."""
    return screen_bundle(bundle, verdict).findings()


_ACTION_ORDER: dict[UntrustedTextAction, int] = {"report": 0, "escalate": 1, "block": 2}


def untrusted_text_check(verdict: PolicyVerdict, screening: Screening) -> CheckResult | None:
    """The check the `agent.untrusted_text` hook adds when the screening found something.

    `report` (the default) adds nothing: the findings are reported. `escalate` adds a warning
    check, so a human decides; `block` adds a failing check. Neither can be overridden into an
    approval. Audit-mode policies only report.

    Args:
        verdict: The policy verdict, whose enforcing outcomes carry each policy's action.
        screening: The screening of the same evidence.
    """
    if not screening.flagged:
        return None
    enforcing = [o for o in verdict.outcomes if o.mode == "enforce"]
    action: UntrustedTextAction = max(
        (o.untrusted_text for o in enforcing), key=_ACTION_ORDER.__getitem__, default="report"
    )
    if action == "report":
        return None
    policies = [o.policy.name for o in enforcing if o.untrusted_text == action]
    refs = screening.refs
    kinds = sorted({d.kind for d in screening.detections})
    return CheckResult(
        id="untrusted_text",
        policy=", ".join(policies),
        kind="untrusted_text",
        status="fail" if action == "block" else "warn",
        message=(
            f"{len(refs)} text(s) in the evidence try to steer the review "
            f"({', '.join(kinds)}); agent.untrusted_text: {action}"
        ),
        observed=len(refs),
        threshold=0,
        details={"action": action, "kinds": kinds},
        evidence=refs[:_MAX_MESSAGE_REFS],
        how_to_fix=(
            "remove the planted text from the evidence (descriptions, tags, params, artifacts) "
            "and register the version again; ask whoever wrote it why"
        ),
        overridable=False,
    )


def quote_untrusted(source: str, text: str, *, limit: int = _MAX_QUOTED) -> str:
    """Wrap untrusted text as a JSON string inside a labelled block, so it reads as data.

    JSON-encoding escapes quotes and newlines, so the text cannot close the block or start a
    new message; the label says where it came from.
    """
    clipped = text if len(text) <= limit else text[:limit] + " …[truncated]"
    return f"<untrusted-data source={json.dumps(source)}>{json.dumps(clipped)}</untrusted-data>"
