"""Server-drawn SVG charts and MLflow links: what they show; text from MLflow stays text."""

from __future__ import annotations

import math

import pytest

from api.pages._charts import HistorySeries, SegmentBar, history_chart, segment_chart
from api.pages._links import MlflowLinks

WEST = SegmentBar(
    segment="west", candidate=0.26, baseline=0.58, max_drop=0.03, status="fail", p_value=0.0005
)
EAST = SegmentBar(segment="east", candidate=0.70, baseline=0.40, max_drop=0.03, status="pass")


def test_a_segment_chart_marks_the_failing_segment_with_its_delta_and_p_value() -> None:
    svg = str(segment_chart("recall by region", [WEST, EAST]))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'class="segment segment-fail" data-segment="west"' in svg
    assert 'class="segment segment-pass" data-segment="east"' in svg
    assert "0.580 → 0.260 (−0.320, p=0.0005) FAIL" in svg
    assert "tolerance: down to 0.550" in svg


@pytest.mark.parametrize(
    "segment", ["<script>alert(1)</script>", '" onmouseover="alert(1)', "</svg><img src=x>"]
)
def test_segment_names_from_mlflow_are_escaped(segment: str) -> None:
    svg = str(segment_chart("<b>title</b>", [WEST.model_copy(update={"segment": segment})]))
    assert segment not in svg
    assert "<b>" not in svg
    assert svg.count("<svg") == 1 and svg.count("</svg>") == 1


def test_a_segment_without_values_is_drawn_without_failing() -> None:
    empty = SegmentBar(
        segment="new", candidate=math.nan, baseline=None, max_drop=0.03, status="skip"
    )
    svg = str(segment_chart("recall by region", [empty]))
    assert "n/a" in svg and "SKIP" in svg


def test_a_history_chart_draws_one_line_per_run_and_says_when_nothing_was_logged() -> None:
    svg = str(
        history_chart(
            "train_loss",
            [
                HistorySeries(label="v3 (candidate)", points=[(1, 1.0), (2, 0.8), (3, 0.7)]),
                HistorySeries(label="v1 (baseline)", points=[(1, 1.1), (2, 0.9)], dashed=True),
            ],
        )
    )
    assert svg.count("<polyline") == 2
    assert 'stroke-dasharray="6 4"' in svg
    assert "step 3" in svg
    assert "no values logged" in str(history_chart("val_loss", []))


@pytest.mark.parametrize(
    ("ref", "kind", "href"),
    [
        ("run:abc123/metrics/roc_auc", "run", "http://ui:5000/#/runs/abc123"),
        (
            "run:abc123/artifacts/eval/pred ictions.json",
            "artifact",
            "http://ui:5000/#/runs/abc123/artifacts/eval/pred%20ictions.json",
        ),
        (
            "version:credit-risk/3/datasets",
            "version",
            "http://ui:5000/#/models/credit-risk/versions/3",
        ),
        ("dataset:b3283f41", "evidence", None),
        ("run:javascript:alert(1)", "evidence", None),
    ],
    ids=["run", "artifact", "version", "dataset", "hostile-run-id"],
)
def test_evidence_references_link_into_the_mlflow_ui(ref: str, kind: str, href: str | None) -> None:
    link = MlflowLinks("http://ui:5000/").evidence(ref)
    assert (link.kind, link.href) == (kind, href)


@pytest.mark.parametrize("base", [None, "", "sqlite:///mlflow.db", "javascript:alert(1)"])
def test_without_an_http_mlflow_ui_nothing_links_out(base: str | None) -> None:
    links = MlflowLinks(base)
    assert links.version("m", 1) is None
    assert links.evidence("run:abc/metrics/x").href is None
