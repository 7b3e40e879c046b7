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

import copy
import logging
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from model_export.config import AUGMENTS as AUGMENTS  # re-exported: augment() names
from model_export.config import ModelConfig, TrainConfig
from model_export.model import ResNet18SCN, normalise, to_input, to_unit

log = logging.getLogger(__name__)


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
        low = torch.zeros(n, dtype=torch.bool, device=a.device)
        if k < n:
            low[torch.argsort(a, descending=True)[k:]] = True
        p = F.softmax(logits_scaled, dim=1)
        pmax, arg = p.max(dim=1)
        plab = p.gather(1, labels.view(-1, 1)).view(-1)
        change = low & (pmax - plab > threshold)
        return torch.where(change, arg, labels)


def augment(x: torch.Tensor, rng: torch.Generator, mode: str = "light") -> torch.Tensor:
    """Jitter on (N, 3, H, W) crops in 0..1, before normalisation. Every mode but `none` mirrors:
    - mirror: left-right flip only (the face map is symmetric);
    - light: mirror and a shift of up to 4 px;
    - photometric: mirror, then per-crop gamma, tint, contrast, blur, sensor noise and an
      occasional grey crop, but no shift. A camera's blur and noise level are constant for
      one participant, so without this a network can recognise *who* a frame shows and
      learn the label of that person instead of the expression;
    - strong: photometric and the shift.
    """
    if mode == "none":
        return x
    n = x.shape[0]

    def u(*shape, lo=-1.0, hi=1.0):
        return lo + (hi - lo) * torch.rand(*shape, generator=rng)

    flip = torch.rand(n, generator=rng) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    if mode in ("light", "strong"):
        pad = 4
        xp = F.pad(x, (pad, pad, pad, pad), mode="replicate")
        dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=rng).tolist()
        x = xp[:, :, dy : dy + x.shape[2], dx : dx + x.shape[3]]
    if mode not in ("photometric", "strong"):
        return x
    img = x * (1 + 0.1 * u(n, 3, 1, 1))  # tint
    img = img.clamp(0, 1) ** torch.exp(0.25 * u(n, 1, 1, 1))  # gamma
    mean = img.mean(dim=(1, 2, 3), keepdim=True)
    img = (img - mean) * (1 + 0.2 * u(n, 1, 1, 1)) + mean  # contrast
    grey = torch.rand(n, generator=rng) < 0.1
    img = torch.where(grey.view(-1, 1, 1, 1), img.mean(1, keepdim=True).expand_as(img), img)
    img = _random_blur(img, torch.rand(n, generator=rng) * 1.2)
    sigma = (0.5 + 5.0 * torch.rand(n, 1, 1, 1, generator=rng)) / 255.0
    img = img + sigma * torch.randn(img.shape, generator=rng)
    return img.clamp(0, 1)


