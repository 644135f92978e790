"""How a label value is read as the positive class: numbers without their text, alike."""

from __future__ import annotations

import math

import pytest

from comparison._definitions import _is_positive, _positive_share

VALUES = [
    1,
    1.0,
    0,
    0.0,
    -1,
    2,
    10**400,
    1.0000000000000002,
    0.9999999999999999,
    math.nan,
    math.inf,
    -0.0,
    True,
    False,
    "1",
    "1.0",
    "0",
    " 1 ",
    "yes",
    None,
]


@pytest.mark.parametrize("value", VALUES, ids=[repr(v) for v in VALUES])
def test_a_label_is_positive_as_its_text_reads(value: object) -> None:
    if isinstance(value, bool):
        expected = value
    else:
        try:
            expected = float(str(value)) == 1.0
        except ValueError:
            expected = False
    assert _is_positive(value) is expected


@pytest.mark.parametrize(
    "labels",
    [
        [1, 0, 1, 1, 0],
        [True, False, 1, 0, 2],
        [1.0, 0.0, math.nan, math.inf, -0.0, 1.0000000000000002, 1],
        [1, "1", 0, "yes"],
        [1, None, 0],
        [10**400, 1, 0],
        ["1", "1.0", " 1 ", "0"],
    ],
    ids=["ints", "bools-and-ints", "floats", "with-text", "with-none", "huge-int", "text"],
)
def test_the_positive_share_counts_as_each_label_reads(labels: list[object]) -> None:
    expected = sum(1 for v in labels if _is_positive(v)) / len(labels)
    assert _positive_share(labels) == expected
