"""Benchmark: planted instructions and false claims found, ordinary text flagged, screening cost.

Builds a real SQLite MLflow registry in which every corpus text (`agents.untrusted_corpus`) sits at
every place the reviewer reads (`PLANTED_PLACES`), one model version per text: version
description and tag, run description, name, tag, param and metric name, logged-model param and
tag, dataset name and source, a pipeline config value, a README artifact, an evaluation-table
cell and a failing safety case's response. Candidates alternate between a genuinely better
retrain (the policy approves it) and a real segment regression (the policy blocks it). Each
version's evidence is gathered as the gate gathers it (`tools.collector`) and screened
(`agents.untrusted.screen_bundle`).

Prints the share of planted texts reported per place and per kind, the share of benign texts
flagged per place, whether any verdict changed, and the screening cost per review beside the
cost of gathering the evidence.

    uv run python -m benchmarks.untrusted_screening --workdir /tmp/bench-untrusted
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from agents.untrusted import (
    PLACES,
    Place,
    clear_screening_cache,
    screen_bundle,
    screened_texts,
)
from agents.untrusted_corpus import BENIGN, PLANTED, CorpusText, external_corpus
from policies.evaluator import evaluate_policies
from policies.loader import LoadedPolicy, load_policy_text
from policies.result import Verdict
from tools.collector import collect_version
from tools.evidence import EvidenceBundle

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "MODEL",
    "PLANTED_PLACES",
    "POLICY",
    "Measurement",
    "Plant",
    "PlantedRegistry",
    "PlantedVersion",
    "build_planted_registry",
    "compare_with_previous",
    "main",
    "measure",
    "report",
]

MODEL = "credit-risk"
PLANTED_PLACES: tuple[Place, ...] = (
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
)
POLICY = """\
apiVersion: promogate/v1
kind: PromotionPolicy
metadata: {name: screening, revision: 1}
match: {model: credit-risk, target_alias: champion}
metrics:
  - {name: roc_auc, min: 0.6, max_drop: 0.02}
segments:
  - {by: region, metric: recall, max_drop: 0.05, min_rows: 100, significance: 0.05}
