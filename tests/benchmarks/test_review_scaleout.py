"""The scale-out benchmark's accounting: whose CPU a row counts, how it prints; never speed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from benchmarks.review_scaleout import ScaleRow, _cpu_seconds, _tree_cpu_seconds, render

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


def _row(server_cpu: float | None) -> ScaleRow:
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
    )


@pytest.mark.parametrize(
    ("server_cpu", "cell"),
    [(None, "| 0.100 |  | 0 |"), (0.1574, "| 0.100 | 0.157 | 0 |")],
    ids=["store-read-directly", "through-mlflow-server"],
)
def test_a_row_shows_the_servers_cpu_only_when_a_server_was_read(
    server_cpu: float | None, cell: str
) -> None:
    header, rule, line = render([_row(server_cpu)], "this").splitlines()
    assert header.count("|") == rule.count("|") == line.count("|")
    assert cell in line
