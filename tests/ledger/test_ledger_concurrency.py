"""Concurrent appenders keep the chain valid and lose no record, on SQLite and PostgreSQL;
connections opening a new SQLite ledger at once all get in."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from functools import partial
from multiprocessing.synchronize import Barrier as ProcessBarrier
from pathlib import Path
from typing import Any

from ledger.store import Ledger
from policies.decision import Decision

DecisionFactory = Callable[..., Decision]

PER_WORKER = 25


def _append_many(ledger: Ledger, make_decision: DecisionFactory, worker: str) -> None:
    for i in range(PER_WORKER):
        ledger.append_decision(
            make_decision(f"{worker}-{i}", verdict="block" if i % 3 == 0 else "approve")
        )


def _process_worker(
    url: str, worker: str, barrier: ProcessBarrier, make_decision: DecisionFactory
) -> None:
    # A fresh Ledger per process, as every API replica or worker has; the database is not
    # migrated yet, so the processes also race to migrate it.
    ledger = Ledger(url)
    barrier.wait(timeout=30)
    _append_many(ledger, make_decision, worker)
    ledger.close()


def _assert_complete_chain(ledger: Ledger, expected_ids: set[str]) -> None:
    report = ledger.verify()
    assert report.ok, report.problems
    assert report.records_checked == len(expected_ids)
    assert report.head_seq == len(expected_ids)
    assert {d.id for d in ledger.list_decisions(limit=1000)} == expected_ids


def test_eight_threads_append_concurrently(
    ledger: Ledger, make_decision: DecisionFactory, at_once: Any
) -> None:
    workers = [f"t{n}" for n in range(8)]
    errors = at_once([partial(_append_many, ledger, make_decision, w) for w in workers])

    assert errors == []
    _assert_complete_chain(ledger, {f"{w}-{i}" for w in workers for i in range(PER_WORKER)})


def _connect(ledger: Ledger) -> None:
    with ledger.database.engine.connect():
        pass


def test_connections_opening_a_new_sqlite_ledger_at_once_all_get_in(
    tmp_path: Path, at_once: Any
) -> None:
    # Each connection turns the file to WAL as it opens; SQLite answers some of those that do it
    # at once "database is locked" without waiting for the busy timeout. Over 100 new files,
    # eight connections each, some always collide.
    for round_ in range(100):
        url = f"sqlite:///{tmp_path / f'ledger-{round_}.db'}"
        ledgers = [Ledger(url) for _ in range(8)]
        try:
            assert at_once([partial(_connect, ledger) for ledger in ledgers]) == []
            with ledgers[0].database.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        finally:
            for ledger in ledgers:
                ledger.close()


def test_two_processes_migrate_and_append_concurrently(
    ledger_url: str, make_decision: DecisionFactory
) -> None:
    # fork, not spawn: test modules are not importable by name under --import-mode=importlib.
    context = multiprocessing.get_context("fork")
    workers = ["p0", "p1"]
    barrier = context.Barrier(len(workers))
    processes = [
        context.Process(target=_process_worker, args=(ledger_url, w, barrier, make_decision))
        for w in workers
    ]
    for process in processes:
        process.start()
    reader = Ledger(ledger_url)
    try:
        # Verifying while others append must never report a false break.
        while any(p.is_alive() for p in processes):
            assert reader.verify().ok
        for process in processes:
            process.join(timeout=60)
        assert [p.exitcode for p in processes] == [0, 0]
        _assert_complete_chain(reader, {f"{w}-{i}" for w in workers for i in range(PER_WORKER)})
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
        reader.close()