def _random_blur(img: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with a per-crop sigma in pixels (0 = unchanged)."""
    r = 3
    t = torch.arange(-r, r + 1, dtype=img.dtype)
    s = sigma.clamp(min=1e-3).view(-1, 1)
    k = torch.exp(-0.5 * (t.view(1, -1) / s) ** 2)
    k = k / k.sum(1, keepdim=True)  # (N, 2r+1)
    n, c, h, w = img.shape
    x = F.pad(img, (r, r, r, r), mode="replicate").reshape(1, n * c, h + 2 * r, w + 2 * r)
    kk = k.repeat_interleave(c, 0)
    x = F.conv2d(x, kk.view(n * c, 1, 1, -1), groups=n * c)
    x = F.conv2d(x, kk.view(n * c, 1, -1, 1), groups=n * c)
    return x.view(n, c, h, w)


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


def class_weights(labels: torch.Tensor, k: int, mode: str) -> torch.Tensor | None:
    """Inverse class frequency, mean 1 over the samples ("balanced"), or None."""
    if mode == "none":
        return None
    counts = torch.bincount(labels, minlength=k).float().clamp(min=1)
    return (len(labels) / (k * counts)).float()


def _optimiser(model: ResNet18SCN, cfg: TrainConfig, steps_per_epoch: int):
    if cfg.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.SGD(
            model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    if cfg.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, total_steps=max(1, cfg.epochs * steps_per_epoch), pct_start=0.2
        )
        return opt, sched, None
    return opt, None, torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.lr_decay)


def apply_relabel(frames: FrameSet, bt: torch.Tensor, new: torch.Tensor, max_share: float) -> int:
    """Write a batch's new labels, capped: at most `max_share` of all labels may differ from
    the original at any time (a change back to the original label is always allowed).
    Returns how many labels changed."""
    old = frames.labels[bt]
    changed = new != old
    if not changed.any():
        return 0
    budget = int(max_share * len(frames.labels)) - int((frames.labels != frames.original).sum())
    back = changed & (new == frames.original[bt])
    away = torch.nonzero(changed & ~back).view(-1)
    allowed = back.clone()
    allowed[away[: max(budget + int(back.sum()), 0)]] = True
    frames.labels[bt] = torch.where(allowed, new, old)
    return int(allowed.sum())


def train_model(
    frames: FrameSet,
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    init_state: dict | None = None,
    progress: bool = True,
    score_epoch=None,
) -> tuple[ResNet18SCN, list[dict]]:
    """Train from scratch (or from a pretrained backbone); returns the model and per-epoch stats.

    `score_epoch(model) -> float`, when given, scores the eval-mode network after every
    epoch (on held-out data); the returned model is the one of the best epoch."""
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    trng = torch.Generator().manual_seed(cfg.seed)
    dev = torch.device(cfg.device)
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
    model.to(dev)
    per_epoch = len(frames.epoch_indices(cfg.frames_per_participant, np.random.default_rng(0)))
    opt, step_sched, epoch_sched = _optimiser(
        model, cfg, max(1, math.ceil(per_epoch / cfg.batch_size))
    )
    weights = class_weights(frames.original, model_cfg.num_classes, cfg.class_weighting)
    weights = weights.to(dev) if weights is not None else None
    history, best = [], (-math.inf, None, 0)
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
            # on the CPU, with its own seeded generator, in 0..1 before normalisation
            x = normalise(
                augment(to_unit(frames.crops[bt]), trng, cfg.augment), model_cfg.input_norm
            )
            x, y = x.to(dev), frames.labels[bt].to(dev)
            logits, att, _ = model(x)
            scaled = att * logits
            loss = F.cross_entropy(
                scaled, y, weight=weights, label_smoothing=cfg.label_smoothing
            ) + cfg.rank_weight * rank_regularisation(att, cfg.beta, cfg.margin)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step_sched is not None and step_sched.last_epoch + 1 < step_sched.total_steps:
                step_sched.step()
            if epoch >= cfg.relabel_epoch:
                new = relabel(scaled.detach(), att.detach(), y, cfg.beta, cfg.relabel_threshold)
                relabelled += apply_relabel(frames, bt, new.cpu(), cfg.relabel_max_share)
            tot += len(b)
            correct += int((scaled.argmax(1) == y).sum())
            loss_sum += loss.item() * len(b)
            bar.set_postfix(loss=f"{loss_sum / tot:.3f}", acc=f"{correct / tot:.2f}")
        if epoch_sched is not None:
            epoch_sched.step()
        stats = {
            "epoch": epoch + 1,
            "loss": round(loss_sum / max(tot, 1), 4),
            # on the augmented crops and the current (possibly relabelled) labels
            "train_frame_accuracy": round(correct / max(tot, 1), 4),
            "relabelled": relabelled,
            "labels_changed": int((frames.labels != frames.original).sum()),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        if score_epoch is not None:
            model.eval()
            stats["val_score"] = round(float(score_epoch(model)), 4)
            if stats["val_score"] > best[0]:
                best = (stats["val_score"], copy.deepcopy(model.state_dict()), epoch + 1)
        history.append(stats)
        log.info(
            "epoch %(epoch)d: loss %(loss).3f, frame acc %(train_frame_accuracy).2f (augmented, current labels), "
            "relabelled %(relabelled)d (changed from the original: %(labels_changed)d), %(seconds)ss",
            stats,
        )
        if "val_score" in stats:
            log.info("epoch %d: held-out score %.4f", epoch + 1, stats["val_score"])
    if best[1] is not None:
        model.load_state_dict(best[1])
        log.info("kept epoch %d (held-out score %.4f)", best[2], best[0])
        for h in history:
            h["selected"] = h["epoch"] == best[2]
    recalibrate_batchnorm(model, frames, cfg.batch_size, rng)
    model.eval().cpu()
    return model, history


@torch.no_grad()
def recalibrate_batchnorm(
    model: ResNet18SCN,
    frames: FrameSet,
    batch_size: int,
    rng: np.random.Generator,
    max_frames: int = 2000,
) -> None:
    """Re-estimate BatchNorm statistics on clean (unaugmented) training crops, so the
    exported eval-mode network sees the statistics of what the kiosk will feed it."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the pass
    model.train()
    dev = next(model.parameters()).device
    idx = rng.permutation(len(frames.labels))[:max_frames]
    for i in range(0, len(idx), batch_size):
        b = torch.from_numpy(idx[i : i + batch_size])
        if len(b) > 1:
            model(to_input(frames.crops[b], model.cfg.input_norm).to(dev))
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.1


@torch.no_grad()
def predict_logits(
    model: ResNet18SCN, crops: np.ndarray, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame attention-scaled logits (N, K) and attention (N,) of the FP32 network."""
    model.eval()
    dev = next(model.parameters()).device
    scaled, atts = [], []
    for i in range(0, len(crops), batch_size):
        x = to_input(
            torch.from_numpy(np.ascontiguousarray(crops[i : i + batch_size])), model.cfg.input_norm
        )
        logits, att, _ = model(x.to(dev))
        scaled.append((att * logits).cpu().numpy())
        atts.append(att.view(-1).cpu().numpy())
    return np.concatenate(scaled), np.concatenate(atts)


def predict_frames(
    model: ResNet18SCN, crops: np.ndarray, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame probabilities (softmax of attention-scaled logits) and attention."""
    scaled, atts = predict_logits(model, crops, batch_size)
    return F.softmax(torch.from_numpy(scaled), dim=1).numpy(), atts
