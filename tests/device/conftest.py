from __future__ import annotations

import cv2
import numpy as np
import pytest

from device.vision.frame_path import FramePipeline


@pytest.fixture(scope="session")
def pipeline() -> FramePipeline:
    return FramePipeline()


def read_rgb(path) -> np.ndarray:
    bgr = cv2.imread(str(path))
    assert bgr is not None, f"cannot read {path}"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="session")
def single_face(testdata) -> np.ndarray:
    return read_rgb(testdata / "images" / "single_face.jpg")
