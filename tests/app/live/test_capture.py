"""The capture worker: publishes the newest frame, loops files, survives a vanished source."""
import itertools
import threading

import cv2
import numpy as np
import pytest

from app.live.buffers import LatestBuffer
from app.live.capture import NOT_FOUND_TEXT, CaptureWorker, placeholder_frame
from app.live.sources import Source, SourceError, open_source, parse_source
from app.live.viewers import Viewers
from tests.app.clock_helpers import FakeClock, wait_until

SELFIE = "media/videos/selfie_webcam_10s.mp4"


class FakeCamera:
    """A live source that delivers the given frames, then nothing (as if unplugged)."""

    def __init__(self, frames, fail_with=None):
        self.frames = iter(frames)
        self.fail_with = fail_with   # An exception to raise once the frames run out.
        self.fps = None
        self.ended = False
        self.released = False

    def read(self):
        frame = next(self.frames, None)
        if frame is not None:
            return frame
        if self.fail_with:
            raise self.fail_with
        return None

    def release(self):
        self.released = True


class ScriptedOpener:
    """Each open() takes the next outcome: a FakeCamera, or an exception to raise."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.opened = []

    def __call__(self, source):
        outcome = self.outcomes.pop(0) if self.outcomes else SourceError("camera 0 is gone")
        if isinstance(outcome, Exception):
            raise outcome
        self.opened.append(outcome)
        return outcome


def frames_of(width, height, count):
    return [np.full((height, width, 3), index % 250 + 1, np.uint8) for index in range(count)]


@pytest.fixture
def run_worker():
    workers = []

    def run(source, opener=None, **options):
        buffer = LatestBuffer()
        worker = CaptureWorker(source, buffer, **({"opener": opener} if opener else {}), **options)
        workers.append(worker)
        worker.start()
        return worker, buffer

    yield run
    for worker in workers:
        worker.stop()


def collect(buffer, count, timeout=20.0):
    """The next ``count`` published frames (waiting on the buffer)."""
    items, version = [], buffer.version
    while len(items) < count:
        got = buffer.get_newer(version, timeout=timeout)
        assert got is not None, "no frame arrived"
        version, item = got
        items.append(item)
    return items


def write_numbered_clip(path, count, fps):
    """A tiny video whose frame i is a flat grey of 20 * (i + 1), so frames can be told apart."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    for index in range(count):
        writer.write(np.full((48, 64, 3), 20 * (index + 1), np.uint8))
    writer.release()


LIVE = Source("0", "camera", 0)


def test_the_selfie_clip_is_published_as_live_frames(shared_file, run_worker):
    worker, buffer = run_worker(parse_source(str(shared_file(SELFIE))))
    frame = collect(buffer, 3)[-1]
    assert frame.image.shape == (480, 640, 3)
    assert not frame.placeholder
    assert worker.state == "live"
    assert worker.status()["frame_size"] == [640, 480]


def test_a_video_file_loops(tmp_path, run_worker):
    clip = tmp_path / "numbered.avi"
    write_numbered_clip(clip, count=4, fps=200)
    worker, buffer = run_worker(parse_source(str(clip)))
    greys = [round(float(frame.image.mean()) / 20) for frame in collect(buffer, 10)]
    assert greys.count(greys[0]) >= 2, f"no frame came round again: {greys}"
    assert worker.state == "live"


def test_a_video_that_does_not_loop_ends_and_its_thread_exits(tmp_path, run_worker):
    clip = tmp_path / "numbered.avi"
    write_numbered_clip(clip, count=3, fps=200)
    worker, _ = run_worker(parse_source(str(clip), loop=False))
    wait_until(lambda: not worker._thread.is_alive())
    assert worker.state == "ended"


def test_a_lost_camera_publishes_a_placeholder_at_the_last_size(run_worker):
    camera = FakeCamera(frames_of(320, 240, 2))
    worker, buffer = run_worker(LIVE, ScriptedOpener(camera), first_retry=0.01, max_retry=0.08)
    wait_until(lambda: (buffer.latest() or (0, None))[1] is not None and buffer.latest()[1].placeholder)
    placeholder = buffer.latest()[1]
    assert placeholder.image.shape == (240, 320, 3)
    assert np.array_equal(placeholder.image, placeholder_frame((320, 240), LIVE.describe()))
    assert camera.released
    assert worker.error


