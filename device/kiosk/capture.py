"""Capture and analysis off the player's thread, with a bounded queue between them.

    camera thread --(bounded queue, drop-oldest)--> analysis thread --> accumulator

The camera thread only reads frames and stamps them with the kiosk's monotonic clock, so
a frame's time is comparable with the player's stimulus clock; when analysis falls behind
the oldest queued frame is dropped and counted (in the accumulator, against the segment it
belonged to), never silently lost and never letting the queue grow. The analysis thread
runs the frame path and, while a recording is open, adds each result to the session
accumulator at `t - t0` on the stimulus timeline. Frames live only in the queue: nothing
is written anywhere.

A camera that stops delivering (end of stream, an exception, or no frame for
`stall_s`) sets `lost_reason`; the kiosk then ends the session as incomplete.

`replay=True` (the demo, with a video file standing in for the camera) makes a session
reproducible: when a recording begins the video restarts at its first frame and the
tracker is reset, the queue blocks instead of dropping, and each frame is stamped with
its index in the video (t0 + i / fps) rather than the arrival time; the end of the
recording waits until every frame up to the timeline's end has been analysed. The same
video and stimulus pack then give the same summary, frame for frame.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from device.kiosk.guidance import FacePlace
from device.session.accumulator import SessionAccumulator
from device.session.timeline import Timeline

log = logging.getLogger(__name__)


@dataclass
class CameraStatus:
    """What the camera-check screen shows: the latest frame's quality verdict."""

    t: float = 0.0
    ok: bool = False
    reason: str | None = "no_face"
    stable_frames: int = 0  # consecutive frames that passed the gate
    place: FacePlace | None = None  # where the face is (guidance only; no picture kept)


def face_place(pts68, shape) -> FacePlace | None:
    """The face's centre and jaw width as fractions of the frame, from its 68 points."""
    if pts68 is None:
        return None
    h, w = shape[:2]
    x, y = pts68[:, 0], pts68[:, 1]
    return FacePlace(
        float(x.mean()) / w, float(y.mean()) / h, float(x[:17].max() - x[:17].min()) / w
    )


