"""Both scanners run in child processes on real pickles; a limit hit or a skip is never clean."""

from __future__ import annotations

import pickle
from pathlib import Path

import cloudpickle
import joblib
import pytest
from support.model_artifacts import (
    PAYLOADS,
    malicious_pickle,
    pytorch_style_zip,
    trained_tree,
)

from tools.pickle_scan import SCANNERS, ScanLimits, scan_location, scan_pickles
from tools.pickle_sniffer import PickleLocation, find_pickles

LIMITS = ScanLimits(timeout_s=120, memory_mb=2048)


def _scan(root: Path) -> dict[str, dict[str, object]]:
    files = sorted(p.name for p in root.iterdir())
    locations, unreadable = find_pickles(root, files)
    assert unreadable == []
    return {
        report.location.label: {r.scanner: r for r in report.reports}
        for report in scan_pickles(root, locations, LIMITS)
    }


def test_clean_models_are_flagged_only_for_clearable_library_globals(tmp_path: Path) -> None:
    model = trained_tree()
    (tmp_path / "model.cloudpickle").write_bytes(cloudpickle.dumps(model))
    (tmp_path / "model.pickle").write_bytes(pickle.dumps(model, protocol=2))
    (tmp_path / "state.pkl").write_bytes(pickle.dumps({"lr": 0.1, "epochs": [1, 2]}, protocol=5))

    results = _scan(tmp_path)

    assert set(results) == {"model.cloudpickle", "model.pickle", "state.pkl"}
    for label, reports in results.items():
        for scanner in SCANNERS:
            report = reports[scanner]
            assert report.status in {"clean", "flagged"}, (label, scanner, report.message)  # type: ignore[attr-defined]
            for finding in report.findings:  # type: ignore[attr-defined]
                assert finding.clearable, (label, scanner, finding)
                # protocol 2 pickles bytes through _codecs.encode
                assert str(finding.global_name).startswith(("sklearn.", "numpy.", "_codecs.")), (
                    finding
                )
    assert results["state.pkl"]["picklescan"].status == "clean"  # type: ignore[attr-defined]
    assert results["state.pkl"]["fickling"].status == "clean"  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", PAYLOADS)
def test_malicious_payloads_are_flagged_by_both_and_never_clearable(
    tmp_path: Path, kind: str
) -> None:
    # Hidden beside a real model, inside a PyTorch-style zip.
    pytorch_style_zip(tmp_path / "model.pt", malicious_pickle(kind, wrap_model=trained_tree()))

    [reports] = _scan(tmp_path).values()

    for scanner in SCANNERS:
        report = reports[scanner]
        assert report.status == "flagged", (scanner, report)  # type: ignore[attr-defined]
        assert any(not f.clearable for f in report.findings), (scanner, report)  # type: ignore[attr-defined]


def test_joblib_files_with_arrays_cannot_be_read_through_and_are_never_clean(
    tmp_path: Path,
) -> None:
    # joblib interleaves raw array bytes with the pickle opcodes; neither scanner reads past them.
    joblib.dump(trained_tree(), tmp_path / "model.joblib")

    [reports] = _scan(tmp_path).values()

    assert {s: reports[s].status for s in SCANNERS} == {  # type: ignore[attr-defined]
        "picklescan": "error",
        "fickling": "error",
    }


def test_time_limit_is_a_failure_that_names_the_limit(tmp_path: Path) -> None:
    (tmp_path / "m.pkl").write_bytes(pickle.dumps([1, 2, 3]))
    location = PickleLocation(path="m.pkl", size=10)

    report, _ = scan_location(tmp_path, location, "fickling", ScanLimits(timeout_s=0.01))

    assert report.status == "timeout"
    assert "time limit of 0.01 s" in str(report.message)


def test_memory_limit_is_a_failure_that_names_the_limit(tmp_path: Path) -> None:
    # A 96 MiB byte string: decoding its opcode needs more than the 64 MiB address space allowed.
    (tmp_path / "big.pkl").write_bytes(pickle.dumps(b"\0" * (96 * 1024 * 1024), protocol=4))
    location = PickleLocation(path="big.pkl", size=96 * 1024 * 1024)

    report, _ = scan_location(tmp_path, location, "picklescan", ScanLimits(memory_mb=64))

    assert report.status == "memory", report
    assert "memory limit of 64 MiB" in str(report.message)


def test_a_scanner_that_cannot_decode_the_stream_is_an_error(tmp_path: Path) -> None:
    # Valid opcodes importing a global, then cut off before STOP.
    data = malicious_pickle("os.system", protocol=2)[:-3]
    (tmp_path / "cut.pkl").write_bytes(data)
    location = PickleLocation(path="cut.pkl", size=len(data))

    statuses = {s: scan_location(tmp_path, location, s, LIMITS)[0] for s in SCANNERS}

    for scanner, report in statuses.items():
        assert report.status in {"error", "flagged"}, (scanner, report)
    assert statuses["fickling"].status == "error"
