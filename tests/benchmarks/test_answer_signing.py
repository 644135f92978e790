"""The signing benchmark runs and reports every row beside its unsigned peer."""

from __future__ import annotations

from benchmarks.answer_signing import measure_signing, render_table


def test_every_row_is_measured_beside_its_peer() -> None:
    rows = measure_signing(operations=20, requests=20, runs=1)
    assert [r.what for r in rows] == [
        "sign one answer",
        "verify one answer",
        "answer through the ASGI stack",
        "lean client start (import, load key)",
    ]
    assert all(r.signed > 0 and r.unsigned > 0 for r in rows)
    assert render_table(rows).count("\n") == len(rows) + 1
