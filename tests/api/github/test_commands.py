"""Parsing `/promogate` commands and promotion request files (untrusted text, never evaluated)."""

from __future__ import annotations

import pytest

from api.github._commands import Command, find_command, parse_duration_hours
from api.github._request_file import parse_request_file
from api.github.errors import CommandError, RequestFileError

OVERRIDE = '/promogate override metrics.auc.max_drop --reason "pilot region only" --expires 2d'
HEADER = "apiVersion: promogate/v1\nkind: PromotionRequest\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("looks good to me", None, id="no-command"),
        pytest.param("/promogateway review", None, id="other-word"),
        pytest.param(
            "/promogate review", Command(name="review", text="/promogate review"), id="review"
        ),
        pytest.param(
            "thanks!\n/promogate review credit-risk 7",
            Command(
                name="review", text="/promogate review credit-risk 7", model="credit-risk", ref="7"
            ),
            id="review-version",
        ),
        pytest.param(
            "/promogate ask why was it blocked?",
            Command(
                name="ask",
                text="/promogate ask why was it blocked?",
                question="why was it blocked?",
            ),
            id="ask",
        ),
        pytest.param(
            OVERRIDE,
            Command(
                name="override",
                text=OVERRIDE,
                check_ids=["metrics.auc.max_drop"],
                reason="pilot region only",
                expires_hours=48.0,
            ),
            id="override",
        ),
        pytest.param("/promogate", Command(name="help", text="/promogate"), id="help"),
    ],
)
def test_find_command(body: str, expected: Command | None) -> None:
    assert find_command(body) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param("/promogate deploy now", "unknown command 'deploy'", id="unknown"),
        pytest.param("/promogate review credit-risk", "MODEL VERSION", id="review-one-arg"),
        pytest.param("/promogate ask", "QUESTION", id="ask-empty"),
        pytest.param(
            "/promogate override --reason 'long enough reason' --expires 1d",
            "check ids",
            id="no-checks",
        ),
        pytest.param("/promogate override a.b --expires 1d", "--reason", id="no-reason"),
        pytest.param(
            "/promogate override a.b --reason 'long enough reason'", "--expires", id="no-expiry"
        ),
        pytest.param(
            "/promogate override a.b --reason 'long enough reason' --expires soon",
            "'soon'",
            id="bad-expiry",
        ),
        pytest.param(
            "/promogate override a.b --force", "unknown option '--force'", id="unknown-option"
        ),
        pytest.param(
            "/promogate override a.b --reason 'unclosed", "cannot split", id="unbalanced-quote"
        ),
    ],
)
def test_command_errors(body: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        find_command(body)


@pytest.mark.parametrize(
    ("text", "hours"),
    [("24h", 24.0), ("2d", 48.0), ("1w", 168.0), ("90m", 1.5), ("6", 6.0)],
)
def test_durations(text: str, hours: float) -> None:
    assert parse_duration_hours(text) == hours


def test_a_promotion_request_file() -> None:
    request = parse_request_file(
        "promotions/credit.yaml",
        "apiVersion: promogate/v1\nkind: PromotionRequest\nmodel: credit-risk\nalias: challenger\n",
    )
    assert (request.model, request.ref, request.target_alias) == (
        "credit-risk",
        "@challenger",
        None,
    )


@pytest.mark.parametrize(
    ("written", "model"),
    [
        ("o'brien-churn", "o'brien-churn"),
        ("'credit risk'", "credit risk"),
        ('"the \\"new\\" scorer"', 'the "new" scorer'),
        ("modèle", "modèle"),
    ],
    ids=["single-quote", "space", "double-quote", "accented"],
)
def test_a_request_file_names_any_model_mlflow_allows(written: str, model: str) -> None:
    request = parse_request_file("promotions/x.yaml", f"{HEADER}model: {written}\nversion: 3\n")
    assert (request.model, request.ref) == (model, "3")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param("model: [unclosed\n", 2, "not valid YAML", id="yaml"),
        pytest.param("- a list\n", 1, "expected a mapping", id="not-a-mapping"),
        pytest.param(
            "apiVersion: promogate/v1\nkind: PromotionRequest\nmodel: m\nversion: seven\n",
            4,
            "version",
            id="bad-version",
        ),
        pytest.param(
            "apiVersion: promogate/v1\nkind: PromotionRequest\nmodel: m\nversion: 3\nalias: c\n",
            1,
            "exactly one of 'version' and 'alias'",
            id="both-refs",
        ),
        pytest.param(
            HEADER + "model: m\nversion: 3\napprove: true\n",
            5,
            "approve",
            id="unknown-key",
        ),
        pytest.param(HEADER + "model: team/model\nversion: 3\n", 3, "model", id="slash"),
        pytest.param(HEADER + "model: 'gate\u202emodel'\nversion: 3\n", 3, "model", id="rlo"),
        pytest.param(HEADER + "model: gаte-model\nversion: 3\n", 3, "model", id="cyrillic"),
    ],
)
def test_malformed_request_files_name_their_line(text: str, line: int, message: str) -> None:
    with pytest.raises(RequestFileError, match=message) as caught:
        parse_request_file("promotions/x.yaml", text)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"promotions/x.yaml:{line}: ")
