"""What signed answers cost: Ed25519 signing and verification per answer, the signing middleware's
overhead per request, and the lean client's start-up with a public key, each beside the unsigned
peer it replaces.

    uv run python -m benchmarks.answer_signing [--operations 2000] [--requests 2000] [--runs 15]

- **sign / verify**: `AnswerSigner.sign` and `verify_answer` on a typical gate answer (about 600
  bytes) and request;
- **answers**: `GET /v1/...` of one small JSON answer through the ASGI stack (httpx's ASGI
  transport, no network), with and without `SigningMiddleware`;
- **client start**: a fresh interpreter that imports the lean client, with and without loading a
  public key (which imports ``cryptography``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from typing import Final

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from api.answer_signature import public_key_from_text, request_digest, verify_answer
from api.signing import AnswerSigner, SigningMiddleware, generate_private_pem

__all__ = ["SigningRow", "main", "measure_signing"]

_ANSWER: Final = {
    "allowed": True,
    "verdict": "approve",
    "model": "credit-risk",
    "version": 7,
    "target_alias": "champion",
    "decision_id": "0f" * 16,
    "reused": True,
    "evidence_digest": "sha256:" + "e" * 64,
    "reasons": ["approve: every check of credit-risk-prod@3 passes"] * 4,
    "overrides": [],
    "error": None,
}


class SigningRow(BaseModel):
    """One measurement beside its unsigned peer."""

    what: str
    signed: float
    unsigned: float
    unit: str

    @property
    def ratio(self) -> float:
        return self.signed / self.unsigned if self.unsigned else float("nan")


def _per_op_us(operation: object, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        operation()  # type: ignore[operator]
    return (time.perf_counter() - started) / count * 1e6


def _app(signer: AnswerSigner | None) -> FastAPI:
    app = FastAPI()
    body = json.dumps(_ANSWER)

    @app.get("/v1/answer")
    def answer() -> dict[str, object]:
        return json.loads(body)  # type: ignore[no-any-return]

    if signer is not None:
        app.add_middleware(SigningMiddleware, signer=signer)
    return app


async def _requests_ms(app: FastAPI, count: int) -> float:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(50):
            await client.get("/v1/answer")
        started = time.perf_counter()
        for _ in range(count):
            response = await client.get("/v1/answer", headers={"Promogate-Nonce": "n" * 32})
            response.raise_for_status()
        return (time.perf_counter() - started) / count * 1000.0


def _start_ms(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(times)


def measure_signing(operations: int, requests: int, runs: int) -> list[SigningRow]:
    """Measure every row.

    Args:
        operations: Sign and verify operations to time.
        requests: ASGI requests per variant.
        runs: Interpreter starts per variant (median).
    """
    signer = AnswerSigner.from_text(generate_private_pem())
    key = public_key_from_text(signer.public_base64())
    body = json.dumps(_ANSWER).encode()
    request = json.dumps({"model": "credit-risk", "version": 7}).encode()
    nonce = "n" * 32
    header = signer.sign(200, "POST", "/v1/gate", nonce, request_digest(request), body)

    def sign() -> None:
        signer.sign(200, "POST", "/v1/gate", nonce, request_digest(request), body)

    def verify() -> None:
        verify_answer(
            key,
            header,
            status=200,
            method="POST",
            path="/v1/gate",
            nonce=nonce,
            request=request,
            body=body,
        )

    def parse() -> None:
        json.loads(body)

    parse_us = _per_op_us(parse, operations)
    rows = [
        SigningRow(
            what="sign one answer",
            signed=_per_op_us(sign, operations),
            unsigned=parse_us,
            unit="µs (peer: json.loads of the answer)",
        ),
        SigningRow(
            what="verify one answer",
            signed=_per_op_us(verify, operations),
            unsigned=parse_us,
            unit="µs (peer: json.loads of the answer)",
        ),
    ]
    signed_ms = asyncio.run(_requests_ms(_app(signer), requests))
    unsigned_ms = asyncio.run(_requests_ms(_app(None), requests))
    rows.append(
        SigningRow(
            what="answer through the ASGI stack",
            signed=signed_ms,
            unsigned=unsigned_ms,
            unit="ms per request",
        )
    )
    public = signer.public_base64()
    with_key = _start_ms(
        f"from api.gate_client import load_public_key; load_public_key({public!r})", runs
    )
    without_key = _start_ms("import api.gate_client", runs)
    rows.append(
        SigningRow(
            what="lean client start (import, load key)",
            signed=with_key,
            unsigned=without_key,
            unit="ms, median",
        )
    )
    return rows


def render_table(rows: list[SigningRow]) -> str:
    lines = [
        "| what | signed | unsigned peer | ratio | unit |",
        "|---|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r.what} | {r.signed:.1f} | {r.unsigned:.1f} | {r.ratio:.2f} | {r.unit} |" for r in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--operations", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    print(render_table(measure_signing(args.operations, args.requests, args.runs)))


if __name__ == "__main__":
    main()
