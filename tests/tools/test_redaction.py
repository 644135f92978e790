"""`redact` tries each pattern only where a cheaper test says it may match; the answer must be the
one every pattern applied to the whole text gives."""

from __future__ import annotations

import json
import logging

import pytest

from tools import redaction
from tools.redaction import MASK, install_log_redaction, redact


def _every_pattern(text: str) -> str:
    """Each of the module's patterns applied to the whole text, with no test before it."""
    if not text:
        return text
    head_at = f"{MASK}@"
    out = redaction._USERINFO_WITH_PASSWORD.sub(lambda m: f"{m.group('head')}{head_at}", text)
    out = redaction._USERINFO_TOKEN.sub(lambda m: f"{m.group('head')}{head_at}", out)
    out = redaction._SECRET_PARAM.sub(redaction._mask_param, out)
    out = redaction._AUTHORIZATION.sub(lambda m: f"{m.group('head')}{MASK}", out)
    return redaction._TOKEN_SHAPES.sub(MASK, out)


_DECISION_LIKE = json.dumps(
    {
        "model": "credit-risk",
        "ref": "credit-risk@champion",
        "evidence_digest": "3f2a9c0d1e",
        "checks": [
            {"id": "metrics.roc_auc", "message": "evidence digest 3f2a9c0d1e4b unchanged"},
            {"id": "security.signature", "message": "signature verified; 12 prompt_tokens"},
        ],
        "artifact_uri": "file:///srv/mlruns/1/abc/artifacts",
    }
)

CASES = [
    ("empty", ""),
    ("plain", "metric roc_auc dropped by 0.05 (key: roc_auc)"),
    ("userinfo", "postgresql+psycopg://u:hunter2x@db/ledger"),
    ("at-before-scheme", "owner@example.org wrote http://host/x"),
    ("at-after-scheme", "see http://host/x then mail owner@example.org"),
    ("token-userinfo", "https://abcdefghijklmnopqrstuvwx@host/"),
    ("query", "https://proxy/v1/chat?api_key=abc123def&x=1"),
    ("query-upper", "https://proxy/v1/chat?API_KEY=abc123def&x=1"),
    ("conninfo-mixed-case", "host=db PassWord=hunter2x dbname=ledger"),
    ("json-key", '{"token": "t0k3n-value"}'),
    ("json-key-upper", '{"TOKEN": "t0k3n-value"}'),
    ("presigned", "https://bucket/x?X-Amz-Signature=deadbeef99"),
    ("bearer", "Authorization: Bearer pgt_Zk3l0e9_abcdefghij"),
    ("bearer-upper", "AUTHORIZATION: BEARER abc.def-123456"),
    ("basic-lower", "authorization: basic dXNlcjpwYXNz1=="),
    ("digest-word", "the evidence digest 3f2a9c0d1e4b is unchanged"),
    ("token-shapes", "key sk-abcdefghijkl and ghp_abcdefghijkl and github_pat_abcdefgh_1"),
    ("token-shape-in-word", "task-abcdefghijkl and mask-12345678x"),
    ("non-ascii-name", "pa\u017f\u017fword=hunter2x and \u212aey=1"),
    ("non-ascii-text", "mod\u00e8le: token=s3cr3t, Bearer abc.def-123456"),
    ("non-ascii-dotless", "ap\u0131_key=abc123def"),
    ("already-redacted", "postgresql://u:***@db/ledger password=***"),
    ("decision-like", _DECISION_LIKE),
]


@pytest.mark.parametrize("text", [text for _, text in CASES], ids=[name for name, _ in CASES])
def test_redact_answers_as_every_pattern_applied_to_the_whole_text(text: str) -> None:
    assert redact(text) == _every_pattern(text)
    assert redact(redact(text)) == redact(text)


def test_uvicorn_s_access_lines_format_with_their_arguments_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from uvicorn.logging import AccessFormatter

    kept = logging.getLogRecordFactory()
    monkeypatch.setattr(redaction, "_installed", False)
    try:
        install_log_redaction()
        access = logging.getLogger("uvicorn.access").makeRecord(
            "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
            ("127.0.0.1:5", "GET", "/v1/reviews?token=s3cret-value&x=1", "1.1", 401), None,
        )  # fmt: skip
        other = logging.getLogger("promogate.api").makeRecord(
            "promogate.api", logging.INFO, __file__, 1, "reading %s", ("http://u:pw@h/x",), None
        )
    finally:
        logging.setLogRecordFactory(kept)
    formatter = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', False)
    assert formatter.format(access) == (
        '127.0.0.1:5 - "GET /v1/reviews?token=***&x=1 HTTP/1.1" 401 Unauthorized'
    )
    # Every other record is formatted once, redacted, and keeps no arguments.
    assert (other.msg, other.args) == ("reading http://u:***@h/x", None)
