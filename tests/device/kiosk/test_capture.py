"""Capture and analysis threads: bounded queue, counted drops, timestamps on the timeline."""

from __future__ import annotations

import threading
import time

from device.kiosk.capture import CaptureSession
from device.session.timeline import Segment, Timeline
from device.vision.sources import VideoFileSource


def _wait(pred, timeout=20.0):
    end = time.monotonic() + timeout
    while not pred() and time.monotonic() < end:
        time.sleep(0.01)
    return pred()


def test_unpaced_capture_outruns_analysis_and_every_frame_is_accounted_for(video, pipeline):
    # Decoding a file unpaced is faster than the frame path: the 1-slot queue must drop,
    # count every drop, and never grow.
    cap = CaptureSession(lambda: VideoFileSource(video, loop=False), pipeline, queue_size=1)
    timeline = Timeline([Segment("a", "neutral", 0.0, 1000.0, baseline=True)])
    cap.begin_recording(timeline, time.monotonic())
    cap.start()
    assert _wait(lambda: cap.lost_reason is not None)  # the file ends: the "camera" is gone
    acc = cap.end_recording(drain_s=2.0)
    cap.stop()
    assert cap.lost_reason.startswith("camera_lost")
    assert cap.frames_captured == 72
    assert cap.frames_dropped > 0
    assert cap.frames_captured == cap.frames_analysed + cap.frames_dropped
    s = acc.summary({})
    assert s["session"]["frames_dropped"] == cap.frames_dropped
    assert s["segments"][0]["frames_dropped"] == cap.frames_dropped
    assert s["session"]["frames_seen"] == cap.frames_analysed


def test_paced_capture_keeps_up_and_stamps_frames_on_the_stimulus_clock(video, pipeline):
    cap = CaptureSession(
        lambda: VideoFileSource(video, loop=True), pipeline, paced=True, queue_size=8
    )
    cap.start()
    t0 = time.monotonic() + 0.3
    timeline = Timeline(
        [Segment("first", "neutral", 0.0, 0.5, baseline=True), Segment("second", "fear", 0.5, 1.0)]
    )
    cap.begin_recording(timeline, t0)
    time.sleep(1.6)
    acc = cap.end_recording()
    cap.stop()
    s = acc.summary({})
    first, second = s["segments"]
    # ~30 frames/s: each 0.5 s segment gets about 15 frames; none before t0 or after the end
    assert 10 <= first["frames_seen"] <= 17 and 10 <= second["frames_seen"] <= 17
    assert s["session"]["frames_seen"] == first["frames_seen"] + second["frames_seen"]
    assert cap.lost_reason is None


def test_a_camera_that_cannot_open_reports_instead_of_raising(pipeline):
    def broken():
        raise OSError("no /dev/video0")

    cap = CaptureSession(broken, pipeline)
    cap.start()
    assert cap.lost_reason.startswith("camera_unavailable") and "video0" in cap.lost_reason
    cap.stop()


def test_a_stalled_camera_is_noticed(pipeline):
    released = threading.Event()

    class Stuck:  # a camera whose read() hangs, as a wedged USB camera's does
        fps = 30.0

        def read(self):
            released.wait(10)
            return None

        def close(self):
            released.set()

    cap = CaptureSession(Stuck, pipeline, stall_s=0.3)
    cap.start()
    time.sleep(0.5)
    assert cap.check_health().startswith("camera_stalled")
    released.set()
    cap.stop()


def test_a_second_session_starts_from_clean_counters_and_status(video, pipeline):
    cap = CaptureSession(lambda: VideoFileSource(video, loop=True), pipeline, paced=True)
    cap.start()
    assert _wait(lambda: cap.status.stable_frames >= 3)
    cap.stop()
    cap.start()
    assert cap.status.stable_frames == 0 and cap.frames_captured <= 2
    cap.stop()
