"""Image-level figures with subject bootstrap, the subject split, the geometry baseline,
the capped relabelling and reproducible training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score, f1_score, precision_score, recall_score

from model_export.config import ModelConfig, TrainConfig
from model_export.evaluate import evaluate_images, format_comparison
from model_export.geometry_baseline import fit_baseline, predict
from model_export.splits import subject_split
from model_export.train import FrameSet, apply_relabel, class_weights, train_model

CLASSES = ("a", "b", "c")


def _predictions(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    pred = np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n))
    return y, pred


def test_image_figures_match_sklearn_and_carry_cis():
    y, pred = _predictions()
    r = evaluate_images(y, pred, CLASSES, n_boot=200)
    assert r["accuracy"] == pytest.approx((y == pred).mean(), abs=1e-4)
    assert r["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred), abs=1e-4)
    assert r["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"), abs=1e-4)
    rec, prec = recall_score(y, pred, average=None), precision_score(y, pred, average=None)
    for c, name in enumerate(CLASSES):
        pc = r["per_class"][name]
        assert pc["recall"] == pytest.approx(rec[c], abs=1e-4)
        assert pc["precision"] == pytest.approx(prec[c], abs=1e-4)
        assert pc["recall_ci95"][0] <= pc["recall"] <= pc["recall_ci95"][1]
    lo, hi = r["macro_f1_ci95"]
    assert lo < r["macro_f1"] < hi and hi - lo < 0.4
    assert np.asarray(r["confusion_matrix"]["rows_true_cols_predicted"]).sum() == len(y)
    assert r["bootstrap"]["unit"] == "image"
    assert "macro-F1" in format_comparison({"m": r})


def test_bootstrap_resamples_subjects_not_images():
    """Ten copies of each subject's image add no information: by subject, the CI is the
    one of the single images; by image, it would shrink about threefold."""
    y, pred = _predictions(60)
    one = evaluate_images(y, pred, CLASSES, groups=[str(i) for i in range(60)], n_boot=300, seed=1)
    y10, p10 = np.repeat(y, 10), np.repeat(pred, 10)
    groups = [str(i) for i in np.repeat(np.arange(60), 10)]
    by_subject = evaluate_images(y10, p10, CLASSES, groups=groups, n_boot=300, seed=1)
    by_image = evaluate_images(y10, p10, CLASSES, n_boot=300, seed=1)
    assert by_subject["bootstrap"]["unit"] == "subject" and by_subject["subjects"] == 60
    assert by_subject["macro_f1_ci95"] == one["macro_f1_ci95"]
    width = lambda r: r["macro_f1_ci95"][1] - r["macro_f1_ci95"][0]  # noqa: E731
    assert width(by_image) < 0.6 * width(by_subject)


def test_subject_split_keeps_each_subject_on_one_side():
    rng = np.random.default_rng(0)
    subjects = [f"s{rng.integers(0, 80)}" for _ in range(400)]
    labels = [int(s[1:]) % 3 for s in subjects]
    test, val, train = subject_split(subjects, labels, (0.2, 0.15), seed=3)
    assert sorted(np.concatenate([test, val, train]).tolist()) == list(range(400))
    sides = [{subjects[i] for i in part} for part in (test, val, train)]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert 0.12 < len(test) / 400 < 0.28 and 0.08 < len(val) / 400 < 0.22
    assert {labels[i] for i in test} == {0, 1, 2}
    again = subject_split(subjects, labels, (0.2, 0.15), seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(again, (test, val, train), strict=True))


def test_geometry_baseline_learns_where_the_points_are():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(68, 2))
    y = rng.integers(0, 3, 300)
    canon = base + rng.normal(scale=0.05, size=(300, 68, 2))
    canon[:, 48:68, 1] += 0.08 * y[:, None]  # the mouth moves with the class
    model = fit_baseline(canon[:200], y[:200], canon[200:250], y[200:250])
    assert (predict(model, canon[250:]) == y[250:]).mean() > 0.9


def test_relabelling_can_never_change_more_than_its_share():
    labels = np.zeros(100, np.int64)
    frames = FrameSet(np.zeros((100, 4, 4, 3), np.uint8), labels, np.arange(100))
    total = 0
    for start in range(0, 100, 20):
        bt = torch.arange(start, start + 20)
        total += apply_relabel(frames, bt, torch.ones(20, dtype=torch.long), max_share=0.1)
    assert int((frames.labels != frames.original).sum()) == 10 == total
    # going back to the original label is always allowed
    back = apply_relabel(frames, torch.arange(0, 20), torch.zeros(20, dtype=torch.long), 0.1)
    assert back == 10 and int((frames.labels != frames.original).sum()) == 0


def test_balanced_class_weights():
    w = class_weights(torch.tensor([0, 0, 0, 1]), 2, "balanced")
    assert torch.allclose(w, torch.tensor([4 / 6, 2.0]))
    assert class_weights(torch.tensor([0, 1]), 2, "none") is None


def test_same_seed_and_threads_give_the_same_model():
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 255, size=(12, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(12) % 3
    cfg = TrainConfig(
        epochs=2,
        batch_size=6,
        threads=2,
        optimizer="adamw",
        schedule="onecycle",
        lr=0.003,
        class_weighting="balanced",
        relabel_epoch=1,
        augment="strong",
    )

    def once(seed):
        m, h = train_model(
            FrameSet(crops, labels, np.arange(12)),
            ModelConfig(width=16),
            TrainConfig(**{**cfg.as_dict(), "seed": seed}),
            progress=False,
        )
        return m.state_dict(), h

    (a, ha), (b, hb), (c, _) = once(0), once(0), once(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["loss"] for h in ha] == [h["loss"] for h in hb]
    assert not all(torch.equal(a[k], c[k]) for k in a)