def test_a_lost_camera_reports_reconnecting_then_lost(run_worker):
    states = []
    worker, buffer = run_worker(LIVE, ScriptedOpener(FakeCamera(frames_of(32, 24, 1))),
                                first_retry=0.01, max_retry=0.04)
    version = 0
    while "lost" not in states:
        version, _ = buffer.get_newer(version, timeout=20)
        states.append(worker.state)
    assert states.index("reconnecting") < states.index("lost")


def test_a_lost_camera_comes_back_live_when_it_reopens(run_worker):
    opener = ScriptedOpener(FakeCamera(frames_of(32, 24, 1)), SourceError("unplugged"),
                            FakeCamera(itertools.repeat(frames_of(32, 24, 1)[0])))
    worker, buffer = run_worker(LIVE, opener, first_retry=0.01)
    wait_until(lambda: len(opener.opened) == 2 and worker.state == "live")
    assert not buffer.latest()[1].placeholder
    assert worker.error is None


def test_an_exception_while_reading_is_a_lost_source_not_a_dead_thread(run_worker):
    camera = FakeCamera(frames_of(32, 24, 1), fail_with=cv2.error("driver hiccup"))
    worker, buffer = run_worker(LIVE, ScriptedOpener(camera), first_retry=0.01)
    wait_until(lambda: buffer.latest() is not None and buffer.latest()[1].placeholder)
    assert worker._thread.is_alive()
    assert worker.state in ("reconnecting", "lost")


def test_stop_joins_the_thread_and_releases_the_camera():
    camera = FakeCamera(itertools.repeat(frames_of(32, 24, 1)[0]))
    worker = CaptureWorker(LIVE, LatestBuffer(), opener=ScriptedOpener(camera))
    worker.start()
    worker.stop()
    assert not worker._thread.is_alive()
    assert camera.released
    assert "stylecam-capture" not in [thread.name for thread in threading.enumerate()]


def test_a_stopped_worker_reports_stopped():
    camera = FakeCamera(itertools.repeat(frames_of(32, 24, 1)[0]))
    worker = CaptureWorker(LIVE, LatestBuffer(), opener=ScriptedOpener(camera))
    worker.start()
    worker.stop()
    assert worker.status()["state"] == "stopped"


