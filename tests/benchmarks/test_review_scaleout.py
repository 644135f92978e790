"""The scale-out benchmark's accounting: whose CPU a row counts, how it prints; never speed."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from benchmarks.review_scaleout import (
    ScaleRow,
    _check_tags,
    _cpu_seconds,
    _tree_cpu_seconds,
    render,
)

_BUSY_CHILD = (
    "import time\n"
    "end = time.process_time() + 0.3\n"
    "while time.process_time() < end:\n"
    "    pass\n"
    "print('spent', flush=True)\n"
    "time.sleep(60)\n"
)


def test_a_servers_cpu_counts_the_processes_it_started() -> None:
    # An `mlflow server` does its work in the processes it starts; a child that has spent 0.3 s
    # must show in its parent's tree and not in the parent alone.
    child = subprocess.Popen([sys.executable, "-c", _BUSY_CHILD], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"spent"
        own = _cpu_seconds(os.getpid())
        assert _tree_cpu_seconds(os.getpid()) - own >= 0.25
        assert _tree_cpu_seconds(child.pid) >= 0.25
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


def _row(server_cpu: float | None, *, tags_written: bool = False) -> ScaleRow:
    return ScaleRow(
        workers=1,
        jobs=10,
        seconds=2.0,
        reviews_per_s=5.0,
        cpu_s_per_review=0.1,
        wrong_verdicts=0,
        failed=0,
        load_average=1.0,
        server_cpu_s_per_review=server_cpu,
        tags_written=tags_written,
    )


@pytest.mark.parametrize(
    ("server_cpu", "tags_written", "cell"),
    [
        (None, False, "| 0.100 |  | off | 0 |"),
        (0.1574, False, "| 0.100 | 0.157 | off | 0 |"),
        (None, True, "| 0.100 |  | written | 0 |"),
    ],
    ids=["store-read-directly", "through-mlflow-server", "decision-tags-written"],
)
def test_a_row_shows_the_servers_cpu_and_whether_tags_were_written(
    server_cpu: float | None, tags_written: bool, cell: str
) -> None:
    header, rule, line = render([_row(server_cpu, tags_written=tags_written)], "this").splitlines()
    assert header.count("|") == rule.count("|") == line.count("|")
    assert cell in line


@pytest.fixture(scope="module")
def tagged_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real SQLite registry: credit-risk v1 tagged with review r-1, v2 with a review before."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('scaleout-tags') / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("credit-risk")
    for version, review_id in ((1, "r-1"), (2, "r-earlier")):
        client.create_model_version("credit-risk", f"file:///nowhere/{version}")
        client.set_model_version_tag(
            "credit-risk", str(version), "promogate.decision_id", review_id
        )
    return uri


@pytest.mark.parametrize(
    ("versions", "error"),
    [({1}, None), ({1, 2}, "version 2's promogate.decision_id is 'r-earlier'")],
    ids=["tagged-by-a-timed-review", "tag-left-from-an-earlier-review"],
)
def test_tags_are_checked_against_the_levels_reviews(
    tagged_store: str, versions: set[int], error: str | None
) -> None:
    if error is None:
        _check_tags(tagged_store, versions, {"r-1", "r-2"})
        return
    with pytest.raises(RuntimeError, match=re.escape(error)):
        _check_tags(tagged_store, versions, {"r-1", "r-2"})
