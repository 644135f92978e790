"""Liveness and readiness probes.

Without a token they reveal nothing but up or down; a caller with a valid token (any role) also
gets each dependency's detail, with every credential redacted.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi import APIRouter, Request, Response

from api.auth import authenticate_header
from api.dependencies import AppState, State
from api.errors import ApiError, JobQueueUnavailableError
from api.schemas import CheckReadiness, Health, Readiness
from ledger.errors import LedgerError
from tools.client import call_mlflow
from tools.errors import ToolError
from tools.redaction import redact

__all__ = ["router"]

logger = logging.getLogger("promogate.api")

router = APIRouter(tags=["health"])

_PROBE_TIMEOUT_S = 3.0


@router.get("/healthz", response_model=Health, summary="Liveness")
def healthz() -> Health:
    """The process answers."""
    return Health()


def _mlflow_ready(state: AppState) -> CheckReadiness:
    uri = state.settings.tracking_uri
    if uri.startswith(("http://", "https://")):
        url = f"{uri.rstrip('/')}/health"
        client = state.probe_http()
        try:
            # An MLflow slower than the reviews' own HTTP timeout is not ready for them either.
            timeout = min(_PROBE_TIMEOUT_S, state.settings.mlflow_http_timeout_s)
            response = client.get(url, timeout=timeout)
        except httpx.HTTPError as exc:
            return CheckReadiness(ok=False, detail=f"MLflow at {uri!r} is unreachable: {exc!r}")
        except RuntimeError:
            # httpx refuses a client closed under the probe: the app stopped meanwhile.
            if not client.is_closed:
                raise
            return CheckReadiness(ok=False, detail="the process is stopping")
        if response.status_code != 200:
            return CheckReadiness(
                ok=False, detail=f"MLflow at {uri!r} answered {response.status_code} on /health"
            )
        return CheckReadiness(ok=True, detail=f"MLflow at {uri!r} answers")
    try:
        call_mlflow(
            lambda: state.reviews.client.search_experiments(max_results=1),
            "search_experiments(max_results=1)",
            attempts=1,
        )
    except ToolError as exc:
        return CheckReadiness(ok=False, detail=str(exc))
    return CheckReadiness(ok=True, detail="MLflow tracking store answers")


def _ledger_ready(state: AppState) -> CheckReadiness:
    try:
        state.ledger.ping()
    except LedgerError as exc:
        return CheckReadiness(ok=False, detail=str(exc))
    return CheckReadiness(ok=True, detail=f"ledger database {state.ledger.url!r} answers")


def _warmed_up(state: AppState) -> CheckReadiness:
    if state.warming_up:
        return CheckReadiness(
            ok=False,
            detail="warming up: the ledger, the MLflow client and the model-file readers are "
            "being prepared for the first review",
        )
    return CheckReadiness(ok=True, detail="warmed up")


def _jobs_ready(state: AppState) -> CheckReadiness:
    try:
        state.jobs.check()
    except JobQueueUnavailableError as exc:
        return CheckReadiness(ok=False, detail=f"job queue ({state.jobs.backend}): {exc}")
    return CheckReadiness(ok=True, detail=f"job queue ({state.jobs.backend}) answers")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness",
    responses={
        503: {
            "model": Readiness,
            "description": "MLflow, the ledger or the job queue is unreachable, or the process "
            "is still warming up.",
        }
    },
)
def readyz(state: State, request: Request, response: Response) -> Readiness:
    """Ready when MLflow, the ledger database and the job queue all answer and the process has
    warmed up (a gate sent before would wait for the warm-up); 503 otherwise.

    Each dependency's detail is given only to a caller with a valid bearer token.
    """
    probes = {"mlflow": _mlflow_ready, "ledger": _ledger_ready, "jobs": _jobs_ready}
    with ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="promogate-probe") as pool:
        futures = {name: pool.submit(probe, state) for name, probe in probes.items()}
        checks = {name: future.result() for name, future in futures.items()}
    checks["warm_up"] = _warmed_up(state)
    checks = {name: CheckReadiness(ok=c.ok, detail=redact(c.detail)) for name, c in checks.items()}
    ready = all(c.ok for c in checks.values())
    if not ready:
        response.status_code = 503
        logger.warning(
            "not ready: %s", "; ".join(f"{n}: {c.detail}" for n, c in checks.items() if not c.ok)
        )
    if not _may_see_details(state, request):
        return Readiness(ready=ready)
    return Readiness(ready=ready, checks=checks)


def _may_see_details(state: AppState, request: Request) -> bool:
    header = request.headers.get("authorization")
    if header is None:
        return False
    try:
        authenticate_header(header, state.ledger.tokens, allow_anonymous=False)
    except (ApiError, LedgerError):
        return False
    return True
