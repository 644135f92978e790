"""The lean client trusts only a signed answer about exactly what it asked, from the gate itself.

A real signed API (uvicorn on loopback, the session's MLflow server) answers the honest cases. A
lying loopback server stands in its place or in front of it: it redirects, duplicates keys,
answers non-JSON, replays a genuine signed answer for another version, rewrites the request, or
signs with its own key. Every lie is exit 3, and the token never reaches another origin.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from api.answer_signature import NONCE_HEADER, SIGNATURE_HEADER, WELL_KNOWN_KEY_PATH
from api.gate_client import EXIT_BLOCK, EXIT_ERROR, EXIT_OK
from api.signing import AnswerSigner, generate_private_pem

MODEL = "gate-model"
PROMOGATE = str(Path(sys.executable).with_name("promogate"))

Answer = tuple[int, dict[str, str], bytes]


def _run(
    server: str,
    version: str,
    token: str | None,
    *,
    public_key: str | None,
    extra: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOGATE_")}
    if token is not None:
        env["PROMOGATE_TOKEN"] = token
    if public_key is not None:
        env["PROMOGATE_PUBLIC_KEY"] = public_key
    return subprocess.run(
        [PROMOGATE, "gate", "--server", server, MODEL, version, *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


@dataclass
class Liar:
    """A loopback HTTP server whose answers a test scripts; it records every request."""

    answer: Callable[[str, dict[str, str], bytes], Answer]
    seen: list[dict[str, Any]] = field(default_factory=list)


@contextlib.contextmanager
def serve_liar(liar: Liar) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            liar.seen.append({"method": self.command, "path": self.path, "headers": headers})
            status, answer_headers, payload = liar.answer(self.path, headers, body)
            self.send_response(status)
            for name, value in answer_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _handle
        do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _forward(base: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
    """Pass a request on to the real API and return its answer untouched."""
    wanted = ("authorization", "content-type", "idempotency-key", NONCE_HEADER.lower())
    request = urllib.request.Request(
        f"{base}{path}",
        data=body or None,
        headers={k: v for k, v in headers.items() if k in wanted},
        method="POST" if body else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, _kept(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, _kept(exc.headers), exc.read()


def _kept(headers: Any) -> dict[str, str]:
    return {
        k: v for k, v in headers.items() if k.lower() in ("content-type", SIGNATURE_HEADER.lower())
    }


def _gate_body(version: int, *, allowed: bool = True) -> dict[str, Any]:
    return {
        "allowed": allowed,
        "verdict": "approve" if allowed else "block",
        "model": MODEL,
        "version": version,
        "target_alias": "champion",
        "decision_id": "dec-forged",
        "reused": True,
        "evidence_digest": "sha256:" + "0" * 64,
        "reasons": ["forged"],
        "overrides": [],
        "error": None,
    }


JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def signed(signed_live_gate: tuple[Any, str]) -> tuple[Any, str]:
    """The signed API and the public key a deploy pipeline is given."""
    live, pem = signed_live_gate
    return live, AnswerSigner.from_text(pem).public_base64()


def test_the_well_known_route_and_the_command_publish_the_same_key(
    signed: tuple[Any, str], tmp_path: Path
) -> None:
    live, public_key = signed
    with urllib.request.urlopen(f"{live.url}{WELL_KNOWN_KEY_PATH}", timeout=30) as response:
        document = json.loads(response.read())
    assert document["algorithm"] == "Ed25519"
    assert document["public_key"] == public_key
    key_file = tmp_path / "signing.pem"
    key_file.write_text(live.settings.signing_key.get_secret_value())
    printed = subprocess.run(
        [PROMOGATE, "key", "public", "--signing-key-file", str(key_file)],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("PROMOGATE_")},
    )
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == public_key


def test_key_generate_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    out = tmp_path / "new.pem"
    result = subprocess.run(
        [PROMOGATE, "key", "generate", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert out.stat().st_mode & 0o077 == 0
    assert AnswerSigner.from_text(out.read_text()).public_base64() == result.stdout.strip()
    assert "PRIVATE KEY" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("version", "code", "line"),
    [("2", EXIT_OK, "allow approve gate-model v2 @champion"), ("3", EXIT_BLOCK, "deny block")],
    ids=["approve", "block"],
)
def test_a_signed_answer_from_the_gate_is_trusted(
    signed: tuple[Any, str], version: str, code: int, line: str
) -> None:
    live, public_key = signed
    result = _run(live.url, version, live.tokens["deployer"], public_key=public_key)
    assert result.returncode == code, result.stdout + result.stderr
    assert line in result.stdout


def test_a_server_without_a_signing_key_is_not_trusted(live_gate: Any) -> None:
    public_key = AnswerSigner.from_text(generate_private_pem()).public_base64()
    result = _run(live_gate.url, "2", live_gate.tokens["deployer"], public_key=public_key)
    assert result.returncode == EXIT_ERROR
    assert "not signed" in result.stdout


def test_a_redirect_is_never_followed_and_the_token_stays_home(live_gate: Any) -> None:
    # Today's defect: the client followed the 302 (the POST became a GET), took the other
    # origin's answer as the gate's and sent it the bearer token.
    elsewhere = Liar(lambda path, headers, body: (200, JSON, json.dumps(_gate_body(2)).encode()))
    with serve_liar(elsewhere) as other:
        redirect = Liar(lambda path, headers, body: (302, {"Location": f"{other}/v1/gate"}, b""))
        with serve_liar(redirect) as url:
            result = _run(url, "2", live_gate.tokens["deployer"], public_key=None)
    assert result.returncode == EXIT_ERROR, result.stdout
    assert "redirect" in result.stdout
    assert elsewhere.seen == []


@pytest.mark.parametrize(
    ("content_type", "payload"),
    [
        ("application/json", b'{"allowed": false, "allowed": true}'),
        (
            "application/json",
            json.dumps(_gate_body(2))[:-1].encode() + b', "allowed": true, "verdict": "approve"}',
        ),
        ("text/html", b"<html>allowed: true</html>"),
        ("text/plain", json.dumps(_gate_body(2)).encode()),
        ("application/json", b'["allowed", true]'),
        ("application/json", b'{"allowed": true, "version": NaN}'),
    ],
    ids=[
        "duplicate-allowed",
        "duplicate-after-full-answer",
        "html",
        "json-as-text",
        "array",
        "nan",
    ],
)
def test_unparsable_or_ambiguous_answers_deny_without_a_key(
    content_type: str, payload: bytes
) -> None:
    liar = Liar(lambda path, headers, body: (200, {"Content-Type": content_type}, payload))
    with serve_liar(liar) as url:
        result = _run(url, "2", "pgt_x", public_key=None)
    assert result.returncode == EXIT_ERROR, result.stdout
    assert result.stdout.startswith("deny gate-model v2: ")


def test_an_answer_about_another_version_is_refused_even_unsigned() -> None:
    liar = Liar(lambda path, headers, body: (200, JSON, json.dumps(_gate_body(2)).encode()))
    with serve_liar(liar) as url:
        result = _run(url, "3", "pgt_x", public_key=None)
    assert result.returncode == EXIT_ERROR
    assert "version 2, not 3" in result.stdout


def test_lies_about_a_signed_gate_are_exit_3(signed: tuple[Any, str]) -> None:
    live, public_key = signed
    token = live.tokens["deployer"]
    # A genuine signed approval of v2, captured by someone who sits on the path.
    genuine_request = json.dumps({"model": MODEL, "version": 2}).encode()
    nonce = secrets.token_urlsafe(24)
    genuine = _forward(
        live.url,
        "/v1/gate",
        {
            "authorization": f"Bearer {token}",
            "content-type": "application/json",
            NONCE_HEADER.lower(): nonce,
        },
        genuine_request,
    )
    assert genuine[0] == 200 and json.loads(genuine[2])["allowed"] is True
    assert SIGNATURE_HEADER.lower() in {k.lower() for k in genuine[1]}

    def replay(path: str, headers: dict[str, str], body: bytes) -> Answer:
        return genuine

    def rewrite_to_v2(path: str, headers: dict[str, str], body: bytes) -> Answer:
        asked = json.loads(body)
        asked["version"] = 2
        return _forward(live.url, path, headers, json.dumps(asked).encode())

    def rewrite_and_relabel(path: str, headers: dict[str, str], body: bytes) -> Answer:
        status, answer_headers, payload = rewrite_to_v2(path, headers, body)
        answer = json.loads(payload)
        answer["version"] = 3
        return status, answer_headers, json.dumps(answer).encode()

    forger = AnswerSigner.from_text(generate_private_pem())

    def wrong_key(path: str, headers: dict[str, str], body: bytes) -> Answer:
        payload = json.dumps(_gate_body(3)).encode()
        signature = forger.sign(
            200,
            "POST",
            path,
            headers.get(NONCE_HEADER.lower(), ""),
            hashlib.sha256(body).hexdigest(),
            payload,
        )
        return 200, {**JSON, SIGNATURE_HEADER: signature}, payload

    def unsigned(path: str, headers: dict[str, str], body: bytes) -> Answer:
        return 200, JSON, json.dumps(_gate_body(3)).encode()

    def duplicate_keys(path: str, headers: dict[str, str], body: bytes) -> Answer:
        status, answer_headers, payload = _forward(live.url, path, headers, body)
        return status, answer_headers, payload[:-1] + b',"allowed":true}'

    def redirect(path: str, headers: dict[str, str], body: bytes) -> Answer:
        return 307, {"Location": f"{live.url}/v1/gate"}, b""

    lies = {
        "replayed-answer-for-another-version": replay,
        "request-rewritten-to-another-version": rewrite_to_v2,
        "rewritten-and-relabelled": rewrite_and_relabel,
        "signed-with-the-wrong-key": wrong_key,
        "unsigned": unsigned,
        "duplicate-keys-after-the-signature": duplicate_keys,
        "redirect-to-the-real-gate": redirect,
    }
    outcomes: dict[str, tuple[int, str]] = {}
    for name, answer in lies.items():
        with serve_liar(Liar(answer)) as url:
            result = _run(url, "3", token, public_key=public_key)
        outcomes[name] = (result.returncode, result.stdout.strip())
    assert {name: code for name, (code, _) in outcomes.items()} == dict.fromkeys(
        lies, EXIT_ERROR
    ), outcomes
    assert "signed with key" in outcomes["signed-with-the-wrong-key"][1]
    assert "not signed" in outcomes["unsigned"][1]
