"""What the camera check tells the patient to do, from the quality gate's verdict and where
the face is in the frame: one instruction with a direction (move left or right, closer or
further back, more light), never the camera picture.

Directions are the patient's own: the camera faces the patient, so a face on the left of
the camera's image belongs to someone sitting to their right of centre, who should move
to their left. The drawn marker mirrors the face's position for the same reason, so it
moves the way the patient moves, as a mirror would.
"""

from __future__ import annotations

from dataclasses import dataclass

# A face whose centre is further than this from the frame's centre (fraction of the
# frame width) is asked to move sideways; wider than FAR_WIDTH is asked to move back.
CENTRE_TOLERANCE = 0.15
FAR_WIDTH = 0.6


@dataclass(frozen=True)
class FacePlace:
    """Where the face is: centre and jaw width as fractions of the frame's width/height."""

    cx: float
    cy: float
    width: float

    @property
    def mirrored_cx(self) -> float:
        """Horizontal place as the patient sees it on the screen (a mirror)."""
        return 1.0 - self.cx


# Quality-gate reasons (device.vision.quality.REASONS) and what to ask for.
REASON_ADVICE = {
    "no_face": "camera.no_face",
    "several_faces": "camera.several_faces",
    "face_too_small": "camera.move_closer",
    "head_turned": "camera.head_turned",
    "blurred": "camera.blurred",
    "too_dark": "camera.too_dark",
    "too_bright": "camera.too_bright",
}

# The direction drawn as an arrow beside the silhouette (None: no arrow).
ARROWS = {"camera.move_left": "left", "camera.move_right": "right"}


def advice(reason: str | None, place: FacePlace | None) -> str | None:
    """The catalogue key of the one instruction to show, or None when the frame is good.
    Position comes first (it is what a patient can fix at once), then the gate's reason."""
    if reason in ("no_face", "several_faces") or place is None:
        return REASON_ADVICE.get(reason or "no_face", "camera.no_face")
    if place.cx < 0.5 - CENTRE_TOLERANCE:
        return "camera.move_left"
    if place.cx > 0.5 + CENTRE_TOLERANCE:
        return "camera.move_right"
    if place.width > FAR_WIDTH:
        return "camera.move_back"
    if reason is None:
        return None
    return REASON_ADVICE.get(reason, "camera.no_face")
