"""Reviews: create one (now, or as a job), read it, list a model's reviews."""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from api.dependencies import IdempotencyKey, Reviewer, State, Viewer
from api.errors import ApiError, NotFoundApiError
from api.idempotency import idempotent
from api.jobs import JobStatus, ReviewJob
from api.schemas import ModelName, Review, ReviewList, ReviewRequest, problem_responses
from ledger.errors import RecordNotFoundError

__all__ = ["router"]

logger = logging.getLogger("promogate.api")

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])

ReviewId = Annotated[
    str,
    Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$", description="Review id."),
]


def _json(review: Review, status_code: int, *, location: bool = False) -> Response:
    headers = {"Location": f"/v1/reviews/{review.review_id}"} if location else None
    return Response(
        content=review.model_dump_json(),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def _job(body: ReviewRequest, requested_by: str | None) -> ReviewJob:
    return ReviewJob(
        review_id=uuid.uuid4().hex,
        model=body.model,
        ref=str(body.version),
        target_alias=body.target_alias,
        baseline_alias=body.baseline_alias,
        requested_by=requested_by,
    )


@router.post(
    "",
    status_code=201,
    response_model=Review,
    summary="Review a model version",
    responses={
        202: {"model": Review, "description": "Queued (wait=false) or still running: poll it."},
        **problem_responses(400, 401, 403, 404, 409, 413, 422, 429, 503),
    },
)
def create_review(
    body: ReviewRequest,
    state: State,
    caller: Reviewer,
    idempotency_key: IdempotencyKey = None,
    wait: Annotated[
        bool, Query(description="Answer with the decision (201); false queues a job (202).")
    ] = True,
) -> Response:
    """Review `model` at `version` against the champion and record the decision.

    With `wait=true` the answer is the decision (201); a review that outlasts the server's deadline
    is answered 202 and keeps running. With `wait=false` the review is queued as a job (202): poll
    `GET /v1/reviews/{review_id}`.
    """

    def handle() -> Response:
        job = _job(body, None if caller.anonymous else caller.name)
        if not wait:
            state.jobs.submit(job)
            state.metrics.jobs.labels(backend=state.jobs.backend).inc()
            return _json(Review(review_id=job.review_id, state="queued"), 202, location=True)
        state.local_jobs.submit(job)
        try:
            status = state.local_jobs.wait(job.review_id, timeout=state.settings.request_deadline_s)
        except FutureTimeoutError:
            state.metrics.record_error("deadline_exceeded")
            return _json(Review(review_id=job.review_id, state="running"), 202, location=True)
        try:
            review = _read(state, job.review_id)
        except RecordNotFoundError:
            # The review never resolved a version, so nothing was recorded (see ReviewService).
            raise NotFoundApiError(
                f"model {body.model!r} at {body.version!r} could not be resolved in the registry; "
                "nothing was recorded (check the model name, version or alias)"
            ) from None
        if review.decision is None:
            detail = status.detail if status is not None else "the review ended without a decision"
            raise ApiError(f"review {job.review_id!r} failed: {detail}", kind="job_failed")
        return _json(review, 201, location=True)

    return idempotent(
        state.ledger.idempotency,
        idempotency_key,
        caller=caller,
        method="POST",
        path=f"/v1/reviews?wait={str(wait).lower()}",
        body=body.model_dump_json(),
        handle=handle,
        wait_seconds=state.settings.request_deadline_s,
    )


def _from_job(status: JobStatus) -> Review:
    return Review(review_id=status.review_id, state=status.state, detail=status.detail)


def _read(state: State, review_id: str) -> Review:
    try:
        decision = state.ledger.get_decision(review_id)
    except RecordNotFoundError:
        pass
    else:
        return Review(review_id=review_id, state="completed", decision=decision)
    for queue in (state.local_jobs, state.jobs):
        status = queue.status(review_id)
        if status is not None:
            if status.state == "completed":
                # Finished between the two reads; the decision is in the ledger now.
                return Review(
                    review_id=review_id,
                    state="completed",
                    decision=state.ledger.get_decision(review_id),
                )
            return _from_job(status)
    raise NotFoundApiError(f"no review with id {review_id!r}")


@router.get(
    "/{review_id}",
    response_model=Review,
    summary="Read a review",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def get_review(review_id: ReviewId, state: State, caller: Viewer) -> Response:
    """The review's state, and its decision once completed."""
    del caller
    # A recorded decision never changes: its JSON is kept, and a repeated read is served from
    # memory without a database round trip or a thread hop.
    body = state.decisions.get(review_id)
    if body is None:
        body = await run_in_threadpool(_read_json, state, review_id)
    return Response(content=body, media_type="application/json")


def _read_json(state: State, review_id: str) -> bytes:
    review = _read(state, review_id)
    body = review.model_dump_json().encode()
    if review.state == "completed":
        state.decisions.put(review_id, body)
    return body


@router.get(
    "",
    response_model=ReviewList,
    summary="List reviews",
    responses=problem_responses(401, 403, 422, 503),
)
def list_reviews(
    state: State,
    caller: Viewer,
    model: Annotated[ModelName | None, Query(description="Only this registered model.")] = None,
    version: Annotated[
        int | None, Query(ge=1, le=2_147_483_647, description="Only this version.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 50,
) -> Response:
    """Completed reviews (decisions), newest first."""
    del caller
    decisions = state.ledger.list_decisions(model=model, version=version, limit=limit)
    listed = ReviewList(
        reviews=[Review(review_id=d.id, state="completed", decision=d) for d in decisions]
    )
    # Serialised once here; returning the model would have it validated and serialised again.
    return Response(content=listed.model_dump_json(), media_type="application/json")
