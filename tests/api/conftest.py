"""Fixtures of the API tests: a small real registry, a real `mlflow server`, apps and tokens.

The registry (`gate-model`, four real scikit-learn versions) is built once per session in a SQLite
store; one `mlflow server --workers 1` serves it for the whole session. Every test gets its own
SQLite ledger, so tests never see each other's decisions, tokens or idempotency keys.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.services import build_review_service
from api.settings import Settings
from benchmarks._events_stack import EventsStack
from benchmarks._mlflow_server import FaultProxy, MlflowServer, free_port
from ledger.store import Ledger
from ledger.tokens import ROLES, Role

MODEL = "gate-model"
POLICY_NAME = "gate-test"
#: How long a test app may take to warm up (it imports the model-file readers once a process).
_WARM_UP_S = 120.0
# v1 champion; v2 as good (approve); v3 much worse AUC (overridable fail); v4 too slow (a check
# the policy marks never-overridable). A second policy covers promotions to @canary and forbids
# agent approval, so a clean candidate escalates there.
POLICY_YAML = textwrap.dedent(
    f"""\
    apiVersion: promogate/v1
    kind: PromotionPolicy
    metadata: {{name: {POLICY_NAME}, revision: 1, owners: [ml-platform]}}
    match: {{model: {MODEL}}}
    mode: enforce
    on_error: block
    baseline: {{alias: champion, on_missing: warn}}
    metrics:
      - {{name: roc_auc, min: 0.6, max_drop: 0.02}}
      - {{name: latency_ms, max: 100, lower_is_better: true}}
    comparability: {{same_eval_dataset: "off", train_eval_overlap: "off"}}
    agent: {{may_approve: true, may_block: true}}
    overrides:
      approvers: [release-lead, root]
      never: [metrics.latency_ms]
      expires_hours: 48
    """
)
CANARY_POLICY_YAML = textwrap.dedent(
    f"""\
    apiVersion: promogate/v1
    kind: PromotionPolicy
    metadata: {{name: gate-canary, revision: 3}}
    match: {{model: {MODEL}, target_alias: canary}}
    metrics:
      - {{name: roc_auc, min: 0.6}}
    agent: {{may_approve: false}}
    """
)


@dataclass(frozen=True)
class GateRegistry:
    """The session's registry: where it lives and what each version is for."""

    root: Path
    tracking_uri: str
    policies_dir: Path
    model: str = MODEL
    approve: int = 2
    overridable_block: int = 3
    never_overridable_block: int = 4
    roc_auc: dict[int, float] = field(default_factory=dict)


def _create_store(root: Path) -> tuple[str, str]:
    """An empty MLflow SQLite store (tables created) with the test experiment and model."""
    import mlflow

    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = client.create_experiment(
        "gate-tests", artifact_location=(root / "artifacts").as_uri()
    )
    client.create_registered_model(MODEL)
    return uri, str(experiment_id)


def _log_versions(root: Path, uri: str, experiment_id: str) -> GateRegistry:
    import mlflow
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    features, labels = make_classification(
        n_samples=800, n_features=8, n_informative=5, n_redundant=1, random_state=7
    )
    train_x, eval_x = features[:500], features[500:]
    train_y, eval_y = labels[:500], labels[500:]
    # (columns used, C, latency in ms): v3 sees one uninformative column, v4 is slow.
    recipes = [
        (list(range(8)), 1.0, 40.0),
        (list(range(8)), 0.9, 42.0),
        ([7], 1.0, 45.0),
        (list(range(8)), 0.8, 480.0),
    ]
    aucs: dict[int, float] = {}
    with _use_tracking_uri(uri):
        for number, (columns, c, latency) in enumerate(recipes, start=1):
            model = LogisticRegression(C=c, max_iter=500).fit(train_x[:, columns], train_y)
            auc = float(roc_auc_score(eval_y, model.predict_proba(eval_x[:, columns])[:, 1]))
            with mlflow.start_run(experiment_id=experiment_id, run_name=f"v{number}") as run:
                mlflow.log_params({"C": c, "columns": ",".join(map(str, columns)), "seed": 7})
                mlflow.log_metrics({"roc_auc": auc, "latency_ms": latency})
                info = mlflow.sklearn.log_model(
                    model, name="model", pip_requirements=["scikit-learn"]
                )
            mv = client.create_model_version(MODEL, info.model_uri, run_id=run.info.run_id)
            assert int(mv.version) == number
            aucs[number] = auc
    client.set_registered_model_alias(MODEL, "champion", "1")
    policies = root / "policies"
    policies.mkdir()
    (policies / "gate-test.yaml").write_text(POLICY_YAML)
    (policies / "gate-canary.yaml").write_text(CANARY_POLICY_YAML)
    assert aucs[1] - aucs[3] > 0.05, f"v3 must be clearly worse: {aucs!r}"
    assert abs(aucs[1] - aucs[2]) < 0.02, f"v2 must be as good as v1: {aucs!r}"
    return GateRegistry(root=root, tracking_uri=uri, policies_dir=policies, roc_auc=aucs)


