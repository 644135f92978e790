"""Loading policy files: multi-document files, hashes, and errors that name file and line."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from policies.errors import (
    DuplicatePolicyError,
    PolicyDirectoryError,
    PolicyError,
    PolicySyntaxError,
    PolicyValidationError,
)
from policies.loader import load_policy_dir, load_policy_file, load_policy_text

GOOD = """\
apiVersion: promogate/v1
kind: PromotionPolicy
metadata: {{name: {name}, revision: 2, owners: [ml-risk]}}
match: {{model: "credit-*"}}
metrics:
  - {{name: roc_auc, min: 0.75}}
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_the_examples(kit: Any) -> None:
    loaded = load_policy_dir(kit.examples)
    assert [p.name for p in loaded] == ["credit-risk", "fraud-screen", "support-assistant-safety"]
    credit = loaded[0]
    raw = (kit.examples / "credit-risk.yaml").read_bytes()
    assert credit.sha256 == hashlib.sha256(raw).hexdigest()
    assert credit.ref.name == "credit-risk"
    assert credit.ref.revision == credit.policy.metadata.revision
    assert credit.ref.sha256 == credit.sha256
    assert credit.ref.path == credit.path


def test_several_documents_per_file_share_the_file_hash(tmp_path: Path) -> None:
    text = GOOD.format(name="a") + "---\n" + GOOD.format(name="b") + "---\n"
    path = _write(tmp_path / "two.yaml", text)
    loaded = load_policy_file(path)
    assert [(p.name, p.document, p.line) for p in loaded] == [("a", 0, 1), ("b", 1, 8)]
    assert {p.sha256 for p in loaded} == {hashlib.sha256(text.encode()).hexdigest()}


def test_directory_loading_is_sorted_and_skips_tests_and_hidden(tmp_path: Path) -> None:
    _write(tmp_path / "b.yml", GOOD.format(name="b"))
    _write(tmp_path / "a.yaml", GOOD.format(name="a"))
    _write(tmp_path / "a.test.yaml", "- {name: x}\n")
    _write(tmp_path / ".hidden.yaml", "not: [valid\n")
    _write(tmp_path / "notes.txt", "ignored")
    _write(tmp_path / "sub" / "c.yaml", GOOD.format(name="c"))
    assert [p.name for p in load_policy_dir(tmp_path)] == ["a", "b"]
    assert [p.name for p in load_policy_dir(tmp_path, recursive=True)] == ["a", "b", "c"]


# (file text, error class, line, column, text in the message)
ERROR_CASES: list[tuple[str, type[PolicyError], int, int | None, str]] = [
    (
        "apiVersion: promogate/v1\nkind: [PromotionPolicy\nmetadata: {}\n",
        PolicySyntaxError,
        3,
        9,
        "malformed YAML",
    ),
    (
        GOOD.format(name="a") + "colour: blue\n",
        PolicyValidationError,
        7,
        1,
        "unknown field 'colour'",
    ),
    (
        GOOD.format(name="a").replace("min: 0.75", "min: high"),
        PolicyValidationError,
        6,
        26,
        "metrics[0].min: Input should be a valid number",
    ),
    (
        GOOD.format(name="a").replace("revision: 2", "revision: two"),
        PolicyValidationError,
        3,
        31,
        "metadata.revision",
    ),
    (
        GOOD.format(name="a").replace(
            'match: {model: "credit-*"}', 'match: {model: x, versions: ">=x"}'
        ),
        PolicyValidationError,
        4,
        29,
        "invalid version range clause '>=x'",
    ),
    (
        GOOD.format(name="a").replace('match: {model: "credit-*"}', "match: {versions: 3}"),
        PolicyValidationError,
        4,
        8,
        "missing required field 'model'",
    ),
    (
        GOOD.format(name="a") + "segments:\n  by: region\n  metric: recall\n  max_drop: lots\n",
        PolicyValidationError,
        10,
        13,
        "segments[0].max_drop",
    ),
    (
        GOOD.format(name="a") + "mode: strict\n",
        PolicyValidationError,
        7,
        7,
        "mode: Input should be 'enforce' or 'audit'",
    ),
    (
        GOOD.format(name="a") + "match: {model: y}\n",
        PolicySyntaxError,
        7,
        1,
        "duplicate key 'match'",
    ),
    ("- just\n- a list\n", PolicyValidationError, 1, 1, "must be a mapping"),
    ("# only a comment\n", PolicyValidationError, 1, None, "no policy document"),
    (
        GOOD.format(name="a").replace("promogate/v1", "promogate/v2"),
        PolicyValidationError,
        1,
        13,
        "apiVersion",
    ),
    (b"\xff\xfe".decode("latin-1"), PolicyValidationError, 1, 1, "must be a mapping"),
]


