"""The device's classifier against the torch network it was exported from, and the exact CAM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from device.models.class_activation import (
    class_activation_map,
    class_maps,
    landmark_attention,
    sample_at_points,
)
from device.models.classifier import load_classifier
from device.vision.facemap import ORGAN_KEYS, REGION_KEYS, REGIONS
from model_export.model import to_input


def test_cam_is_exact_decomposition_of_the_logit(model, crops):
    """mean over the map of sum_c W[k,c] F[c] + b_k is the logit: the CAM needs no gradients."""
    with torch.no_grad():
        logits, _, feats = model(to_input(torch.from_numpy(crops)))
    w, b = model.fc.weight.detach().numpy(), model.fc.bias.detach().numpy()
    for i in range(len(crops)):
        for k in range(3):
            raw = np.tensordot(w[k], feats[i].numpy(), axes=(0, 0))
            assert raw.mean() + b[k] == pytest.approx(float(logits[i, k]), abs=1e-4)


def test_cam_sampling_bilinear_and_bounded():
    cam = np.zeros((7, 7))
    cam[3, 3] = 1.0
    # crop 112 px, 16 px per cell: the centre of cell (3, 3) is pixel 3*16+7.5 = 55.5
    pts = np.array([[55.5, 55.5], [55.5 + 8, 55.5], [0.0, 0.0], [500.0, -20.0]])
    v = sample_at_points(cam, pts, 112)
    assert v[0] == pytest.approx(1.0)
    assert v[1] == pytest.approx(0.5)
    assert v[2] == 0.0 and v[3] == 0.0
    feats = np.random.default_rng(0).normal(size=(4, 7, 7))
    m = class_activation_map(feats, np.ones((3, 4)), 1, contrastive=False)
    assert m.min() >= 0 and m.max() == pytest.approx(1.0)


def test_contrastive_maps_keep_only_what_separates_the_classes():
    """A channel every class weighs alike is no evidence (softmax ignores a shared shift);
    the channel only class 2 weighs is all of class 2's map."""
    rng = np.random.default_rng(3)
    feats = rng.uniform(0, 1, size=(2, 5, 5))
    shared_only = class_maps(feats, np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]))
    assert np.all(shared_only == 0.0)
    w = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 3.0]])
    maps = class_maps(feats, w)
    np.testing.assert_allclose(maps[2], feats[1] / feats[1].max(), atol=1e-6)
    assert np.all(maps[:2] == 0.0)  # classes 0 and 1 have only evidence against them
    plain = class_maps(feats, w, contrastive=False)
    assert plain[0].max() == pytest.approx(1.0)  # the plain map would light up the shared part


def test_region_attention_follows_the_map():
    """A CAM lit only around the inner eye corners ranks regions 6 and 7 first."""
    from device.vision.alignment import AlignmentParams, template

    size = 112
    feats = np.zeros((1, 14, 14))
    pts = np.tile(np.array([[56.0, 100.0]]), (68, 1))  # everything on the chin...
    inner = [38, 39, 40, 42, 43, 47]
    tpl = template(AlignmentParams(size=size))
    pts[inner[:3]] = tpl[0] + [8, 0]
    pts[inner[3:]] = tpl[1] - [8, 0]
    for x, y in pts[inner]:
        feats[0, int(y // 8), int(x // 8)] = 1.0
    _, regions, organs = landmark_attention(feats, np.array([[1.0], [0.0], [0.0]]), pts, size)
    assert regions.shape == (3, len(REGION_KEYS)) and organs.shape == (3, len(ORGAN_KEYS))
    top2 = {REGION_KEYS[i] for i in np.argsort(-regions[0])[:2]}
    assert top2 == {"R6", "R7"}, (REGIONS[6], REGIONS[7], regions[0])


def test_device_classifier_matches_torch(make_bundle, keypair, model, crops):
    clf = load_classifier(make_bundle(), keypair[2], threads=1)
    with torch.no_grad():
        logits, att, feats = model(to_input(torch.from_numpy(crops)))
    pts = np.random.default_rng(1).uniform(10, 100, size=(68, 2))
    for i in range(len(crops)):
        out = clf.infer(crops[i], pts)
        ref = torch.softmax(att[i] * logits[i], 0).numpy()
        np.testing.assert_allclose(out.probs, ref, atol=1e-4)
        assert out.attention == pytest.approx(float(att[i]), abs=1e-5)
        assert out.predicted == int(ref.argmax())
        _, ref_regions, ref_organs = landmark_attention(
            feats[i].numpy(), model.fc.weight.detach().numpy(), pts, 112
        )
        np.testing.assert_allclose(out.region_attention, ref_regions, atol=1e-3)
        np.testing.assert_allclose(out.organ_attention, ref_organs, atol=1e-3)
        assert out.probs.sum() == pytest.approx(1.0)
        assert out.region_attention.min() >= 0 and out.region_attention.max() <= 1


def test_classifier_rejects_wrong_crop(make_bundle, keypair):
    clf = load_classifier(make_bundle(), keypair[2], threads=1)
    with pytest.raises(ValueError, match="crop must be 112x112x3 uint8"):
        clf.infer(np.zeros((224, 224, 3), np.uint8), np.zeros((68, 2)))
