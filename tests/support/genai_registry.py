"""A real MLflow registry of GenAI apps evaluated with plain ``mlflow.genai.evaluate``.

Built once per test session (``genai_registry`` fixture in tests/conftest.py). Scorers are code
(``@scorer``): no LLM judge, no network. Each app is a logged pyfunc model whose versions are
registered from the run that evaluated them:

- ``support-bot``: evaluated with a ``predict_fn``. v1 (``@champion``) answers 9 of 12
  questions right, v2 11, v3 only 5 (a regression that must block).
- ``faq-bot``: evaluated on precomputed ``outputs`` (so the logged dataset's digest differs per
  version). v1 (``@champion``) answers 9 right, v2 11.
- ``help-bot``: logged in one run and evaluated afterwards, outside it
  (``mlflow.genai.evaluate(..., model_id=...)`` starts a run of its own); the version's source
  run holds no evaluation. v1 (``@champion``) answers 9 right, v2 11.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "FAQ_BOT",
    "HELP_BOT",
    "QUESTIONS",
    "SUPPORT_BOT",
    "GenaiRegistry",
    "build_genai_registry",
]

SUPPORT_BOT = "support-bot"
FAQ_BOT = "faq-bot"
HELP_BOT = "help-bot"
QUESTIONS: dict[str, str] = {f"What is the capital of country {i}?": f"City {i}" for i in range(12)}
# How many questions (in order) each version gets wrong.
WRONG: dict[tuple[str, int], int] = {
    (SUPPORT_BOT, 1): 3,
    (SUPPORT_BOT, 2): 1,
    (SUPPORT_BOT, 3): 7,
    (FAQ_BOT, 1): 3,
    (FAQ_BOT, 2): 1,
    (HELP_BOT, 1): 3,
    (HELP_BOT, 2): 1,
}


@dataclass
class GenaiRegistry:
    """Where the store lives and what each version's evaluation reported."""

    root: Path
    tracking_uri: str
    run_ids: dict[tuple[str, int], str] = field(default_factory=dict)
    metrics: dict[tuple[str, int], dict[str, float]] = field(default_factory=dict)


def _answer(wrong: int, question: str) -> str:
    index = list(QUESTIONS).index(question)
    return "I am not sure." if index < wrong else QUESTIONS[question]


def build_genai_registry(root: Path) -> GenaiRegistry:
    """Log, evaluate and register every app version into a fresh SQLite store under `root`."""
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with _use_tracking_uri(f"sqlite:///{root / 'mlflow.db'}"):
        return _log(root)


def _log(root: Path) -> GenaiRegistry:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow
    import pandas as pd  # type: ignore[import-untyped]
    from mlflow import MlflowClient
    from mlflow.genai.scorers import scorer

    @scorer  # type: ignore[misc]
    def exact_match(outputs: str, expectations: dict[str, Any]) -> bool:
        return bool(outputs == expectations["expected_response"])

    @scorer  # type: ignore[misc]
    def concise(outputs: str) -> bool:
        return len(outputs) <= 40

    @scorer  # type: ignore[misc]
    def word_overlap(outputs: str, expectations: dict[str, Any]) -> float:
        want = set(expectations["expected_response"].lower().split())
        return len(want & set(outputs.lower().split())) / len(want)

    scorers = [exact_match, concise, word_overlap]
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    experiment = mlflow.create_experiment("genai-apps", artifact_location=str(root / "artifacts"))
    registry = GenaiRegistry(root=root, tracking_uri=uri)
    questions = list(QUESTIONS)
    for (name, version), wrong in WRONG.items():
        data: dict[str, list[Any]] = {
            "inputs": [{"question": q} for q in questions],
            "expectations": [{"expected_response": QUESTIONS[q]} for q in questions],
        }
        if name == HELP_BOT:
            with mlflow.start_run(experiment_id=experiment):
                info = mlflow.pyfunc.log_model(
                    name="app", python_model=_app(wrong), pip_requirements=["mlflow"]
                )
            mlflow.set_experiment(experiment_id=experiment)
            result = mlflow.genai.evaluate(
                data=pd.DataFrame(data),
                predict_fn=_predict_fn(wrong),
                scorers=scorers,
                model_id=info.model_id,
            )
            registry.run_ids[(name, version)] = result.run_id
            registry.metrics[(name, version)] = {k: float(v) for k, v in result.metrics.items()}
            mv = mlflow.register_model(info.model_uri, name)
            if version == 1:
                client.set_registered_model_alias(name, "champion", mv.version)
            continue
        with mlflow.start_run(experiment_id=experiment) as run:
            info = mlflow.pyfunc.log_model(
                name="app",
                python_model=_app(wrong),
                pip_requirements=["mlflow"],
            )
            if name == SUPPORT_BOT:
                result = mlflow.genai.evaluate(
                    data=pd.DataFrame(data),
                    predict_fn=_predict_fn(wrong),
                    scorers=scorers,
                    model_id=info.model_id,
                )
            else:
                data["outputs"] = [_answer(wrong, q) for q in questions]
                result = mlflow.genai.evaluate(
                    data=pd.DataFrame(data), scorers=scorers, model_id=info.model_id
                )
        registry.run_ids[(name, version)] = run.info.run_id
        registry.metrics[(name, version)] = {k: float(v) for k, v in result.metrics.items()}
        mv = mlflow.register_model(info.model_uri, name)
        if version == 1:
            client.set_registered_model_alias(name, "champion", mv.version)
    return registry


def _predict_fn(wrong: int) -> Any:
    # Only the dataset's input fields as arguments: tracing records every argument as input.
    def predict(question: str) -> str:
        return _answer(wrong, question)

    return predict


def _app(wrong: int) -> Any:
    """Stand-in for an LLM app: answers from a fixed table, wrong on the first `wrong` ones."""
    import mlflow

    class App(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        def __init__(self, wrong: int) -> None:
            self.wrong = wrong

        # A hint MLflow infers no schema from: without one, MLflow warns from inside its own
        # "once" filter, which no filter of ours reaches.
        def predict(self, context: Any, model_input: pd.DataFrame) -> list[str]:
            return [_answer(self.wrong, q) for q in model_input["question"]]

    return App(wrong)
