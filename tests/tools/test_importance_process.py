"""The model-file reader process answers as the serving process would, and a child that fails in
any way makes the read fail with the reason, not hang or pass.

One real reader process serves the session (`importance_reader` in tests/conftest.py: it imports
skops and scikit-learn once, about 3 s); the failure cases run stand-in children (small Python
programs) at the same pipe seam.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import skops.io as sio
from sklearn.ensemble import GradientBoostingClassifier

from scenarios.plausibility_registry import FEATURES, fraud_frame
from tools.errors import ReaderProcessError
from tools.importance_process import ImportanceProcess
from tools.model_importance import _load_skops_importances

TREE = "sklearn.tree._tree.Tree"


@pytest.fixture
def reader(importance_reader: ImportanceProcess) -> ImportanceProcess:
    return importance_reader


@pytest.fixture(scope="module")
def forest_file() -> bytes:
    frame = fraud_frame(300, 3)
    model = GradientBoostingClassifier(n_estimators=10, random_state=0)
    return sio.dumps(model.fit(frame[FEATURES], frame["is_fraud"]))


_FILES = {
    "forest": lambda forest: forest,
    "truncated": lambda forest: forest[:5000],
    "not-a-zip": lambda forest: b"PK\x03\x04 not really",
    "empty": lambda forest: b"",
}


@pytest.mark.parametrize("trusted", [[], [TREE]], ids=["refused", "trusted"])
@pytest.mark.parametrize("kind", sorted(_FILES), ids=str)
def test_the_process_answers_what_this_process_would(
    reader: ImportanceProcess, forest_file: bytes, kind: str, trusted: list[str]
) -> None:
    data = _FILES[kind](forest_file)
    here = _load_skops_importances(
        data, trusted_types=trusted, source="models:/m-1", model_file="model.skops"
    )
    there = reader.read(data, trusted_types=trusted, source="models:/m-1", model_file="model.skops")
    assert there == here
    # Field for field, the ones set included: the decision's JSON and digest are the same.
    assert there.model_fields_set == here.model_fields_set
    assert there.model_dump_json() == here.model_dump_json()


def test_reads_from_several_threads_are_answered_in_turn(
    reader: ImportanceProcess, forest_file: bytes
) -> None:
    before = reader.answered
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(
                lambda trusted: reader.read(
                    forest_file, trusted_types=trusted, source="s", model_file="m"
                ),
                [[TREE], [], [TREE], []],
            )
        )
    assert [a.available for a in answers] == [True, False, True, False]
    assert reader.answered == before + 4


def _stand_in(tmp_path: Path, body: str) -> list[str]:
    """A child command running `body` (the memory cap arrives as its last argument)."""
    script = tmp_path / "child.py"
    script.write_text("import json, sys, time\n" + body)
    return [sys.executable, str(script)]


_READY = 'print(json.dumps({"ready": True}), flush=True)\n'
# Reads one request whole (its line, then its bytes), as the real child does.
_DRAIN = "sys.stdin.buffer.read(json.loads(sys.stdin.buffer.readline())['size'])\n"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param("sys.exit(7)\n", r"ended \(exit code 7\)", id="exits-at-start"),
        pytest.param(
            _READY + _DRAIN + "sys.exit(3)\n", r"ended \(exit code 3\)", id="exits-on-a-request"
        ),
        pytest.param("time.sleep(60)\n", r"did not answer within 0\.5 s", id="never-ready"),
        pytest.param(
            _READY + "time.sleep(60)\n", r"did not answer within 0\.5 s", id="never-answers"
        ),
        pytest.param(
            _READY + _DRAIN + "print('not json', flush=True)\ntime.sleep(60)\n",
            "answered out of form",
            id="garbage",
        ),
        pytest.param(
            _READY + _DRAIN + "print(json.dumps({'shares': 3}), flush=True)\ntime.sleep(60)\n",
            "answered out of form",
            id="wrong-shape",
        ),
        pytest.param(
            'print(json.dumps({"ready": False}), flush=True)\ntime.sleep(60)\n',
            "answered out of form",
            id="not-ready",
        ),
        pytest.param(
            _READY + _DRAIN + "print(json.dumps({'error': 'memory'}), flush=True)\n"
            "time.sleep(60)\n",
            "ran out of its 256 MiB",
            id="out-of-memory",
        ),
    ],
)
def test_a_child_that_gives_no_answer_fails_the_read_with_the_reason(
    tmp_path: Path, body: str, reason: str
) -> None:
    process = ImportanceProcess(
        command=_stand_in(tmp_path, body),
        memory_bytes=256 * 1024 * 1024,
        timeout_s=0.5,
        start_timeout_s=0.5,
    )
    try:
        with pytest.raises(ReaderProcessError, match=reason) as caught:
            process.read(b"x" * 100_000, trusted_types=[], source="models:/m-7", model_file="m")
        assert "'models:/m-7'" in str(caught.value)
        # The failed child is gone; the next read starts another.
        assert process.pid is None
        with pytest.raises(ReaderProcessError):
            process.read(b"", trusted_types=[], source="s", model_file="m")
    finally:
        process.close()


def test_a_child_that_stops_reading_a_large_file_is_stopped_in_time(tmp_path: Path) -> None:
    # The request fills the pipe; the write itself must end at the deadline.
    process = ImportanceProcess(
        command=_stand_in(tmp_path, _READY + "time.sleep(60)\n"), timeout_s=0.5
    )
    try:
        with pytest.raises(ReaderProcessError, match=r"did not answer within 0\.5 s"):
            process.read(b"x" * (8 << 20), trusted_types=[], source="s", model_file="m")
    finally:
        process.close()


def test_a_closed_process_refuses_reads_and_leaves_no_child(
    tmp_path: Path, forest_file: bytes
) -> None:
    process = ImportanceProcess(command=_stand_in(tmp_path, _READY + _DRAIN))
    process.start()
    pid = process.pid
    assert pid is not None
    process.close()
    assert process.pid is None
    with pytest.raises(ReaderProcessError, match="was closed"):
        process.read(forest_file, trusted_types=[], source="s", model_file="m")


def test_a_real_child_capped_below_its_imports_fails_the_read() -> None:
    # 256 MiB cannot hold scikit-learn and SciPy: the child fails as it starts, and says so.
    process = ImportanceProcess(memory_bytes=256 * 1024 * 1024, start_timeout_s=60.0)
    try:
        with pytest.raises(ReaderProcessError, match="ended"):
            process.read(b"", trusted_types=[], source="s", model_file="m")
    finally:
        process.close()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"memory_bytes": -1}, "memory_bytes must not be negative"),
        ({"timeout_s": 0.0}, "timeouts must be positive"),
        ({"start_timeout_s": -1.0}, "timeouts must be positive"),
    ],
    ids=["memory", "timeout", "start-timeout"],
)
def test_limits_are_checked(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ImportanceProcess(**arguments)


def test_start_returns_before_the_child_is_ready(tmp_path: Path) -> None:
    process = ImportanceProcess(command=_stand_in(tmp_path, "time.sleep(5)\n" + _READY + _DRAIN))
    try:
        done = threading.Event()

        def start() -> None:
            process.start()
            done.set()

        threading.Thread(target=start).start()
        assert done.wait(2.0)
        assert process.pid is not None
    finally:
        process.close()


def test_waiting_until_ready_returns_once_the_child_has_imported(tmp_path: Path) -> None:
    # The child marks the moment it is ready; the wait must not return before it.
    marker = tmp_path / "imported"
    body = f"time.sleep(0.5)\nopen({str(marker)!r}, 'w').close()\n" + _READY + _DRAIN
    process = ImportanceProcess(command=_stand_in(tmp_path, body))
    try:
        process.wait_until_ready()
        assert marker.exists()
        pid = process.pid
        process.wait_until_ready()  # once ready, a second wait starts nothing
        assert process.pid == pid is not None
    finally:
        process.close()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param("sys.exit(7)\n", r"did not come up \(exit code 7\)", id="exits-at-start"),
        pytest.param("time.sleep(60)\n", r"not ready within 0\.5 s", id="never-ready"),
        pytest.param(
            'print(json.dumps({"ready": False}), flush=True)\ntime.sleep(60)\n',
            "its first line is not ready",
            id="not-ready",
        ),
    ],
)
def test_a_child_that_does_not_come_up_fails_the_wait_with_the_reason(
    tmp_path: Path, body: str, reason: str
) -> None:
    process = ImportanceProcess(command=_stand_in(tmp_path, body), start_timeout_s=0.5)
    try:
        with pytest.raises(ReaderProcessError, match=reason):
            process.wait_until_ready()
        assert process.pid is None  # stopped; the next read starts another
    finally:
        process.close()
    with pytest.raises(ReaderProcessError, match="was closed"):
        process.wait_until_ready()
