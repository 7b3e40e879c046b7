"""The frame path's speed-ups change no number: the pruned iris model, the batch-2 call,
the eyes on two threads, the iris beside the classifier and the classifier's lookup-table
preprocessing, each against the plain way on real frames."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from device.errors import ModelError
from device.models.classifier import load_classifier
from device.models.landmark_store import model_path
from device.models.runtimes import open_model
from device.models.runtimes.tflite_prune import keep_outputs, schema
from device.vision.face_landmarker import (
    IRIS_INPUT,
    LEFT_EYE_CORNERS,
    RIGHT_EYE_CORNERS,
    FaceLandmarker,
    Roi,
)
from device.vision.frame_path import FramePipeline, PipelineConfig
from device.vision.sources import VideoFileSource
from model_export.model import to_input


@pytest.fixture(scope="module")
def frames(testdata) -> list[np.ndarray]:
    with VideoFileSource(testdata / "video" / "single_face.mp4") as src:
        return [f.rgb for _, f in zip(range(24), src, strict=False)]


@pytest.fixture(scope="module")
def whole_iris():
    """The iris model as shipped: both outputs, one eye per call."""
    return open_model("litert", model_path("iris_landmark"), threads=1)


def plain_eye(rgb: np.ndarray, pts: np.ndarray, flip: bool) -> tuple[Roi, np.ndarray]:
    """One eye's crop and model input, written the plain way (crop, copy, convert)."""
    corners = LEFT_EYE_CORNERS if flip else RIGHT_EYE_CORNERS
    a, b = pts[corners[0], :2], pts[corners[1], :2]
    ends = (b, a) if flip else (a, b)
    angle = math.atan2(float(ends[1][1] - ends[0][1]), float(ends[1][0] - ends[0][0]))
    centre = (a + b) / 2
    roi = Roi(float(centre[0]), float(centre[1]), float(np.linalg.norm(b - a)) * 2.3, angle)
    crop = cv2.warpAffine(rgb, roi.to_crop(IRIS_INPUT), (IRIS_INPUT, IRIS_INPUT))
    if flip:
        crop = crop[:, ::-1]
    return roi, (np.ascontiguousarray(crop).astype(np.float32) * (1.0 / 255.0))[None]


def plain_iris(model, rgb: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """The iris step the plain way: the whole model, one call per eye."""
    out = []
    for flip in (False, True):
        roi, x = plain_eye(rgb, pts, flip)
        iris = model.run(x)["output_iris"].reshape(5, 3).copy()
        if flip:
            iris[:, 0] = IRIS_INPUT - iris[:, 0]
        out.append(roi.from_crop(iris, IRIS_INPUT))
    return np.concatenate(out)


def _n_operators(model: bytes) -> int:
    return schema.Model.GetRootAsModel(model, 0).Subgraphs(0).OperatorsLength()


def test_pruning_drops_the_eye_contour_branch_and_keeps_the_iris_numbers(frames, whole_iris):
    data = model_path("iris_landmark").read_bytes()
    pruned = keep_outputs(data, ["output_iris"])
    assert _n_operators(pruned) < _n_operators(data) - 40  # the contour branch is gone
    pts = FaceLandmarker(threads=1).track(frames[0]).points
    cut = open_model("litert", model_path("iris_landmark"), threads=1, outputs=("output_iris",))
    assert cut.output_names == ["output_iris"]
    for flip in (False, True):
        _, x = plain_eye(frames[0], pts, flip)
        np.testing.assert_array_equal(cut.run(x)["output_iris"], whole_iris.run(x)["output_iris"])


def test_pruning_an_unknown_output_names_the_outputs():
    with pytest.raises(ModelError, match="output_iris"):
        keep_outputs(model_path("iris_landmark").read_bytes(), ["no_such"], where="iris")
    with pytest.raises(ModelError, match="no_such"):
        open_model("litert", model_path("iris_landmark"), threads=1, outputs=("no_such",))


def test_a_batch_of_two_eyes_is_two_single_calls(whole_iris):
    x = np.random.default_rng(0).random((2, IRIS_INPUT, IRIS_INPUT, 3), dtype=np.float32)
    both = open_model(
        "litert", model_path("iris_landmark"), threads=1, batch=2, outputs=("output_iris",)
    )
    one_by_one = np.concatenate([whole_iris.run(x[i : i + 1])["output_iris"] for i in (0, 1)])
    np.testing.assert_array_equal(both.run(x)["output_iris"].reshape(2, 15), one_by_one)


@pytest.mark.parametrize("threads", [1, 2])
def test_the_landmarker_gives_the_plain_iris_exactly(frames, whole_iris, threads):
    lm = FaceLandmarker(threads=threads)
    assert lm.parallel == (threads == 2)
    for rgb in frames:
        res = lm.process(rgb)
        assert res.points is not None and res.points.shape == (478, 3)
        np.testing.assert_array_equal(res.points[468:], plain_iris(whole_iris, rgb, res.points))


def test_a_wrong_eye_would_be_caught(frames, whole_iris):
    """Guard: the comparison above sees a one-pixel shift of the left eye's crop."""
    lm = FaceLandmarker(threads=1)
    res = lm.process(frames[0])
    moved = res.points.copy()
    moved[list(LEFT_EYE_CORNERS), 0] += 1.0
    assert np.abs(plain_iris(whole_iris, frames[0], moved)[5:] - res.points[473:]).max() > 0.1


def test_iris_beside_the_classifier_gives_the_sequential_result(
    frames, make_bundle, keypair, model
):
    bundle = make_bundle()
    one = FramePipeline(
        PipelineConfig(threads=1), classifier=load_classifier(bundle, keypair[2], threads=1)
    )
    two = FramePipeline(
        PipelineConfig(threads=2), classifier=load_classifier(bundle, keypair[2], threads=2)
    )
    assert two.landmarker.parallel and two.classifier.threads == 1
    classified = 0
    for rgb in frames:
        a, b = one.process(rgb), two.process(rgb)
        assert (a.ok, a.reason, a.n_faces) == (b.ok, b.reason, b.n_faces)
        np.testing.assert_array_equal(a.mesh, b.mesh)
        np.testing.assert_array_equal(a.features, b.features)
        if a.classifier is not None:
            classified += 1
            np.testing.assert_array_equal(a.classifier.probs, b.classifier.probs)
    assert classified > 0
    # and the classifier still agrees with the torch network it came from
    crop = cv2.resize(frames[0][60:300, 200:440], (112, 112))
    with torch.no_grad():
        logits, att, _ = model(to_input(torch.from_numpy(crop[None])))
    ref = torch.softmax(att[0] * logits[0], 0).numpy()
    np.testing.assert_allclose(
        two.classifier.infer(crop, np.full((68, 2), 56.0)).probs, ref, atol=1e-4
    )


@pytest.mark.parametrize("norm", ["instance", "fixed"])
def test_lookup_table_preprocessing_is_the_exact_normalisation(frames, make_bundle, keypair, norm):
    clf = load_classifier(make_bundle(), keypair[2], threads=1)
    clf._norm = norm
    rng = np.random.default_rng(1)
    crops = [cv2.resize(frames[3][60:300, 200:440], (112, 112))] + [
        rng.integers(0, 256, (112, 112, 3), dtype=np.uint8) for _ in range(3)
    ]
    for crop in crops:
        x = crop.astype(np.float64) / 255.0
        if norm == "instance":
            mean = x.mean(axis=(0, 1))
            ref = (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=(0, 1)) + clf._eps)
        else:
            ref = (x - clf._mean.astype(np.float64)) / clf._std.astype(np.float64)
        got = clf.preprocess(crop)
        assert got.shape == (1, 3, 112, 112) and got.dtype == np.float32
        np.testing.assert_allclose(got[0], ref.transpose(2, 0, 1), atol=2e-6, rtol=0)


