"""Participant splits, participant-level metrics, and the Self-Cure training pieces."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from device.errors import InputError
from model_export.evaluate import auroc, evaluate_participants, participant_probs
from model_export.splits import kfold, train_test_split
from model_export.train import AUGMENTS, _random_blur, augment, rank_regularisation, relabel

PIDS = [f"p{i:02d}" for i in range(30)]
LABELS = [("BD", "MDD", "HC")[i % 3] for i in range(30)]


def test_split_by_participant_stratified_and_seeded():
    tr, te = train_test_split(PIDS, LABELS, 0.3, seed=4)
    assert not set(tr) & set(te) and set(tr) | set(te) == set(PIDS)
    lab = dict(zip(PIDS, LABELS, strict=True))
    assert sorted(lab[p] for p in te) == ["BD"] * 3 + ["HC"] * 3 + ["MDD"] * 3
    assert (tr, te) == train_test_split(PIDS, LABELS, 0.3, seed=4)
    assert te != train_test_split(PIDS, LABELS, 0.3, seed=5)[1]


def test_split_refuses_bad_input():
    with pytest.raises(InputError, match="need at least 2"):
        train_test_split(["a", "b", "c"], ["BD", "HC", "HC"], 0.3)
    with pytest.raises(InputError, match="not unique"):
        train_test_split(["a", "a"], ["BD", "BD"], 0.3)


def test_kfold_tests_everyone_once():
    folds = kfold(PIDS, LABELS, 5, seed=1)
    tested = list(itertools.chain.from_iterable(te for _, te in folds))
    assert sorted(tested) == sorted(PIDS)
    for tr, te in folds:
        assert not set(tr) & set(te) and len(tr) + len(te) == 30
        assert len({LABELS[PIDS.index(p)] for p in te}) == 3


def test_auroc_against_brute_force():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40).astype(bool)
    s = np.round(rng.random(40), 1)  # ties
    pairs = [(a, b) for a in s[y] for b in s[~y]]
    ref = np.mean([1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs])
    assert auroc(y, s) == pytest.approx(ref)
    assert np.isnan(auroc(np.ones(5, bool), s[:5]))


def test_participant_probability_is_attention_weighted():
    fp = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    np.testing.assert_allclose(participant_probs(fp, np.array([0.9, 0.1])), [0.9, 0.1, 0])


def test_metrics_on_known_predictions():
    y = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.2, 0.7, 0.1],
            [0.1, 0.8, 0.1],
            [0.1, 0.6, 0.3],
            [0.1, 0.1, 0.8],
            [0.2, 0.2, 0.6],
        ]
    )
    r = evaluate_participants(y, probs, ("BD", "MDD", "HC"), n_boot=200)
    assert r["accuracy"] == pytest.approx(5 / 6, abs=1e-4)
    assert r["confusion_matrix"]["rows_true_cols_predicted"] == [[1, 1, 0], [0, 2, 0], [0, 0, 2]]
    mdd = r["per_class"]["MDD"]
    assert mdd["precision"] == pytest.approx(2 / 3, abs=1e-4) and mdd["recall"] == 1.0
    assert mdd["f1"] == pytest.approx(0.8, abs=1e-4)
    lo, hi = r["per_class"]["HC"]["auroc_ci95"]
    assert lo <= r["per_class"]["HC"]["auroc"] <= hi


def test_rank_regularisation():
    att = torch.tensor([0.9, 0.8, 0.7, 0.2])  # beta 0.7 -> high = top 3
    high, low = att[:3].mean(), att[3]
    assert rank_regularisation(att, 0.7, 0.15) == 0  # gap 0.6 beats the margin
    close = torch.tensor([0.5, 0.5, 0.5, 0.45])
    assert float(rank_regularisation(close, 0.7, 0.15)) == pytest.approx(0.1, abs=1e-6)
    assert float(high - low) > 0.15


def test_relabel_only_low_importance_and_only_past_the_margin():
    labels = torch.tensor([0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    att = torch.tensor([0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1])  # low group: last 3
    confident_other = torch.tensor([0.0, 5.0, 0.0])  # p(class 1) far above p(label 0)
    slight_other = torch.tensor([0.0, 0.3, 0.0])  # max beats the label by less than 0.2
    logits = torch.stack([confident_other] * 7 + [confident_other, slight_other, confident_other])
    new = relabel(logits, att, labels, beta=0.7, threshold=0.2)
    assert new[:7].tolist() == [0] * 7, "high-importance samples must keep their label"
    assert new[7:].tolist() == [1, 0, 1]


def _face_like(seed: int = 0) -> torch.Tensor:
    """(4, 3, 32, 32) crops in 0..1 with edges, so blur has something to soften."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(4, 3, 32, 32, generator=g) * 0.2 + 0.4
    x[:, :, 8:24, 8:24] += 0.3
    return x.clamp(0, 1)


def test_augment_modes():
    x = _face_like()
    g = lambda: torch.Generator().manual_seed(7)  # noqa: E731
    assert torch.equal(augment(x, g(), "none"), x)
    mirrored = augment(x, g(), "mirror")
    for i in range(len(x)):  # each crop is either itself or its mirror image
        assert torch.equal(mirrored[i], x[i]) or torch.equal(mirrored[i], x[i].flip(2))
    photo = augment(x, g(), "photometric")
    assert photo.shape == x.shape and photo.min() >= 0.0 and photo.max() <= 1.0
    assert torch.equal(photo, augment(x, g(), "photometric")), "seeded: the same twice"
    assert not torch.equal(photo, augment(x, torch.Generator().manual_seed(8), "photometric"))
    # photometric jitter changes the pixels but not the layout: no shift
    unflipped = [i for i in range(len(x)) if torch.equal(mirrored[i], x[i])]
    for i in unflipped:
        corr = torch.corrcoef(torch.stack([photo[i].mean(0).flatten(), x[i].mean(0).flatten()]))
        assert corr[0, 1] > 0.8


def test_random_blur_is_a_per_crop_gaussian():
    x = _face_like()
    sigma = torch.tensor([0.0, 0.5, 1.0, 2.0])
    y = _random_blur(x, sigma)
    assert torch.allclose(y[0], x[0], atol=1e-5), "sigma 0 leaves the crop alone"
    grad = [float((y[i, :, :, 1:] - y[i, :, :, :-1]).abs().mean()) for i in range(4)]
    assert grad[0] > grad[1] > grad[2] > grad[3], "more sigma, softer edges"
    assert torch.allclose(y.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=0.02), "brightness kept"


def test_cli_offers_every_augmentation():
    from model_export import cli

    assert cli.AUGMENTS == AUGMENTS


def test_train_config_refuses_an_unknown_augmentation():
    from model_export.train import TrainConfig

    with pytest.raises(ValueError, match="augment 'heavy'"):
        TrainConfig(augment="heavy")
