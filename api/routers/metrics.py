"""Prometheus metrics of this API process."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.dependencies import State
from api.metrics import CONTENT_TYPE_LATEST

__all__ = ["router"]

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(state: State) -> Response:
    """Reviews by verdict, gate answers, latency histograms and errors by kind (text format)."""
    return Response(content=state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
