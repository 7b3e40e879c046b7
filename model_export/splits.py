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