@pytest.mark.parametrize(
    ("text", "error", "line", "column", "needle"),
    ERROR_CASES,
    ids=[
        "malformed-yaml",
        "unknown-field",
        "wrong-type-in-list",
        "wrong-type-nested",
        "invalid-version-range",
        "missing-field",
        "single-segment-mapping-wrong-type",
        "bad-literal",
        "duplicate-key",
        "not-a-mapping",
        "empty-file",
        "wrong-api-version",
        "scalar-document",
    ],
)
def test_errors_name_file_and_line(
    tmp_path: Path,
    text: str,
    error: type[PolicyError],
    line: int,
    column: int | None,
    needle: str,
) -> None:
    path = _write(tmp_path / "bad.yaml", text)
    with pytest.raises(error) as info:
        load_policy_file(path)
    exc = info.value
    assert isinstance(exc, PolicySyntaxError | PolicyValidationError)
    assert exc.path == str(path)
    assert (exc.line, exc.column) == (line, column), str(exc)
    assert needle in str(exc)
    prefix = f"{path}:{line}" + (f":{column}" if column is not None else "")
    assert str(exc).startswith(prefix)


def test_every_issue_in_a_file_is_reported(tmp_path: Path) -> None:
    text = GOOD.format(name="a").replace("revision: 2", "revision: two") + "colour: blue\n"
    path = _write(tmp_path / "bad.yaml", text)
    with pytest.raises(PolicyValidationError) as info:
        load_policy_file(path)
    assert [(i.line, i.field) for i in info.value.issues] == [
        (3, "metadata.revision"),
        (7, "colour"),
    ]


def test_non_utf8_file_is_a_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"apiVersion: promogate/v1\nkind: \xff\n")
    with pytest.raises(PolicySyntaxError, match=r"latin\.yaml: not UTF-8"):
        load_policy_file(path)


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", GOOD.format(name="same"))
    _write(tmp_path / "b.yaml", "# another\n" + GOOD.format(name="same"))
    with pytest.raises(DuplicatePolicyError) as info:
        load_policy_dir(tmp_path)
    message = str(info.value)
    assert message.startswith(
        f"{tmp_path / 'b.yaml'}:2:1: metadata.name: duplicate policy name 'same'"
    )
    assert f"also defined at {tmp_path / 'a.yaml'}:1" in message


def test_duplicate_names_within_a_file() -> None:
    with pytest.raises(DuplicatePolicyError, match="duplicate policy name 'x'"):
        load_policy_text(GOOD.format(name="x") + "---\n" + GOOD.format(name="x"), "inline.yaml")


def test_all_broken_files_of_a_directory_are_reported(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", GOOD.format(name="a") + "colour: red\n")
    _write(tmp_path / "b.yaml", GOOD.format(name="b") + "size: big\n")
    with pytest.raises(PolicyValidationError) as info:
        load_policy_dir(tmp_path)
    assert [Path(i.path).name for i in info.value.issues] == ["a.yaml", "b.yaml"]


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ("missing", "policy directory does not exist"),
        ("empty", "no policy files"),
        ("file", "not a directory"),
    ],
    ids=["missing-dir", "empty-dir", "special-path"],
)
def test_directory_errors_name_the_directory(tmp_path: Path, setup: str, needle: str) -> None:
    target = tmp_path / "policies"
    if setup == "empty":
        target.mkdir()
        _write(target / "README.md", "no policies here")
    elif setup == "file":
        target = Path("/dev/null")
    with pytest.raises(PolicyDirectoryError) as info:
        load_policy_dir(target)
    assert str(info.value) == f"{target}: {needle}" or needle in str(info.value)
    assert info.value.path == str(target)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyDirectoryError, match=r"nope\.yaml: policy file does not exist"):
        load_policy_file(tmp_path / "nope.yaml")