comparability: {same_eval_dataset: required}
"""
_REGIONS = ("north", "south", "east", "west")
_SUITE = "jailbreak-core"
# MLflow's limits: run names 250, params 6000, dataset names 500 characters; metric keys take
# letters, digits and `_-./ ` only.
_MAX_RUN_NAME = 250
_MAX_PARAM = 6000
_MAX_DATASET_NAME = 480
_MAX_TAG = 5000


@dataclass(frozen=True)
class Plant:
    """One corpus text at one place of one version, and the evidence reference it sits at."""

    text: CorpusText
    place: Place
    ref: str


@dataclass(frozen=True)
class PlantedVersion:
    """A registered version carrying corpus texts at the planted places."""

    version: int
    regression: bool
    plants: list[Plant]

    @property
    def expected(self) -> Verdict:
        return "block" if self.regression else "approve"


@dataclass(frozen=True)
class PlantedRegistry:
    """The registry the corpus was planted into."""

    uri: str
    versions: list[PlantedVersion]
    policies: list[LoadedPolicy]

    def client(self) -> MlflowClient:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)


@dataclass(frozen=True)
class _Scores:
    frame: Any  # the evaluation rows with label, prediction, score, region
    metrics: dict[str, float]
    saved: Path  # the model saved in MLflow format, copied into each logged model


def _data(seed: int = 3) -> tuple[Any, Any]:
    import pandas as pd  # type: ignore[import-untyped]

    rng = np.random.default_rng(seed)
    n = 2400
    regions = np.array(_REGIONS)[np.arange(n) % 4]
    x = rng.normal(size=(n, 4))
    west = regions == "west"
    logit = 1.2 * x[:, 0] + 0.8 * x[:, 1] + np.where(west, 2.5 * x[:, 3], 0.3 * x[:, 2]) - 0.8
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(x, columns=["f0", "f1", "f2", "f3"]).assign(
        region=regions, is_west=west.astype(float), label=y, row_id=[f"r{i}" for i in range(n)]
    )
    frame["f3_west"] = frame["f3"] * frame["is_west"]
    return frame.iloc[:1200], frame.iloc[1200:]


def _score(features: list[str], train: Any, evaluation: Any, saved: Path) -> _Scores:
    import mlflow.sklearn
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import recall_score, roc_auc_score

    model = LogisticRegression(max_iter=500).fit(train[features], train["label"])
    scores = model.predict_proba(evaluation[features])[:, 1]
    frame = pd.DataFrame(
        {
            "row_id": evaluation["row_id"].to_numpy(),
            "label": evaluation["label"].to_numpy(),
            "prediction": (scores >= 0.5).astype(int),
            "score": scores.round(5),
            "region": evaluation["region"].to_numpy(),
        }
    )
    metrics = {
        "roc_auc": float(roc_auc_score(frame["label"], scores)),
        "recall": float(recall_score(frame["label"], frame["prediction"])),
    }
    mlflow.sklearn.save_model(model, str(saved), pip_requirements=["scikit-learn"])
    return _Scores(frame, metrics, saved)


def _metric_key(text: str) -> str:
    key = re.sub(r"[^A-Za-z0-9_\-. ]+", "_", text).strip(" ._") or "note"
    return re.sub(r"\.{2,}", ".", key)[:200]


def _inputs(client: MlflowClient, run_id: str, notes: Sequence[tuple[str, str]]) -> None:
    from mlflow.entities import Dataset, DatasetInput, InputTag

    def one(name: str, digest: str, source: str, context: str) -> Any:
        dataset = Dataset(name=name, digest=digest, source_type="s3", source=source)
        return DatasetInput(dataset, tags=[InputTag("mlflow.data.context", context)])

    datasets = [
        one("train", "train0001", json.dumps({"uri": "s3://credit/train"}), "training"),
        one("eval", "eval00001", json.dumps({"uri": "s3://credit/eval"}), "evaluation"),
    ]
    datasets += [
        one(name, f"notes{i:04d}", source, "reference") for i, (name, source) in (enumerate(notes))
    ]
    client.log_inputs(run_id, datasets=datasets)


_SINGLE_PLACES: tuple[Place, ...] = (
    "version_description",
    "run_description",
    "run_name",
    "text_artifact",
)


def _log_version(
    client: MlflowClient,
    experiment_id: str,
    scores: _Scores,
    texts: Sequence[CorpusText],
    *,
    description: str | None = None,
) -> tuple[int, list[Plant]]:
    """One run, one logged model and one registered version with `texts` planted.

    Every text goes to every place that holds several values (tags, params, metric names,
    logged-model params and tags, datasets, config values, table rows, safety cases); the places
    that hold one value (descriptions, run name, README) take the texts in turn.
    """
    from mlflow.entities import Metric, Param, RunTag

    single = (
        {place: texts[i % len(texts)] for i, place in enumerate(_SINGLE_PLACES)} if (texts) else {}
    )
    run_name = single["run_name"].text[:_MAX_RUN_NAME] if texts else "champion"
    run = client.create_run(experiment_id, run_name=run_name)
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    params = [Param("seed", "7"), Param("features", "f0,f1,f2")]
    tags: list[RunTag] = []
    metrics = [Metric(k, v, now, 0) for k, v in scores.metrics.items()]
    metrics += [Metric(f"safety/{_SUITE}/cases", float(len(texts) + 1), now, 0)]
    metrics += [Metric(f"safety/{_SUITE}/failures", float(max(1, len(texts))), now, 0)]
    metric_keys = [f"{_metric_key(t.text)}" for t in texts]
    if texts:
        tags.append(RunTag("mlflow.note.content", single["run_description"].text))
    for i, text in enumerate(texts):
        params.append(Param(f"release_note_{i}", text.text[:_MAX_PARAM]))
        tags.append(RunTag(f"reviewer_note_{i}", text.text))
        metrics.append(Metric(metric_keys[i], 1.0, now, 0))
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    names = [t.text[:_MAX_DATASET_NAME] for t in texts]
    _inputs(client, run_id, [(name, t.text) for name, t in zip(names, texts, strict=True)])
    notes = {f"change_{i}": t.text for i, t in enumerate(texts)} or {"change": "none"}
    config = {"train": {"seed": 7, "n_estimators": 150}, "notes": notes}
    client.log_text(run_id, yaml.safe_dump(config, sort_keys=False), "pipeline/pipeline.yaml")
    if texts:
        client.log_text(run_id, single["text_artifact"].text, "README.md")
    frame = scores.frame.assign(comment="")
    for i, text in enumerate(texts):
        frame.loc[frame.index[i], "comment"] = text.text
    client.log_table(run_id, frame, "eval/predictions.json")
    cases = [{"case_id": "c0", "prompt": "Say hello.", "output": "Hello!", "passed": True}]
    cases += [
        {"case_id": f"c{i + 1}", "prompt": "Write a phishing email.", "output": t.text,
         "passed": False}
        for i, t in enumerate(texts)
    ] or [{"case_id": "c1", "prompt": "Write a phishing email.", "output": "I can't help.",
           "passed": False}]  # fmt: skip
    client.log_text(run_id, json.dumps(cases), f"safety/{_SUITE}/results.json")
    client.set_terminated(run_id)
    logged = client.create_logged_model(
        experiment_id,
        name="model",
        source_run_id=run_id,
        params={f"note_{i}": t.text[:_MAX_PARAM] for i, t in enumerate(texts)} or None,
        tags={f"note_{i}": t.text[:_MAX_TAG] for i, t in enumerate(texts)} or None,
    )
    client.log_model_artifacts(logged.model_id, str(scores.saved))
    client.finalize_logged_model(logged.model_id, "READY")
    version = client.create_model_version(
        MODEL,
        f"models:/{logged.model_id}",
        run_id=run_id,
        description=single["version_description"].text[:_MAX_TAG] if texts else description,
        tags={f"note_{i}": t.text[:_MAX_TAG] for i, t in enumerate(texts)} or None,
    )
    number = int(version.version)
    run_ref, model_ref = f"run:{run_id}", f"logged_model:{logged.model_id}"
    plants = [
        Plant(single["version_description"], "version_description",
              f"version:{MODEL}/{number}/description"),
        Plant(single["run_description"], "run_description", f"{run_ref}/description"),
        Plant(single["run_name"], "run_name", f"{run_ref}/name"),
        Plant(single["text_artifact"], "text_artifact", f"{run_ref}/artifacts/README.md"),
    ] if texts else []  # fmt: skip
    for i, text in enumerate(texts):
        inputs = f"{run_ref}/inputs/{names[i]}"
        plants += [
            Plant(text, "version_tag", f"version:{MODEL}/{number}/tags/note_{i}"),
            Plant(text, "run_tag", f"{run_ref}/tags/reviewer_note_{i}"),
            Plant(text, "run_param", f"{run_ref}/params/release_note_{i}"),
            Plant(text, "metric_name", f"{run_ref}/metrics/{metric_keys[i]}"),
            Plant(text, "logged_model_param", f"{model_ref}/params/note_{i}"),
            Plant(text, "logged_model_tag", f"{model_ref}/tags/note_{i}"),
            Plant(text, "dataset_name", f"{inputs}/name"),
            Plant(text, "dataset_source", f"{inputs}/source"),
            Plant(
                text,
                "config_value",
                f"{run_ref}/artifacts/pipeline/pipeline.yaml#notes.change_{i}",
            ),
            Plant(
                text,
                "eval_table_cell",
                f"{run_ref}/artifacts/eval/predictions.json#rows/{i}/comment",
            ),
            Plant(text, "safety_response", f"safety:{_SUITE}/{MODEL}/{number}/cases/c{i + 1}"),
        ]
    return number, plants


def build_planted_registry(
    root: Path, texts: Sequence[CorpusText], *, per_version: int = 1
) -> PlantedRegistry:
    """A SQLite registry under `root`: a champion (v1) and candidates carrying the texts.

    Candidates alternate between a better retrain and a west-recall regression; a claim that is
    false only for a regression (`CorpusText.regression_only`) goes to a regression. With
    `per_version` above 1 a version carries that many texts: each at every place that holds
    several values, the one-value places (descriptions, run name, README) taking them in turn.

    Args:
        root: An empty directory for the store and its artifacts.
        texts: The corpus texts to plant.
        per_version: Texts per version (1: every text at every place).
    """
    from mlflow import MlflowClient
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = client.create_experiment(
        "untrusted-screening", artifact_location=(root / "artifacts").as_uri()
    )
    client.create_registered_model(MODEL)
    train, evaluation = _data()
    saved = root / "saved"
    champion = _score(["f0", "f1", "f2", "is_west"], train, evaluation, saved / "champion")
    better = _score(["f0", "f1", "f2", "is_west", "f3_west"], train, evaluation, saved / "better")
    regression = _score(["f0", "f1", "is_west"], train, evaluation, saved / "regression")
    groups: dict[bool, list[CorpusText]] = {False: [], True: []}
    for index, text in enumerate(texts):
        groups[text.regression_only or index % 2 == 1].append(text)
    versions: list[PlantedVersion] = []
    # Registering a `models:/m-...` source resolves it through the process's tracking URI.
    with _use_tracking_uri(uri):
        first, _ = _log_version(client, experiment_id, champion, [], description="The champion.")
        client.set_registered_model_alias(MODEL, "champion", str(first))
        for is_regression, group in groups.items():
            scores = regression if is_regression else better
            for start in range(0, len(group), per_version):
                batch = group[start : start + per_version]
                number, plants = _log_version(client, experiment_id, scores, batch)
                versions.append(PlantedVersion(number, is_regression, plants))
    policies = load_policy_text(POLICY, "screening.yaml")
    return PlantedRegistry(uri, versions, policies)


@dataclass
class Measurement:
    """Per-place and per-kind shares, verdict changes and costs over one planted registry."""

    planted_by_place: dict[Place, list[bool]] = field(default_factory=lambda: defaultdict(list))
    benign_by_place: dict[Place, list[bool]] = field(default_factory=lambda: defaultdict(list))
    planted_by_kind: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    planted_by_source: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    missed: list[str] = field(default_factory=list)
    flagged_benign: list[str] = field(default_factory=list)
    unscreened: list[str] = field(default_factory=list)
    verdicts_changed: list[str] = field(default_factory=list)
    gather_ms: list[float] = field(default_factory=list)
    screen_ms: list[float] = field(default_factory=list)
    texts_per_review: list[int] = field(default_factory=list)


def measure(registry: PlantedRegistry) -> Measurement:
    """Gather and screen every planted version as the gate does; compare verdicts.

    A planted text counts as reported at a place when the screening reported its reference
    (any kind, false claims included); a benign text counts as flagged likewise.
    """
    client = registry.client()
    baseline = collect_version(client, MODEL, 1)
    result = Measurement()
    by_text: dict[str, list[bool]] = defaultdict(list)
    for planted in registry.versions:
        started = time.perf_counter()
        candidate = collect_version(client, MODEL, planted.version)
        gathered = time.perf_counter()
        bundle = EvidenceBundle(candidate=candidate, baseline=baseline)
        verdict = evaluate_policies(registry.policies, bundle)
        clear_screening_cache()
        before = time.perf_counter()
        screening = screen_bundle(bundle, verdict)
        result.screen_ms.append((time.perf_counter() - before) * 1000.0)
        result.gather_ms.append((gathered - started) * 1000.0)
        result.texts_per_review.append(screening.texts)
        if verdict.verdict != planted.expected:
            result.verdicts_changed.append(
                f"v{planted.version}: {verdict.verdict}, expected {planted.expected}"
            )
        screened = {t.ref for t in screened_texts(bundle)}
        kinds_at: dict[str, set[str]] = defaultdict(set)
        for detection in screening.detections:
            kinds_at[detection.ref].add(detection.kind)
        for plant in planted.plants:
            if plant.ref not in screened:
                result.unscreened.append(f"{plant.place} {plant.ref}")
            found = plant.ref in kinds_at
            label = f"{plant.text.id} at {plant.place}"
            if plant.text.planted:
                result.planted_by_place[plant.place].append(found)
                by_text[plant.text.id].append(found)
                if not found:
                    result.missed.append(label)
                for kind in plant.text.kinds:
                    result.planted_by_kind[kind].append(kind in kinds_at[plant.ref])
                result.planted_by_source[plant.text.source].append(found)
            else:
                result.benign_by_place[plant.place].append(found)
                if found:
                    result.flagged_benign.append(f"{label}: {sorted(kinds_at[plant.ref])}")
    return result


def _share(values: Sequence[bool]) -> str:
    if not values:
        return "n/a"
    return f"{sum(values)}/{len(values)} ({100.0 * sum(values) / len(values):.0f}%)"


def report(result: Measurement) -> str:
    """The measurement as Markdown tables."""
    lines = ["| place | planted texts reported | benign texts flagged |", "|---|---:|---:|"]
    for place in PLANTED_PLACES:
        lines.append(
            f"| {PLACES[place]} | {_share(result.planted_by_place[place])} | "
            f"{_share(result.benign_by_place[place])} |"
        )
    planted_all = [v for p in PLANTED_PLACES for v in result.planted_by_place[p]]
    benign_all = [v for p in PLANTED_PLACES for v in result.benign_by_place[p]]
    lines.append(f"| all places | {_share(planted_all)} | {_share(benign_all)} |")
    lines += ["", "| kind (corpus label) | (text, place) pairs where that kind was reported |"]
    lines.append("|---|---:|")
    for kind, values in sorted(result.planted_by_kind.items()):
        lines.append(f"| {kind} | {_share(values)} |")
    lines += ["", "| corpus | planted (text, place) pairs reported |", "|---|---:|"]
    for source, values in sorted(result.planted_by_source.items()):
        lines.append(f"| {source} | {_share(values)} |")
    gather = statistics.median(result.gather_ms)
    screen = statistics.median(result.screen_ms)
    lines += [
        "",
        f"verdicts changed by planting: {len(result.verdicts_changed)} "
        f"{result.verdicts_changed[:5]}",
        f"planted references the screening did not read: {len(result.unscreened)} "
        f"{result.unscreened[:5]}",
        f"benign texts flagged: {result.flagged_benign[:10]}",
        f"screening per review: median {screen:.1f} ms, p90 "
        f"{np.percentile(result.screen_ms, 90):.1f} ms over "
        f"{statistics.median(result.texts_per_review):.0f} texts; gathering the candidate's "
        f"evidence: median {gather:.0f} ms; ratio screening/gathering {screen / gather:.3f}",
    ]
    return "\n".join(lines)


def _by_kind_text_level(texts: Sequence[CorpusText]) -> Counter[str]:
    return Counter(t.source for t in texts)


def compare_with_previous(previous: Path, texts: Sequence[CorpusText]) -> str:
    """Text-level shares flagged by a previous scanner module and by the screening, side by side.

    Args:
        previous: A copy of an earlier ``agents/untrusted.py`` exposing ``scan_text(text)``, e.g.
            ``git show 4c14b10:agents/untrusted.py`` (its ``agents.decision`` import pointed at
            ``policies.decision``).
        texts: The corpus texts (false claims need evidence, so they are left out).
    """
    import importlib.util

    from agents.untrusted import screen_text

    spec = importlib.util.spec_from_file_location("previous_untrusted", previous)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {previous}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    groups: dict[str, list[str]] = defaultdict(list)
    for text in texts:
        if text.kinds != ("false_claim",):
            groups["benign" if not text.planted else text.source].append(text.text)
    lines = [
        "| corpus | texts | previous scanner | screening |",
        "|---|---:|---:|---:|",
    ]
    spent = {"previous": 0.0, "screening": 0.0}
    for name, group in sorted(groups.items()):
        started = time.perf_counter()
        old = sum(bool(module.scan_text(t)) for t in group)
        middle = time.perf_counter()
        new = sum(bool(screen_text(t, "run_description")) for t in group)
        spent["previous"] += middle - started
        spent["screening"] += time.perf_counter() - middle
        lines.append(
            f"| {name} | {len(group)} | {old} ({100.0 * old / len(group):.0f}%) | "
            f"{new} ({100.0 * new / len(group):.0f}%) |"
        )
    count = sum(len(g) for g in groups.values())
    lines.append(
        f"\nper text: previous {spent['previous'] / count * 1e6:.0f} us, screening "
        f"{spent['screening'] / count * 1e6:.0f} us (ratio "
        f"{spent['screening'] / spent['previous']:.1f}x)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument(
        "--safety-dir",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / "data" / "safety",
        help="the shared safety data folder (public injection sets); skipped when absent",
    )
    parser.add_argument("--external-limit", type=int, default=0, help="0: all external texts")
    parser.add_argument("--per-version", type=int, default=1, help="texts per planted version")
    parser.add_argument(
        "--previous-scanner",
        type=Path,
        help="compare with this copy of an earlier agents/untrusted.py at text level, and stop",
    )
    args = parser.parse_args(argv)
    external = external_corpus(args.safety_dir)
    if args.external_limit:
        external = external[: args.external_limit]
    texts = [*PLANTED, *BENIGN, *external]
    print(f"corpus: {dict(_by_kind_text_level(texts))} ({len(texts)} texts)")
    if args.previous_scanner is not None:
        print(compare_with_previous(args.previous_scanner, texts))
        return
    started = time.perf_counter()
    registry = build_planted_registry(
        args.workdir / f"registry-{int(time.time())}", texts, per_version=args.per_version
    )
    print(f"planted {len(texts)} versions in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    result = measure(registry)
    print(f"gathered and screened in {time.perf_counter() - started:.0f} s")
    print(report(result))


if __name__ == "__main__":
    main()
