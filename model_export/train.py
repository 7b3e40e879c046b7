"""Training with the Self-Cure Network recipe (Wang et al., 2020), as used by Emoface.

- logits are scaled by the attention weight before the cross-entropy;
- rank regularisation: sort a batch by attention, split it into a high-importance group
  (the top `beta` share) and a low one, and ask their mean attention to differ by at least
  `margin`;
- relabelling from `relabel_epoch`: only a sample in the low-importance group whose top
  probability beats the probability of its current label by more than `relabel_threshold`
  takes the top class. (The published Emoface code relabels every sample: not copied.)
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from model_export.model import ModelConfig, ResNet18SCN, to_input

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 70
    batch_size: int = 32
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_decay: float = 0.9  # exponential, per epoch
    beta: float = 0.7  # share of a batch in the high-importance group
    margin: float = 0.15  # rank-regularisation margin
    rank_weight: float = 1.0
    relabel_epoch: int = 10
    relabel_threshold: float = 0.2
    frames_per_participant: int = 0  # frames drawn per participant per epoch (0 = all)
    seed: int = 0
    threads: int = 2
    augment: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


def rank_regularisation(attention: torch.Tensor, beta: float, margin: float) -> torch.Tensor:
    a = attention.view(-1)
    n = a.numel()
    k = int(math.ceil(beta * n))
    if n < 2 or k >= n:
        return a.new_zeros(())
    order = torch.argsort(a, descending=True)
    high, low = a[order[:k]], a[order[k:]]
    return F.relu(margin - (high.mean() - low.mean()))


def relabel(
    logits_scaled: torch.Tensor,
    attention: torch.Tensor,
    labels: torch.Tensor,
    beta: float,
    threshold: float,
) -> torch.Tensor:
    """New labels for one batch: only low-importance samples, only when the margin is beaten."""
    with torch.no_grad():
        a = attention.view(-1)
        n = a.numel()
        k = int(math.ceil(beta * n))
        low = torch.zeros(n, dtype=torch.bool)
        if k < n:
            low[torch.argsort(a, descending=True)[k:]] = True
        p = F.softmax(logits_scaled, dim=1)
        pmax, arg = p.max(dim=1)
        plab = p.gather(1, labels.view(-1, 1)).view(-1)
        change = low & (pmax - plab > threshold)
        return torch.where(change, arg, labels)


def augment(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Light photometric and geometric jitter (shift up to 4 px, brightness/contrast +-15 %)."""
    n = x.shape[0]
    pad = 4
    xp = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=rng).tolist()
    x = xp[:, :, dy : dy + x.shape[2], dx : dx + x.shape[3]]
    gain = 1 + 0.15 * (2 * torch.rand(n, 1, 1, 1, generator=rng) - 1)
    bias = 0.15 * (2 * torch.rand(n, 1, 1, 1, generator=rng) - 1)
    return x * gain + bias


class FrameSet:
    """All training frames in RAM: crops (N,S,S,3) uint8, labels, owner participant index."""

    def __init__(self, crops: np.ndarray, labels: np.ndarray, owner: np.ndarray):
        self.crops = torch.from_numpy(np.ascontiguousarray(crops))
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.original = self.labels.clone()
        self.owner = owner

    def epoch_indices(self, per_participant: int, rng: np.random.Generator) -> np.ndarray:
        if per_participant <= 0:
            return rng.permutation(len(self.labels))
        idx = []
        for o in np.unique(self.owner):
            members = np.flatnonzero(self.owner == o)
            idx.append(
                rng.choice(members, size=per_participant, replace=len(members) < per_participant)
            )
        return rng.permutation(np.concatenate(idx))


def train_model(
    frames: FrameSet,
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    init_state: dict | None = None,
    progress: bool = True,
) -> tuple[ResNet18SCN, list[dict]]:
    """Train from scratch (or from a pretrained backbone); returns the model and per-epoch stats."""
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    trng = torch.Generator().manual_seed(cfg.seed)
    model = ResNet18SCN(model_cfg)
    if init_state:
        own = model.state_dict()
        keep = {
            k: v
            for k, v in init_state.items()
            if k in own and own[k].shape == v.shape and not k.startswith("fc.")
        }
        model.load_state_dict(keep, strict=False)
        log.info("initialised %d tensors from the pretrained backbone", len(keep))
    opt = torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.lr_decay)
    history = []
    for epoch in range(cfg.epochs):
        model.train()
        idx = frames.epoch_indices(cfg.frames_per_participant, rng)
        tot, correct, loss_sum, relabelled, t0 = 0, 0, 0.0, 0, time.perf_counter()
        batches = [idx[i : i + cfg.batch_size] for i in range(0, len(idx), cfg.batch_size)]
        if len(batches) > 1 and len(batches[-1]) < 2:
            batches = batches[:-1]  # BatchNorm needs two samples
        bar = tqdm(
            batches,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            unit="batch",
            disable=not progress,
            leave=False,
        )
        for b in bar:
            bt = torch.from_numpy(b)
            x = to_input(frames.crops[bt])
            if cfg.augment:
                x = augment(x, trng)
            y = frames.labels[bt]
            logits, att, _ = model(x)
            scaled = att * logits
            loss = F.cross_entropy(scaled, y) + cfg.rank_weight * rank_regularisation(
                att, cfg.beta, cfg.margin
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            if epoch >= cfg.relabel_epoch:
                new = relabel(scaled.detach(), att.detach(), y, cfg.beta, cfg.relabel_threshold)
                relabelled += int((new != y).sum())
                frames.labels[bt] = new
            tot += len(b)
            correct += int((scaled.argmax(1) == y).sum())
            loss_sum += loss.item() * len(b)
            bar.set_postfix(loss=f"{loss_sum / tot:.3f}", acc=f"{correct / tot:.2f}")
        sched.step()
        stats = {
            "epoch": epoch + 1,
            "loss": round(loss_sum / max(tot, 1), 4),
            "train_frame_accuracy": round(correct / max(tot, 1), 4),
            "relabelled": relabelled,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        history.append(stats)
        log.info(
            "epoch %(epoch)d: loss %(loss).3f, frame acc %(train_frame_accuracy).2f, relabelled %(relabelled)d, %(seconds)ss",
            stats,
        )
    model.eval()
    return model, history


@torch.no_grad()
def predict_frames(
    model: ResNet18SCN, crops: np.ndarray, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame probabilities (softmax of attention-scaled logits) and attention."""
    model.eval()
    probs, atts = [], []
    for i in range(0, len(crops), batch_size):
        x = to_input(torch.from_numpy(np.ascontiguousarray(crops[i : i + batch_size])))
        logits, att, _ = model(x)
        probs.append(F.softmax(att * logits, dim=1).numpy())
        atts.append(att.view(-1).numpy())
    return np.concatenate(probs), np.concatenate(atts)