def test_open_fails_at_once_for_a_source_that_cannot_open(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    worker = CaptureWorker(parse_source(str(junk)), LatestBuffer())
    with pytest.raises(SourceError, match="cannot open video"):
        worker.open()


def test_open_fails_at_once_for_a_still_image_that_cannot_be_read(shared_file, tmp_path):
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(shared_file("media/images/astronaut.png").read_bytes()[:200])
    worker = CaptureWorker(parse_source(str(truncated)), LatestBuffer())
    with pytest.raises(SourceError, match="cannot read image truncated.png"):
        worker.open()


def test_a_live_source_that_is_down_at_start_up_is_not_found_with_a_placeholder_that_says_so():
    buffer = LatestBuffer()
    worker = CaptureWorker(LIVE, buffer, opener=ScriptedOpener(SourceError("cannot open camera 0")))
    worker.open()
    assert worker.state == "not_found"
    assert worker.status()["error"] == "cannot open camera 0"
    frame = buffer.latest()[1]
    assert frame.placeholder
    assert frame.image.tobytes() == placeholder_frame((640, 480), LIVE.describe(), NOT_FOUND_TEXT).tobytes()


def test_a_camera_that_never_delivered_stays_not_found_however_long_it_is_tried(run_worker):
    worker, _ = run_worker(LIVE, opener=ScriptedOpener(), first_retry=0.001, max_retry=0.004)
    states = []
    wait_until(lambda: states.append(worker.state) or len(states) > 50)
    assert set(states) <= {"starting", "not_found"} and "not_found" in states


def test_opening_a_camera_that_is_not_there_prints_no_opencv_warnings(capfd):
    with pytest.raises(SourceError, match="cannot open camera"):
        open_source(parse_source("7"))
    assert "WARN" not in capfd.readouterr().err


def test_a_live_source_that_is_down_at_start_up_goes_live_when_it_comes_up():
    opener = ScriptedOpener(SourceError("not yet"), SourceError("not yet"),
                            FakeCamera(itertools.repeat(frames_of(32, 24, 1)[0])))
    worker = CaptureWorker(LIVE, LatestBuffer(), opener=opener, first_retry=0.01)
    worker.open()
    worker.start()
    try:
        wait_until(lambda: worker.state == "live")
    finally:
        worker.stop()
    assert not worker.output.latest()[1].placeholder and worker.error is None


def test_the_placeholder_is_a_dark_frame_with_the_message():
    image = placeholder_frame((640, 480), "/dev/video0")
    assert image.shape == (480, 640, 3)
    assert np.median(image) == 32
    assert image.max() > 200                          # the white text is there


class SleepOnFakeClock(threading.Event):
    """The worker's stop flag, whose waits move the FakeClock on instead of sleeping: with each read's fake
    decoding time, that is the only time that passes, so pacing is checked exactly."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def wait(self, timeout=None):
        self.clock.now += timeout or 0.0
        return self.is_set()


class FakeVideoFile(FakeCamera):
    """A file source at ``fps``; each read costs ``decode_s`` of fake time; stops the worker after ``count``."""

    def __init__(self, clock, fps, decode_s, count, worker_box):
        super().__init__(frames_of(32, 24, count))
        self.clock, self.fps, self.decode_s, self.left, self.worker_box = clock, fps, decode_s, count, worker_box

    def read(self):
        self.clock.now += self.decode_s
        self.left -= 1
        if self.left == 0:
            self.worker_box[0].request_stop()
        return super().read()


def timestamps_of_paced_file(fps, decode_s, count=6):
    clock, box = FakeClock(), []
    opener = lambda source: FakeVideoFile(clock, fps, decode_s, count, box)  # noqa: E731
    worker = CaptureWorker(Source("clip.mp4", "video", "clip.mp4"), LatestBuffer(), opener=opener, clock=clock)
    worker._stop = SleepOnFakeClock(clock)
    box.append(worker)
    stamps = []
    worker.output.put = lambda frame: stamps.append(frame.timestamp)
    worker.run()
    return np.diff(stamps)


def test_a_video_file_is_paced_to_its_own_frame_rate():
    assert np.allclose(timestamps_of_paced_file(fps=10, decode_s=0.01), 0.1)


def test_a_file_that_decodes_slower_than_its_rate_is_not_rushed_to_catch_up():
    gaps = timestamps_of_paced_file(fps=10, decode_s=0.25)
    assert np.allclose(gaps, 0.25)


def test_with_nobody_watching_the_worker_idles_and_releases_a_camera_then_the_first_viewer_wakes_it():
    cameras = [FakeCamera(itertools.repeat(frames_of(32, 24, 1)[0])) for _ in range(2)]
    viewers = Viewers(idle_after_s=0.2)
    worker = CaptureWorker(LIVE, LatestBuffer(), viewers, opener=ScriptedOpener(*cameras))
    worker.open()
    worker.start()
    try:
        wait_until(lambda: worker.state == "idle")
        assert cameras[0].released                       # the camera's light goes off
        version = worker.output.version
        assert worker.output.get_newer(version, timeout=0.3) is None    # and nothing is read
        with viewers.watching():
            assert worker.output.get_newer(version, timeout=1.0) is not None
            assert worker.state == "live"
    finally:
        worker.stop()


def test_an_idle_video_file_pauses_where_it_is_instead_of_closing(shared_file):
    viewers = Viewers(idle_after_s=0.2)
    worker = CaptureWorker(parse_source(str(shared_file(SELFIE))), LatestBuffer(), viewers)
    worker.open()
    worker.start()
    try:
        wait_until(lambda: worker.state == "idle")
        assert worker._reader is not None                # kept open, unlike a camera
        paused_at = worker._reader.capture.get(cv2.CAP_PROP_POS_FRAMES)
        with viewers.watching():
            wait_until(lambda: worker.state == "live")
            assert worker._reader.capture.get(cv2.CAP_PROP_POS_FRAMES) >= paused_at
    finally:
        worker.stop()
