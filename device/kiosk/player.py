"""Clip playback: decode a stimulus clip with OpenCV and hand pygame a scaled surface.

The player is driven by the stimulus clock, not by the decoder: `surface_at(clip, t)`
returns the frame that belongs at `t` seconds into the clip, skipping frames when the
loop ran late, so the clip ends when its segment ends whatever the render rate. Audio, when
the pack has it, plays through pygame.mixer from the clip's start.
"""

from __future__ import annotations

import logging

import cv2
import pygame

from device.kiosk.stimulus import Clip

log = logging.getLogger(__name__)


class ClipPlayer:
    def __init__(self, area: tuple[int, int], audio: bool = True):
        self.area = area
        self._clip: Clip | None = None
        self._cap: cv2.VideoCapture | None = None
        self._fps = 30.0
        self._index = -1  # index of the last decoded frame
        self._surface: pygame.Surface | None = None
        self._sound: pygame.mixer.Sound | None = None
        self.audio = audio and self._init_mixer()
        self.frames_shown = 0

    @staticmethod
    def _init_mixer() -> bool:
        try:
            if not pygame.mixer.get_init():
                pygame.mixer.init()
            return True
        except pygame.error as exc:
            log.warning("no audio output (%s): clips play silently", exc)
            return False

    def _open(self, clip: Clip) -> None:
        self.close()
        self._cap = cv2.VideoCapture(str(clip.path))
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self._fps = fps if fps and fps > 0 else 30.0
        self._clip, self._index, self._surface = clip, -1, None
        if self.audio and clip.audio is not None:
            try:
                self._sound = pygame.mixer.Sound(str(clip.audio))
                self._sound.play()
            except pygame.error as exc:
                log.warning("%s: cannot play audio: %s", clip.audio, exc)

    def surface_at(self, clip: Clip, t: float) -> pygame.Surface | None:
        """The frame for `t` seconds into `clip`, scaled to fit the area (None before any)."""
        if clip is not self._clip:
            self._open(clip)
        want = int(t * self._fps)
        rgb = None
        while self._index < want and self._cap is not None:
            ok = self._cap.grab()
            if not ok:
                break
            self._index += 1
            if self._index == want:
                ok, bgr = self._cap.retrieve()
                if ok:
                    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if rgb is not None:
            h, w = rgb.shape[:2]
            scale = min(self.area[0] / w, self.area[1] / h)
            size = (max(1, int(w * scale)), max(1, int(h * scale)))
            img = pygame.image.frombuffer(rgb.tobytes(), (w, h), "RGB")
            self._surface = pygame.transform.scale(img, size)
            self.frames_shown += 1
        return self._surface

    def close(self) -> None:
        if self._sound is not None:
            self._sound.stop()
            self._sound = None
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._clip = None
