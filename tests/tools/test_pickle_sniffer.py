"""Pickles are found by their opcodes, not their names, also inside zips and object .npy files."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import pytest
from support.model_artifacts import (
    malicious_pickle,
    npy_object_array,
    pytorch_style_zip,
    trained_tree,
)

from tools.pickle_sniffer import find_pickles, list_globals, open_location, sniff_pickle


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5], ids=lambda p: f"protocol-{p}")
def test_every_protocol_is_sniffed(protocol: int) -> None:
    data = pickle.dumps({"weights": [1.0, 2.0], "name": "m"}, protocol=protocol)
    assert sniff_pickle(data) == 0


@pytest.mark.parametrize(
    "content",
    [
        b"hello world\n",
        b"name: model\nflavors: {}\n",
        json.dumps({"a": 1}).encode(),
        b"",
        b"\x80\x09garbage",
        b"scikit-learn==1.5.2\nnumpy==2.1.0\n",
        b"torch==2.5.1\nmlflow==3.17.2\n",
    ],
    ids=["text", "yaml", "json", "empty", "bad-protocol", "requirements", "text-reaching-stop"],
)
def test_non_pickles_are_not_sniffed(content: bytes) -> None:
    assert sniff_pickle(content) is None


def test_files_are_found_by_content_not_name(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(pickle.dumps(trained_tree(), protocol=5))
    (tmp_path / "model.pkl").write_text("not a pickle at all\n")
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    pytorch_style_zip(tmp_path / "model.pt", malicious_pickle("os.system"))
    (tmp_path / "table.npy").write_bytes(npy_object_array(["a", {"b": 1}]))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("nested/state.pkl", pickle.dumps([1, 2, 3], protocol=2))
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as archive:
        archive.writestr("inner.zip", inner.getvalue())
        archive.writestr("readme.txt", "hello")
    files = sorted(p.name for p in tmp_path.iterdir())

    found, unreadable = find_pickles(tmp_path, files)

    assert unreadable == []
    assert sorted(loc.label for loc in found) == [
        "bundle.zip:inner.zip:nested/state.pkl",
        "model.pt:archive/data.pkl",
        "table.npy",
        "weights.bin",
    ]
    npy = next(loc for loc in found if loc.path == "table.npy")
    assert npy.offset > 0


def test_plain_npy_arrays_are_not_pickles(tmp_path: Path) -> None:
    import numpy as np

    np.save(tmp_path / "x.npy", np.arange(10.0))
    assert find_pickles(tmp_path, ["x.npy"]) == ([], [])


@pytest.mark.parametrize(
    ("kind", "protocol", "expected"),
    [
        ("os.system", 0, "posix.system"),
        ("os.system", 4, "posix.system"),
        ("builtins.eval", 2, "builtins.eval"),
        ("timeit.timeit", 5, "timeit.timeit"),
        ("subprocess.Popen", 4, "subprocess.Popen"),
    ],
    ids=["system-p0", "system-p4", "eval-p2", "timeit-p5", "popen-p4"],
)
def test_globals_are_listed_without_loading(kind: str, protocol: int, expected: str) -> None:
    data = malicious_pickle(kind, protocol=protocol)
    assert expected in list_globals(io.BytesIO(data))


def test_globals_of_a_zip_member(tmp_path: Path) -> None:
    pytorch_style_zip(tmp_path / "model.pt", malicious_pickle("builtins.exec"))
    [location], _ = find_pickles(tmp_path, ["model.pt"])
    with open_location(tmp_path, location) as stream:
        assert list_globals(stream) == ["builtins.exec"]