@pytest.fixture(scope="session")
def _registry_and_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[GateRegistry, MlflowServer]]:
    root = tmp_path_factory.mktemp("gate-registry")
    uri, experiment_id = _create_store(root)
    server = MlflowServer(
        uri,
        root / "served-artifacts",
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        log_path=root / "mlflow-server.log",
    )
    # The server takes 10-40 s to boot; train and log the versions meanwhile.
    server.launch()
    try:
        with pytest.MonkeyPatch.context() as patch:
            # log_model otherwise inspects this checkout's uv project for seconds per model.
            patch.setenv("MLFLOW_UV_AUTO_DETECT", "false")
            patch.setenv("MLFLOW_LOG_UV_FILES", "false")
            registry = _log_versions(root, uri, experiment_id)
        server.wait_ready()
        yield registry, server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def gate_registry(_registry_and_server: tuple[GateRegistry, MlflowServer]) -> GateRegistry:
    """Four real versions of `gate-model` in a SQLite MLflow store, with v1 as champion."""
    return _registry_and_server[0]


@pytest.fixture(scope="session")
def mlflow_server(_registry_and_server: tuple[GateRegistry, MlflowServer]) -> MlflowServer:
    """A real `mlflow server --workers 1` serving the session's registry on loopback."""
    return _registry_and_server[1]


@pytest.fixture
def mlflow_proxy(mlflow_server: MlflowServer) -> Iterator[FaultProxy]:
    """A loopback proxy in front of the session's MLflow server; tests switch it to faults."""
    with FaultProxy(mlflow_server.port) as proxy:
        yield proxy


def api_settings(
    registry: GateRegistry, tracking_uri: str, ledger_url: str, **extra: Any
) -> Settings:
    """Settings of a test app: short MLflow timeouts, no MLflow-level retries."""
    values: dict[str, Any] = {
        "tracking_uri": tracking_uri,
        "ledger_url": ledger_url,
        "policies_dir": registry.policies_dir,
        "mlflow_http_timeout_s": 5.0,
        "mlflow_http_retries": 0,
        "evidence_timeout_s": 15.0,
        "request_deadline_s": 30.0,
        **extra,
    }
    return Settings(**values)


@dataclass
class ApiHarness:
    """A running test app, its ledger, and a token per role."""

    client: TestClient
    settings: Settings
    ledger: Ledger
    tokens: dict[str, str]

    def headers(self, role: Role | str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}", **extra}

    def settle(self) -> None:
        """Wait for what follows the gate answers given so far (tags, fingerprints)."""
        app: Any = self.client.app
        app.state.promogate.gate.drain()


AppFactory = Callable[..., ApiHarness]