class CaptureSession:
    def __init__(
        self,
        source_factory: Callable[[], object],
        pipeline,
        queue_size: int = 4,
        paced: bool = False,
        stall_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        class_names: tuple[str, ...] = (),
        replay: bool = False,
    ):
        self._source_factory = source_factory
        self.pipeline = pipeline
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self.paced = paced  # a video file standing in for a camera: deliver at its frame rate
        self.stall_s = stall_s
        self.clock = clock
        self.class_names = class_names
        self.replay = replay  # a video replayed frame by frame (see the module docstring)
        self._gen = 0  # recording number: frames of an earlier one never reach this one
        self._rewind = False
        self._replay_done = threading.Event()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._source = None
        self.status = CameraStatus()
        self.lost_reason: str | None = None
        self.frames_captured = 0
        self.frames_analysed = 0
        self.frames_dropped = 0
        self.last_frame_at: float | None = None
        self.started_at: float | None = None
        self._acc: SessionAccumulator | None = None
        self._t0 = 0.0
        self._t_end = float("inf")

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Open the camera and start both threads; a camera that cannot open sets lost_reason."""
        if self._threads:
            return
        self._stop.clear()
        # A new patient: nothing from the previous session may leak into this one.
        self.lost_reason = None
        self.status = CameraStatus()
        self.frames_captured = self.frames_analysed = self.frames_dropped = 0
        self.last_frame_at = None
        self.started_at = self.clock()
        try:
            self._source = self._source_factory()
        except Exception as exc:  # noqa: BLE001 - any open failure is reported, not raised
            self.lost_reason = f"camera_unavailable: {exc}"
            log.warning("camera could not be opened: %s", exc)
            return
        self.started_at = self.clock()  # the stall clock starts once the camera is open
        if hasattr(self.pipeline, "reset"):
            self.pipeline.reset()
        self._threads = [
            threading.Thread(target=self._capture_loop, name="emoface-capture", daemon=True),
            threading.Thread(target=self._analysis_loop, name="emoface-analysis", daemon=True),
        ]
        for th in self._threads:
            th.start()

    def stop(self) -> None:
        self._stop.set()
        for th in self._threads:
            th.join(timeout=2.0)
        self._threads = []
        if self._source is not None:
            try:
                self._source.close()
            except Exception:  # noqa: BLE001
                log.debug("closing the camera failed", exc_info=True)
            self._source = None
        while not self.queue.empty():
            try:
                _, rgb, _ = self.queue.get_nowait()
                self.queue.task_done()
            except (queue.Empty, ValueError):
                break
            if rgb is not None:  # captured, never analysed: counted as dropped
                with self._lock:
                    self.frames_dropped += 1

    @property
    def running(self) -> bool:
        return bool(self._threads) and self.lost_reason is None

    def check_health(self) -> str | None:
        """Called from the kiosk loop: notices a stalled camera. Returns lost_reason."""
        if self.lost_reason is None and self._threads:
            last = self.last_frame_at if self.last_frame_at is not None else self.started_at
            if last is not None and self.clock() - last > self.stall_s:
                self.lost_reason = f"camera_stalled: no frame for {self.stall_s:g} s"
                log.warning("%s", self.lost_reason)
        return self.lost_reason

    # -- recording ------------------------------------------------------------------------
    def begin_recording(self, timeline: Timeline, t0: float) -> None:
        """Frames captured from monotonic time t0 on land on `timeline` at t - t0."""
        with self._lock:
            self._acc = SessionAccumulator(timeline, self.class_names)
            self._t0 = t0
            self._t_end = t0 + timeline.end
            if self.replay:
                self._gen += 1
                self._replay_done.clear()
                self._rewind = True

    def end_recording(self, drain_s: float = 0.5) -> SessionAccumulator | None:
        """Let queued frames of the recording finish (at most `drain_s`), then close it."""
        if self.replay and drain_s > 0 and self._acc is not None:
            # every frame of the recording, however long the analysis takes to catch up
            drain_s = max(drain_s, 120.0)
            deadline = self.clock() + drain_s
            while self._threads and not self._replay_done.is_set() and self.clock() < deadline:
                time.sleep(0.005)
        deadline = self.clock() + drain_s
        while self._threads and self.queue.unfinished_tasks and self.clock() < deadline:
            time.sleep(0.005)
        with self._lock:
            acc, self._acc = self._acc, None
        return acc

    @property
    def recording(self) -> bool:
        return self._acc is not None

    # -- threads --------------------------------------------------------------------------
    def _capture_loop(self) -> None:
        src = self._source
        fps = float(getattr(src, "fps", 30.0) or 30.0)
        next_due = self.clock()
        gen, index, base, t_end = 0, 0, 0.0, float("inf")
        try:
            while not self._stop.is_set():
                if self._rewind:
                    with self._lock:
                        self._rewind = False
                        gen, index, base, t_end = self._gen, 0, self._t0, self._t_end
                    src.rewind()
                    self._put_blocking((0.0, None, gen))  # tells the analysis to reset the tracker
                frame = src.read()
                if frame is None:
                    self.lost_reason = "camera_lost: the camera stopped delivering frames"
                    log.warning("%s (after %d frames)", self.lost_reason, self.frames_captured)
                    return
                now = self.clock()
                if self.paced:
                    next_due += 1.0 / fps
                    delay = next_due - now
                    if delay > 0:
                        self._stop.wait(delay)
                        now = self.clock()
                    elif delay < -1.0:  # far behind (e.g. paused): resynchronise
                        next_due = now
                self.frames_captured += 1
                self.last_frame_at = now
                if self.replay:
                    t = base + index / fps if gen else now
                    index += 1
                    if gen and t > t_end:
                        self._replay_done.set()
                    self._put_blocking((t, frame.rgb, gen))
                else:
                    self._put((now, frame.rgb, 0))
        except Exception as exc:  # noqa: BLE001 - a camera failure ends the session, not the app
            self.lost_reason = f"camera_lost: {type(exc).__name__}: {exc}"
            log.warning("camera failed: %s", exc)

    def _put_blocking(self, item) -> None:
        while not self._stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _put(self, item) -> None:
        try:
            self.queue.put_nowait(item)
            return
        except queue.Full:
            pass
        try:
            old_t = self.queue.get_nowait()[0]  # drop the oldest: keep latency bounded
            self.queue.task_done()
            self._count_drop(old_t)
        except queue.Empty:
            pass
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            self._count_drop(item[0])

    def _count_drop(self, t: float) -> None:
        with self._lock:
            self.frames_dropped += 1
            if self._acc is not None and self._t0 <= t <= self._t_end:
                self._acc.add_dropped(1, t - self._t0)

    def _analysis_loop(self) -> None:
        while not self._stop.is_set():
            try:
                t, rgb, gen = self.queue.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                if rgb is None:  # a replayed recording starts: a fresh track, as on frame 0
                    if hasattr(self.pipeline, "reset"):
                        self.pipeline.reset()
                    continue
                result = self.pipeline.process(rgb)
                place = face_place(result.pts68, rgb.shape)
                del rgb
                st = self.status
                stable = st.stable_frames + 1 if result.ok else 0
                self.status = CameraStatus(t, result.ok, result.reason, stable, place)
                with self._lock:
                    self.frames_analysed += 1
                    current = gen == self._gen if self.replay else True
                    if current and self._acc is not None and self._t0 <= t <= self._t_end:
                        self._acc.add(t - self._t0, result)
            except Exception:  # noqa: BLE001 - one bad frame must not stop the analysis
                log.exception("frame analysis failed")
            finally:
                self.queue.task_done()