def _assert_same_result(a, b) -> None:
    assert (a.ok, a.reason, a.n_faces) == (b.ok, b.reason, b.n_faces)
    if a.mesh is None:
        assert b.mesh is None
        return
    np.testing.assert_array_equal(a.mesh, b.mesh)
    np.testing.assert_array_equal(a.features, b.features)
    assert (a.classifier is None) == (b.classifier is None)
    if a.classifier is not None:
        np.testing.assert_array_equal(a.classifier.probs, b.classifier.probs)
        np.testing.assert_array_equal(a.classifier.region_attention, b.classifier.region_attention)


def test_a_stream_gives_what_process_gives_frame_by_frame(frames, make_bundle, keypair):
    """The next frame's landmarks on a worker change no number and no order, including a
    frame without a face in the middle (the track is lost and found again)."""
    bundle = make_bundle()
    one = FramePipeline(
        PipelineConfig(threads=1), classifier=load_classifier(bundle, keypair[2], threads=1)
    )
    two = FramePipeline(
        PipelineConfig(threads=2), classifier=load_classifier(bundle, keypair[2], threads=2)
    )
    clip = frames[:10] + [np.zeros_like(frames[0])] + frames[10:]
    items = [(i, rgb) for i, rgb in enumerate(clip)]
    streamed = list(two.stream(items, lambda item: item[1]))
    assert [item for item, _ in streamed] == items
    results = [r for _, r in streamed]
    assert results[10].reason == "no_face"
    assert sum(r.classifier is not None for r in results) > 0
    for rgb, got in zip(clip, results, strict=True):
        _assert_same_result(one.process(rgb), got)


def test_a_stream_stopped_early_starts_again_from_a_fresh_track(frames, make_bundle, keypair):
    clf = load_classifier(make_bundle(), keypair[2], threads=2)
    pipe = FramePipeline(PipelineConfig(threads=2), classifier=clf)
    stream = pipe.stream(frames)
    first = [next(stream)[1] for _ in range(3)]  # frame 3's landmarks are now in flight
    with pytest.raises(RuntimeError, match="already running a stream"):
        next(pipe.stream(frames))
    stream.close()
    again = [r for _, (_, r) in zip(range(3), pipe.stream(frames), strict=False)]
    assert len(again) == 3
    for a, b in zip(again, first, strict=True):
        _assert_same_result(a, b)
