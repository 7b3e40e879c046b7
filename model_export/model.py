"""ResNet-18 in plain torch (no torchvision here) with the Self-Cure Network heads.

The network ends in global average pooling and a linear class head, so the class-activation
map is exact without gradients: CAM_k = sum_c W[k, c] * F[c]. The exported graph therefore
returns the last feature map next to the logits and the attention, and the device samples
the CAM at the landmarks (device/models/class_activation.py).
"""

from __future__ import annotations

import pickle

import torch
from torch import nn

from model_export.config import ModelConfig

# What torch.load and load_state_dict raise on a file that is not a checkpoint of this
# network: callers turn these into one clear InputError naming the file.
CHECKPOINT_ERRORS = (
    OSError,
    RuntimeError,
    KeyError,
    TypeError,
    ValueError,
    EOFError,
    pickle.UnpicklingError,
)

# Normalisation of the crop (uint8 RGB -> float). Stored in every bundle manifest.
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
INSTANCE_EPS = 1e-4  # added to the per-channel variance (on the 0..1 scale)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.down is None else self.down(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + idt)


class ResNet18SCN(nn.Module):
    """ResNet-18 backbone, 3-class head, sigmoid attention head on the pooled feature.

    forward(x) -> (logits, attention, features): `logits` are the raw class scores W f + b
    (not yet scaled), `attention` (N, 1) in 0..1, `features` the last map (N, C, h, w).
    Training uses attention * logits (Self-Cure Network); so does the device.
    """

    def __init__(self, cfg: ModelConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or ModelConfig()
        w = cfg.width
        self.stem = nn.Sequential(
            nn.Conv2d(3, w, 7, 2, 3, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        chans = [w, 2 * w, 4 * w, 8 * w]
        strides = [1, 2, 2, cfg.last_stride]
        layers, cin = [], w
        for c, s in zip(chans, strides, strict=True):
            layers.append(nn.Sequential(BasicBlock(cin, c, s), BasicBlock(c, c, 1)))
            cin = c
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.feature_dim = cin
        self.dropout = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        self.fc = nn.Linear(cin, cfg.num_classes)
        self.alpha = nn.Linear(cin, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for (
            blk
        ) in self.modules():  # zero-init the last BN of each block: trains faster from scratch
            if isinstance(blk, BasicBlock):
                nn.init.zeros_(blk.bn2.weight)

    def forward(self, x: torch.Tensor):
        f = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        pooled = self.dropout(f.mean(dim=(2, 3)))
        logits = self.fc(pooled)
        attention = torch.sigmoid(self.alpha(pooled))
        return logits, attention, f


def to_input(crops_uint8: torch.Tensor, norm: str = "instance") -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float, normalised as the device does it."""
    return normalise(to_unit(crops_uint8), norm)


def to_unit(crops_uint8: torch.Tensor) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float in 0..1 (where augmentation works)."""
    return crops_uint8.permute(0, 3, 1, 2).float() / 255.0


def normalise(x: torch.Tensor, norm: str = "instance") -> torch.Tensor:
    """(N, 3, H, W) in 0..1 -> the network's input (device/models/classifier.py does the same)."""
    if norm == "instance":
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = (x - mean).pow(2).mean(dim=(2, 3), keepdim=True).add(INSTANCE_EPS).sqrt()
        return (x - mean) / std
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


def model_config_from_dict(d: dict) -> ModelConfig:
    return ModelConfig(
        **{
            k: d[k]
            for k in ("num_classes", "width", "last_stride", "dropout", "input_norm")
            if k in d
        }
    )