class _Apps:
    """Builds test apps and closes them at the end of the fixture's scope."""

    def __init__(self, registry: GateRegistry, server: MlflowServer, directory: Path) -> None:
        self.registry = registry
        self.server = server
        self.directory = directory
        self.clients: list[TestClient] = []
        self.ledgers: list[Ledger] = []

    def __call__(
        self,
        *,
        tracking_uri: str | None = None,
        ledger_url: str | None = None,
        ledger: Ledger | None = None,
        with_tokens: bool = True,
        **extra: Any,
    ) -> ApiHarness:
        url = ledger_url or f"sqlite:///{self.directory / f'ledger-{secrets.token_hex(4)}.db'}"
        settings = api_settings(self.registry, tracking_uri or self.server.url, url, **extra)
        store = ledger if ledger is not None else Ledger(url)
        tokens: dict[str, str] = {}
        if with_tokens:
            for role in ROLES:
                tokens[role] = store.tokens.create_token(role, role)[1]
            tokens["release-lead"] = store.tokens.create_token("release-lead", "approver")[1]
            tokens["intern"] = store.tokens.create_token("intern", "approver")[1]
        service = build_review_service(settings, ledger=store)
        client = TestClient(create_app(settings, service=service), raise_server_exceptions=False)
        client.__enter__()
        # As an orchestrator waits for readiness: a test's first request finds the app warm,
        # and /readyz reports on its dependencies alone.
        app: Any = client.app
        assert app.state.promogate.wait_until_warm(_WARM_UP_S), "the app did not warm up"
        self.clients.append(client)
        self.ledgers.append(store)
        return ApiHarness(client=client, settings=settings, ledger=store, tokens=tokens)

    def close(self) -> None:
        for client in self.clients:
            client.__exit__(None, None, None)
        for ledger in self.ledgers:
            ledger.close()


@pytest.fixture
def make_api(
    gate_registry: GateRegistry, mlflow_server: MlflowServer, tmp_path: Path
) -> Iterator[AppFactory]:
    """Build test apps: `make_api(tracking_uri=..., ledger_url=..., **settings)`.

    Each app gets a token per role (named after the role) plus `release-lead` (an approver the
    test policy lists) and `intern` (an approver it does not list).
    """
    apps = _Apps(gate_registry, mlflow_server, tmp_path)
    yield apps
    apps.close()


@pytest.fixture
def api(make_api: AppFactory) -> ApiHarness:
    """A test app on the session's MLflow server with a fresh SQLite ledger."""
    return make_api()


@pytest.fixture(scope="module")
def shared_api(
    gate_registry: GateRegistry,
    mlflow_server: MlflowServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApiHarness]:
    """One test app for a whole module, for tests that only read or add independent records."""
    apps = _Apps(gate_registry, mlflow_server, tmp_path_factory.mktemp("shared-api"))
    yield apps()
    apps.close()


@dataclass
class LiveApi:
    """An app served by uvicorn on a loopback port, for clients that speak real HTTP."""

    url: str
    settings: Settings
    ledger: Ledger
    tokens: dict[str, str]


@contextlib.contextmanager
def _uvicorn_thread(config: Any, sockets: list[socket.socket] | None = None) -> Iterator[Any]:
    """Run uvicorn with `config` in a thread (on `sockets` when given, as a worker process of
    ``uvicorn --workers N`` does); yields the started `uvicorn.Server` and stops it after."""
    import uvicorn

    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": sockets}, name="uvicorn-test", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30.0
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=30.0)


@pytest.fixture(scope="session")
def uvicorn_thread() -> Callable[..., contextlib.AbstractContextManager[Any]]:
    """`_uvicorn_thread`, for tests that need the server object or sockets of their own."""
    return _uvicorn_thread


@contextlib.contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread on a free loopback port; yields its base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    with _uvicorn_thread(config):
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def _live_api(
    registry: GateRegistry, tracking_uri: str, ledger_url: str, *, tokens: bool = True, **extra: Any
) -> Iterator[LiveApi]:
    settings = api_settings(registry, tracking_uri, ledger_url, **extra)
    store = Ledger(ledger_url)
    secrets_by_role = (
        {role: store.tokens.create_token(role, role)[1] for role in ROLES} if tokens else {}
    )
    app = create_app(settings, service=build_review_service(settings, ledger=store))
    try:
        with serve_app(app) as url:
            yield LiveApi(url=url, settings=settings, ledger=store, tokens=secrets_by_role)
    finally:
        store.close()


