"""Session-wide test configuration: environment, shared data and service locations."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# MLflow sends usage telemetry by default; nothing outside this machine answers.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
# Models logged in tests must not carry the project's own uv.lock and pyproject.toml.
os.environ.setdefault("MLFLOW_LOG_UV_FILES", "false")
# The front doors keep model-file importances under ~/.cache by default; tests that want a disk
# cache turn one on in a temporary directory, so no test answers from another's (or the user's).
os.environ.setdefault("PROMOGATE_DISK_CACHE", "false")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def own_interpreter() -> Callable[[str], str]:
    """Run Python code (dedented) in an interpreter of its own from the project's root, for
    what is process-wide (the garbage collector, MLflow's registries); returns its stdout,
    stripped, and fails the test with its stderr when it exits with an error."""

    def run(code: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout.strip()

    return run


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--live",
        action="store_true",
        default=False,
        help="Run the tests/agents LLM scenarios against the endpoint named by OPENAI_API_KEY "
        "/ OPENAI_BASE_URL (model: PROMOGATE_TEST_LLM, default gpt-4o-mini).",
    )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public data folder beside the project; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server from PROMOGATE_TEST_POSTGRES_URL; skips when unset or down."""
    url = os.environ.get("PROMOGATE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PROMOGATE_TEST_POSTGRES_URL is not set; PostgreSQL tests need a real server")
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
    except sqlalchemy.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL at PROMOGATE_TEST_POSTGRES_URL is not reachable: {exc}")
    finally:
        engine.dispose()
    yield url


@dataclass(frozen=True)
class DemoBuild:
    """The shared demo build, with what tests/demo/test_demo_registry.py checks about the build."""

    registry: Any
    progress: list[str]
    tracking_uri_before: str
    tracking_uri_after: str


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> DemoBuild:
    """The demo registry built once (about half a minute on two cores), with its progress messages
    and the process's tracking URI before and after the build."""
    import mlflow

    from scenarios.demo_registry import build_demo_registry

    progress: list[str] = []
    before = mlflow.get_tracking_uri()
    registry = build_demo_registry(
        tmp_path_factory.mktemp("demo-registry"), progress=progress.append
    )
    return DemoBuild(registry, progress, before, mlflow.get_tracking_uri())


@pytest.fixture(scope="session")
def demo_registry(demo_build: DemoBuild) -> Any:
    """The demo registry (real models, real defects), built once per run."""
    return demo_build.registry


@pytest.fixture(scope="session")
def security_registry(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A registry of clean, signed and payload-carrying versions for the security checks."""
    from support.model_artifacts import build_security_registry

    return build_security_registry(tmp_path_factory.mktemp("security-registry"))


@pytest.fixture(scope="session")
def team_registry(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Models logged the ways teams log them (see tests/support/team_registry.py), built once."""
    from support.team_registry import build_team_registry

    return build_team_registry(tmp_path_factory.mktemp("team-registry"))


@pytest.fixture(scope="session")
def genai_registry(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """GenAI apps evaluated with plain mlflow.genai.evaluate (tests/support/genai_registry.py)."""
    from support.genai_registry import build_genai_registry

    return build_genai_registry(tmp_path_factory.mktemp("genai-registry"))


@pytest.fixture(scope="session")
def reviewer_depth_registry(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A churn model's champion and candidates whose labels, positive class, metric averaging or
    decision threshold changed, and harmless retrains (benchmarks/reviewer_depth_comparability.py),
    built once."""
    from benchmarks.reviewer_depth_comparability import build_scenarios

    return build_scenarios(tmp_path_factory.mktemp("reviewer-depth"))


@pytest.fixture(scope="session")
def importance_reader() -> Iterator[Any]:
    """A real model-file reader process (`tools.importance_process`), started once per session:
    its child imports skops and scikit-learn, about 3 s."""
    from tools.importance_process import ImportanceProcess

    process = ImportanceProcess(timeout_s=120.0)
    process.start()
    yield process
    process.close()


@pytest.fixture(scope="session")
def plausibility_registry(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Good-news scenarios (leakage, more data, seeds, a pickled model), built once per session."""
    from scenarios.plausibility_registry import build_plausibility_registry

    return build_plausibility_registry(tmp_path_factory.mktemp("plausibility-registry"))


def _logged_models(build: Callable[[Path], Any], directory: Path) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        # log_model otherwise inspects this checkout's uv project for seconds per model.
        patch.setenv("MLFLOW_UV_AUTO_DETECT", "false")
        patch.setenv("MLFLOW_LOG_UV_FILES", "false")
        return build(directory)


@pytest.fixture(scope="session")
def watch_models(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Two real scikit-learn versions for the post-promotion watch, logged once per session."""
    from support.watch_scenario import build_watch_models

    return _logged_models(build_watch_models, tmp_path_factory.mktemp("watch-models"))


@pytest.fixture(scope="session")
def delivery_models(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Two real delivery-time regressors for the post-promotion watch, logged once per session."""
    from support.regression_watch import build_delivery_models

    return _logged_models(build_delivery_models, tmp_path_factory.mktemp("delivery-models"))
