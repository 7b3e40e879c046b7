"""Head pose (yaw, pitch, roll in degrees) from the 68 points with cv2.solvePnP.

REFERENCE_68 is a mean 3D face in the 68-point layout, in camera axes (x right, y down,
z away from the camera), centred on the nose bridge and scaled to an outer-eye-corner
distance of 1. It was made once from the landmark model's own 3D output on the frontal
faces in shared/testdata (Procrustes-aligned, averaged, made left-right symmetric), so
yaw and roll are zero for a face looking straight at the camera; pitch zero is the
average of those faces.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

REFERENCE_68 = np.array(
    [
        [-0.768, -0.1557, 0.9588],
        [-0.7576, 0.0085, 1.0173],
        [-0.7469, 0.175, 1.0296],
        [-0.7125, 0.4004, 0.9935],
        [-0.6393, 0.615, 0.8991],
        [-0.5222, 0.7991, 0.733],
        [-0.4201, 0.8989, 0.6407],
        [-0.245, 1.0341, 0.4823],
        [0.0, 1.0931, 0.4074],
        [0.245, 1.0341, 0.4823],
        [0.4201, 0.8989, 0.6407],
        [0.5222, 0.7991, 0.733],
        [0.6393, 0.615, 0.8991],
        [0.7125, 0.4004, 0.9935],
        [0.7469, 0.175, 1.0296],
        [0.7576, 0.0085, 1.0173],
        [0.768, -0.1557, 0.9588],
        [-0.6348, -0.3839, 0.4086],
        [-0.5684, -0.4567, 0.3157],
        [-0.462, -0.4973, 0.239],
        [-0.3227, -0.4964, 0.1725],
        [-0.1634, -0.4807, 0.1401],
        [0.1634, -0.4807, 0.1401],
        [0.3227, -0.4964, 0.1725],
        [0.462, -0.4973, 0.239],
        [0.5684, -0.4567, 0.3157],
        [0.6348, -0.3839, 0.4086],
        [0.0, -0.2232, 0.1318],
        [0.0, -0.0471, 0.0246],
        [0.0, 0.0814, -0.0667],
        [0.0, 0.1888, -0.0896],
        [-0.1578, 0.2768, 0.1536],
        [-0.0918, 0.3271, 0.134],
        [0.0, 0.3342, 0.1156],
        [0.0918, 0.3271, 0.134],
        [0.1578, 0.2768, 0.1536],
        [-0.5, -0.2082, 0.4048],
        [-0.422, -0.2452, 0.3259],
        [-0.3084, -0.2531, 0.3052],
        [-0.1922, -0.1964, 0.3453],
        [-0.2915, -0.1729, 0.3228],
        [-0.4065, -0.1744, 0.3427],
        [0.1922, -0.1964, 0.3453],
        [0.3084, -0.2531, 0.3052],
        [0.422, -0.2452, 0.3259],
        [0.5, -0.2082, 0.4048],
        [0.4065, -0.1744, 0.3427],
        [0.2915, -0.1729, 0.3228],
        [-0.3337, 0.5267, 0.3925],
        [-0.1983, 0.4741, 0.1909],
        [-0.0989, 0.4636, 0.145],
        [0.0, 0.4774, 0.1376],
        [0.0989, 0.4636, 0.145],
        [0.1983, 0.4741, 0.1909],
        [0.3337, 0.5267, 0.3925],
        [0.2494, 0.6353, 0.3049],
        [0.0987, 0.7295, 0.2238],
        [0.0, 0.7404, 0.2158],
        [-0.0987, 0.7295, 0.2238],
        [-0.2494, 0.6353, 0.3049],
        [-0.2903, 0.5299, 0.3733],
        [-0.0811, 0.5293, 0.2085],
        [0.0, 0.5341, 0.1981],
        [0.0811, 0.5293, 0.2085],
        [0.2903, 0.5299, 0.3733],
        [0.083, 0.6289, 0.2417],
        [0.0, 0.6357, 0.2304],
        [-0.083, 0.6289, 0.2417],
    ],
    dtype=np.float64,
)


OUTER_CANTHAL_MM = 90.0  # average adult outer-eye-corner distance: REFERENCE_68's unit in mm


def head_pose(pts68: np.ndarray, width: int, height: int) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees; camera approximated by focal length = frame width."""
    return head_pose_and_position(pts68, width, height)[0]


def head_pose_and_position(
    pts68: np.ndarray, width: int, height: int
) -> tuple[tuple[float, float, float], np.ndarray]:
    """((yaw, pitch, roll) degrees, head position (x, y, z) in mm in camera axes).

    The position is solvePnP's translation of REFERENCE_68 (unit: outer-eye-corner distance)
    times OUTER_CANTHAL_MM: a face-size scale, good for speeds, not a calibrated distance.
    """
    f = float(width)
    cam = np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], np.float64)
    ok, rvec, tvec = cv2.solvePnP(
        REFERENCE_68, pts68[:, :2].astype(np.float64), cam, None, flags=cv2.SOLVEPNP_SQPNP
    )
    if not ok:
        return (float("nan"), float("nan"), float("nan")), np.full(3, np.nan)
    r, _ = cv2.Rodrigues(rvec)
    # r maps face axes to camera axes; decompose as R = Ry(yaw) @ Rx(pitch) @ Rz(roll)
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, -r[1, 2]))))
    yaw = math.degrees(math.atan2(r[0, 2], r[2, 2]))
    roll = math.degrees(math.atan2(r[1, 0], r[1, 1]))
    return (yaw, pitch, roll), tvec.reshape(3) * OUTER_CANTHAL_MM
