"""Participant-level splits: never by frame, stratified by label, reproducible from a seed."""

from __future__ import annotations

import numpy as np

from device.errors import InputError


def _by_label(pids: list[str], labels: list[str], seed: int) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    groups: dict[str, list[str]] = {}
    for pid, lab in sorted(zip(pids, labels, strict=True)):
        groups.setdefault(lab, []).append(pid)
    for lab in sorted(groups):
        rng.shuffle(groups[lab])
    return groups


def train_test_split(
    pids: list[str], labels: list[str], test_fraction: float = 0.3, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Stratified hold-out of whole participants. Each class keeps at least one participant on each side."""
    if len(set(pids)) != len(pids):
        raise InputError("participant ids are not unique")
    if not 0 < test_fraction < 1:
        raise InputError(f"test fraction {test_fraction} must be between 0 and 1")
    train, test = [], []
    for lab, members in _by_label(pids, labels, seed).items():
        if len(members) < 2:
            raise InputError(
                f"class {lab} has {len(members)} participant(s): need at least 2 to hold one out"
            )
        k = min(max(1, round(test_fraction * len(members))), len(members) - 1)
        test += members[:k]
        train += members[k:]
    return sorted(train), sorted(test)


def kfold(
    pids: list[str], labels: list[str], k: int = 5, seed: int = 0
) -> list[tuple[list[str], list[str]]]:
    """Stratified k-fold by participant: (train, test) per fold; every participant is tested once."""
    if k < 2:
        raise InputError("cross-validation needs k >= 2")
    folds: list[list[str]] = [[] for _ in range(k)]
    offset = 0
    for _, members in sorted(_by_label(pids, labels, seed).items()):
        for i, pid in enumerate(members):
            folds[(i + offset) % k].append(pid)
        offset += len(members)
    if any(not f for f in folds):
        raise InputError(f"{len(pids)} participants cannot fill {k} folds")
    return [
        (sorted(p for j, f in enumerate(folds) if j != i for p in f), sorted(folds[i]))
        for i in range(k)
    ]


def subject_split(
    subjects: list[str], labels: list, fractions: tuple[float, ...], seed: int = 0
) -> list[np.ndarray]:
    """Image indices split by subject (a subject's images all land on one side), stratified
    by each subject's most frequent label: one index array per fraction, then the rest.
    Within a label, subjects are shuffled and taken until each side holds its share of images."""
    if not 0 < sum(fractions) < 1 or any(f < 0 for f in fractions):
        raise InputError(f"split fractions {fractions} must be >= 0 and sum to less than 1")
    by_subject: dict[str, list[int]] = {}
    for i, s in enumerate(subjects):
        by_subject.setdefault(s, []).append(i)
    groups: dict[str, list[str]] = {}
    for s, idx in sorted(by_subject.items()):
        labs = [str(labels[i]) for i in idx]
        groups.setdefault(max(sorted(set(labs)), key=labs.count), []).append(s)
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(len(fractions) + 1)]
    for lab in sorted(groups):
        members = list(groups[lab])
        rng.shuffle(members)
        total = sum(len(by_subject[s]) for s in members)
        bounds = np.cumsum(fractions) * total
        taken = 0
        for s in members:
            side = int(np.searchsorted(bounds, taken, side="right"))
            parts[side] += by_subject[s]
            taken += len(by_subject[s])
    return [np.asarray(sorted(p), int) for p in parts]