@pytest.fixture(scope="module")
def live_gate(
    gate_registry: GateRegistry,
    mlflow_server: MlflowServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveApi]:
    """The API on a loopback port (uvicorn), on the session's MLflow server and a SQLite ledger."""
    ledger_url = f"sqlite:///{tmp_path_factory.mktemp('live-gate') / 'ledger.db'}"
    with _live_api(gate_registry, mlflow_server.url, ledger_url) as live:
        yield live


@pytest.fixture
def make_live_api(
    gate_registry: GateRegistry, mlflow_server: MlflowServer
) -> Callable[..., contextlib.AbstractContextManager[LiveApi]]:
    """`make_live_api(ledger_url, tokens=True, tracking_uri=None, **settings)` serves an app."""

    def factory(
        ledger_url: str, *, tokens: bool = True, tracking_uri: str | None = None, **extra: Any
    ) -> contextlib.AbstractContextManager[LiveApi]:
        return _live_api(
            gate_registry, tracking_uri or mlflow_server.url, ledger_url, tokens=tokens, **extra
        )

    return factory


@pytest.fixture(scope="module")
def signed_live_gate(
    gate_registry: GateRegistry,
    mlflow_server: MlflowServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveApi, str]]:
    """The API with an Ed25519 signing key on a loopback port, and the key's private PEM."""
    from api.signing import generate_private_pem

    pem = generate_private_pem()
    ledger_url = f"sqlite:///{tmp_path_factory.mktemp('signed-gate') / 'ledger.db'}"
    with _live_api(gate_registry, mlflow_server.url, ledger_url, signing_key=pem) as live:
        yield live, pem


# The policies of the MLflow-events stack: a guarded and an audited model family for the alias
# guard (the watch scenario's `watched-*` family is added for the watch's event hook).
_GUARD_POLICY = """\
    apiVersion: promogate/v1
    kind: PromotionPolicy
    metadata: {{name: {name}, revision: 1}}
    match: {{model: "{name}-*"}}
    metrics:
      - {{name: roc_auc, min: 0.7}}
    comparability: {{same_eval_dataset: "off", train_eval_overlap: "off"}}
    guard: {{mode: {mode}}}
    """
EVENTS_POLICIES = {
    f"{name}.yaml": _GUARD_POLICY.format(name=name, mode=mode)
    for name, mode in (("guarded", "enforce"), ("audited", "audit"))
}


@pytest.fixture(scope="session")
def events_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventsStack]:
    """A real `mlflow server` (webhooks on) delivering to a real `promogate serve`, on loopback,
    with promogate's webhook installed by `promogate mlflow install-webhook`; started once per
    test run."""
    from support.watch_scenario import watch_policy

    root = tmp_path_factory.mktemp("events-stack")
    policies = root / "policies"
    policies.mkdir()
    for name, text in EVENTS_POLICIES.items():
        (policies / name).write_text(textwrap.dedent(text))
    (policies / "watched.yaml").write_text(watch_policy())
    with EventsStack(root, policies) as running:
        yield running


@pytest.fixture(scope="session")
def events_client(events_stack: EventsStack) -> Any:
    """An MLflow client of the events stack's server (changes go through its REST API)."""
    import mlflow

    url = events_stack.mlflow.url
    return mlflow.MlflowClient(tracking_uri=url, registry_uri=url)


@pytest.fixture(scope="session")
def events_experiment_id(events_client: Any, events_stack: EventsStack) -> str:
    return str(
        events_client.create_experiment(
            "events-e2e", artifact_location=(events_stack.workdir / "runs").as_uri()
        )
    )


@pytest.fixture(scope="session")
def events_ledger(events_stack: EventsStack) -> Iterator[Ledger]:
    """The ledger `promogate serve` of the events stack writes."""
    with Ledger(events_stack.ledger_url) as store:
        yield store
