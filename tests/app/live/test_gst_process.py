"""CSI cameras where OpenCV has no GStreamer: raw BGR frames read from a gst-launch-1.0 process (here a
stand-in process that writes known frames, as gst-launch-1.0 ... ! fdsink does)."""
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from app.live import sources
from app.live.gst_process import GstProcessSource, frame_shape, opencv_has_gstreamer, raw_pipeline
from app.live.sources import SourceError, csi_pipeline, open_source, parse_source

SHAPE = (6, 8, 3)


def frames(count: int) -> list:
    return [np.full(SHAPE, 40 * i, dtype=np.uint8) + np.arange(8, dtype=np.uint8)[None, :, None]
            for i in range(count)]


def writer(count: int, chunk: int = 1 << 20, then_sleep: float = 0.0) -> list:
    """A command that writes ``frames(count)`` to stdout in chunks of ``chunk`` bytes, then sleeps."""
    code = ("import sys, time, numpy as np\n"
            f"data = b''.join(np.full({SHAPE}, 40 * i, dtype=np.uint8).__add__("
            f"np.arange(8, dtype=np.uint8)[None, :, None]).tobytes() for i in range({count}))\n"
            f"for start in range(0, len(data), {chunk}):\n"
            f"    sys.stdout.buffer.write(data[start:start + {chunk}]); sys.stdout.buffer.flush()\n"
            f"time.sleep({then_sleep})\n")
    return [sys.executable, "-c", code]


def test_every_frame_the_process_writes_is_read_in_order_then_none_when_it_ends():
    source = GstProcessSource(writer(3), SHAPE)
    read = [source.read() for _ in range(3)]
    assert all(np.array_equal(a, b) for a, b in zip(read, frames(3)))
    assert source.read() is None
    source.release()


def test_a_frame_that_arrives_in_small_pieces_is_put_together():
    source = GstProcessSource(writer(2, chunk=7), SHAPE)
    assert np.array_equal(source.read(), frames(2)[0]) and np.array_equal(source.read(), frames(2)[1])
    source.release()


def test_release_stops_a_process_that_is_still_running():
    source = GstProcessSource(writer(1, then_sleep=60), SHAPE)
    assert source.read() is not None
    started = time.monotonic()
    source.release()
    assert source.process.poll() is not None and time.monotonic() - started < 5


def test_the_raw_pipeline_is_the_csi_pipeline_ending_in_stdout_without_stale_frames():
    pipeline = raw_pipeline(csi_pipeline(1, width=640, height=480, fps=30, flip=2))
    assert pipeline.startswith("nvarguscamerasrc sensor-id=1 ! ")
    assert "nvvidconv flip-method=2" in pipeline and "format=BGR !" in pipeline
    assert pipeline.endswith("! queue max-size-buffers=1 leaky=downstream ! fdsink fd=1 sync=false")
    assert "appsink" not in pipeline
    assert frame_shape(pipeline) == (480, 640, 3)


def test_opencv_build_information_tells_whether_it_has_gstreamer():
    assert opencv_has_gstreamer("  Video I/O:\n    GStreamer:                   YES (1.16.3)\n")
    assert not opencv_has_gstreamer("  Video I/O:\n    GStreamer:                   NO\n")


@pytest.fixture
def fake_gst_launch(tmp_path, monkeypatch):
    """A gst-launch-1.0 on the PATH that records its arguments and writes two 8x6 frames."""
    script = tmp_path / "gst-launch-1.0"
    body = "\n".join(writer(2)[2].splitlines())
    script.write_text(f"#!{sys.executable}\nimport sys\nopen({str(tmp_path / 'args')!r}, 'w').write("
                      f"'\\n'.join(sys.argv[1:]))\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setattr(sources, "opencv_has_gstreamer", lambda: False)
    return tmp_path / "args"


def test_a_csi_camera_opens_through_gst_launch_where_opencv_has_no_gstreamer(fake_gst_launch, caplog):
    source = open_source(parse_source("csi://0?width=8&height=6"))
    try:
        assert isinstance(source, GstProcessSource)
        assert np.array_equal(source.read(), frames(2)[0])
    finally:
        source.release()
    arguments = fake_gst_launch.read_text().split("\n")
    assert arguments[:3] == ["-q", "nvarguscamerasrc", "sensor-id=0"] and arguments[-2:] == ["fd=1", "sync=false"]
    assert "has no GStreamer: reading csi://0?width=8&height=6 through a gst-launch-1.0 process" in caplog.text


def test_without_gst_launch_either_the_csi_camera_cannot_open_and_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sources, "opencv_has_gstreamer", lambda: False)
    with pytest.raises(SourceError, match="built without GStreamer and gst-launch-1.0 is not installed "
                                          r"\(apt install gstreamer1.0-tools\)"):
        open_source(parse_source("csi://0"))


def test_a_process_that_cannot_start_is_an_os_error_not_a_hang():
    with pytest.raises(OSError):
        GstProcessSource(["/nonexistent/gst-launch-1.0"], SHAPE, popen=subprocess.Popen)
