"""The explicit-biomarker route end to end on a small synthetic cohort: session summaries
from the generator's landmark tracks through the device's accumulator, participant-level
CV with grouped permutation importance, ONNX export, and the device-side route that reads
the same summaries."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from device.models.explicit_route import VECTOR, ExplicitRoute, biomarker_vector
from device.wire.summary import validate_summary
from model_export.explicit_route import (
    MODEL_FILE,
    export_explicit_route,
    top_regions,
    train_explicit_route,
)
from model_export.synth import CohortSpec, plan, stimulus_timeline
from model_export.synth.face import base_face
from model_export.synth.summaries import landmark_summary
from tests.support.model_fixtures import route_bundle

CLASSES = ("BD", "MDD", "HC")


@pytest.fixture(scope="module")
def cohort():
    people = plan(CohortSpec(n_per_class=8, seed=0))
    face, timeline = base_face(), stimulus_timeline(seconds_per_clip=3.0)
    summaries = [landmark_summary(p, timeline, face, fps=10.0) for p in people]
    return people, summaries


@pytest.fixture(scope="module")
def trained(cohort):
    people, summaries = cohort
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant columns (no iris in landmark tracks)
        return train_explicit_route(
            summaries,
            [p.label for p in people],
            [p.participant_id for p in people],
            CLASSES,
            folds=4,
            n_boot=200,
            max_iter=60,
        )


def test_vector_is_per_condition_relative_to_neutral(cohort):
    _, summaries = cohort
    s = summaries[0]
    x = biomarker_vector(s)
    assert x.shape == (len(VECTOR.names),) and x.dtype == np.float32
    base = next(seg for seg in s["segments"] if seg["baseline"])
    happy = next(seg for seg in s["segments"] if seg["condition"] == "happiness")
    i = VECTOR.names.index("happiness.region.R13")
    assert x[i] == pytest.approx(
        happy["region_activity"]["R13"] - base["region_activity"]["R13"], abs=1e-5
    )
    assert VECTOR.region[i] == "R13" and VECTOR.organ[i] is None


def test_grouped_importance_finds_the_planted_regions(trained):
    """The generator plants BD in regions 5, 8 (outer eye corners) and 13, 14, and MDD in
    6, 7 (inner eye corners): the route's region importance (patients against controls)
    must put each class's eye-corner plants in its top three."""
    bd, mdd = top_regions(trained.importance, "BD"), top_regions(trained.importance, "MDD")
    assert {"R5", "R8"} <= set(bd), trained.importance["BD"]["regions"]
    assert {"R6", "R7"} <= set(mdd), trained.importance["MDD"]["regions"]
    cv = trained.cv
    assert cv["participants"] == 24 and cv["folds"] == 4
    lo, hi = cv["accuracy_ci95"]
    assert lo <= cv["accuracy"] <= hi and cv["accuracy"] > 0.6
    for c in CLASSES:
        assert (
            len(cv["per_class"][c]["auroc_ci95"]) == 2 and len(cv["per_class"][c]["f1_ci95"]) == 2
        )


def test_onnx_export_runs_on_the_device_and_names_top_biomarkers(trained, cohort, tmp_path):
    _, summaries = cohort
    export_explicit_route(trained, tmp_path)
    meta = json.loads((tmp_path / "explicit_route.json").read_text())
    route = ExplicitRoute(tmp_path / MODEL_FILE, meta, threads=1)
    x = np.stack([biomarker_vector(s) for s in summaries])
    np.testing.assert_allclose(route.probabilities(x), trained.pipeline.predict_proba(x), atol=1e-5)
    block = route.predict(summaries[0])
    assert set(block["probabilities"]) == set(CLASSES)
    assert block["leading_class"] == max(block["probabilities"], key=block["probabilities"].get)
    assert 1 <= len(block["top_biomarkers"]) <= 5
    assert all(b["name"] in VECTOR.names and b["contribution"] > 0 for b in block["top_biomarkers"])
    s = dict(summaries[0], explicit_route=block)
    validate_summary(s)


def test_a_bundle_from_another_vector_is_refused(trained, tmp_path):
    from device.errors import ModelError

    export_explicit_route(trained, tmp_path)
    meta = json.loads((tmp_path / "explicit_route.json").read_text())
    meta["feature_names"] = meta["feature_names"][:-1]
    with pytest.raises(ModelError, match="biomarker vector differs"):
        ExplicitRoute(tmp_path / MODEL_FILE, meta)


def test_the_route_travels_in_the_signed_bundle_and_runs_at_session_end(
    trained, model, onnx_fp32, keypair, testdata, tmp_path
):
    """build_bundle stores the route beside the network; `analyze` with that bundle (the
    kiosk's frame path on a real video) adds the route's block to the summary."""
    from device.models.classifier import load_classifier
    from device.session.analyze import analyze_video
    from device.session.timeline import Segment, Timeline
    from device.vision.frame_path import FramePipeline

    route_dir = tmp_path / "route"
    route_dir.mkdir()
    entry = export_explicit_route(trained, route_dir)
    bundle = route_bundle(
        tmp_path / "bundle", model, onnx_fp32, keypair[0], "explicit_route", route_dir, entry
    )
    clf = load_classifier(bundle, keypair[2], threads=1)
    timeline = Timeline(
        [Segment("baseline", "neutral", 0, 1, True), Segment("happy", "happiness", 1, 2.4)]
    )
    s = analyze_video(
        testdata / "video" / "single_face.mp4",
        timeline,
        FramePipeline(classifier=clf),
        progress=False,
    )
    block = s["explicit_route"]
    assert set(block["probabilities"]) == set(CLASSES)
    assert sum(block["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert len(block["top_biomarkers"]) <= 5
