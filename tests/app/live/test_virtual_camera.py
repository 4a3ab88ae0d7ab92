"""The virtual camera: YUYV frames that decode back to the picture, the V4L2 format request, a start-up
check that names what is missing, and the worker writing every composited frame to a file or a pipe that
stands in for the v4l2loopback device (which this machine cannot load)."""
import os
import struct
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.live.buffers import LatestBuffer
from app.live.compositing import CompositedFrame
from app.live.viewers import Viewers
from app.live.virtual_camera import (
    V4L2_PIX_FMT_YUYV,
    DeviceFacts,
    RawOutput,
    VirtualCameraError,
    VirtualCameraWorker,
    device_facts,
    device_problems,
    format_request,
    output_problems,
    to_yuyv,
    vidioc_s_fmt,
)
from tests.app.clock_helpers import wait_until


@pytest.fixture(scope="module")
def picture(shared_file):
    return cv2.imread(str(shared_file("media/images/office_three_people.jpg")))


def test_yuyv_frames_decode_back_to_the_picture(picture):
    yuyv = to_yuyv(picture)
    height, width = picture.shape[:2]
    assert yuyv.shape == (height, width * 2) and yuyv.dtype == np.uint8
    back = cv2.cvtColor(yuyv.reshape(height, width, 2), cv2.COLOR_YUV2BGR_YUYV)
    assert np.abs(back.astype(int) - picture).mean() < 4


def test_yuyv_is_limited_range_as_cameras_give_it():
    black_and_white = np.zeros((4, 4, 3), np.uint8)
    black_and_white[:, 2:] = 255
    yuyv = to_yuyv(black_and_white)
    assert 16 <= yuyv[:, 0::2].min() and yuyv[:, 0::2].max() <= 235


def test_the_format_request_is_struct_v4l2_format_for_yuyv_output():
    request = format_request(640, 480)
    pointer = struct.calcsize("P")
    assert len(request) == pointer + 200
    assert struct.unpack_from("=I", request, 0) == (2,)                 # V4L2_BUF_TYPE_VIDEO_OUTPUT
    width, height, pixel_format, field, bytes_per_line, size = struct.unpack_from("=6I", request, pointer)
    assert (width, height, field, bytes_per_line, size) == (640, 480, 1, 1280, 640 * 480 * 2)
    assert pixel_format == V4L2_PIX_FMT_YUYV == 0x56595559


@pytest.mark.skipif(struct.calcsize("P") != 8, reason="the request number of 64-bit kernels")
def test_the_request_number_is_vidioc_s_fmt():
    assert vidioc_s_fmt() == 0xC0D05605


def facts(**changes):
    known = dict(linux=True, module_loaded=True, exists=True, is_device=True, loopback=True, name="StyleCam",
                 writable=True)
    return DeviceFacts(**{**known, **changes})


def test_a_loaded_loopback_device_has_no_problems():
    assert device_problems("/dev/video10", facts()) == []


def test_without_the_module_the_check_says_how_to_load_it():
    [problem] = device_problems("/dev/video10", facts(module_loaded=False, exists=False))
    assert "v4l2loopback kernel module is not loaded" in problem
    assert "sudo modprobe v4l2loopback devices=1 video_nr=10 card_label=StyleCam exclusive_caps=1" in problem


@pytest.mark.parametrize("changes, expected", [
    (dict(exists=False), "does not exist"),
    (dict(is_device=False), "is not a video device"),
    (dict(loopback=False, name="HD Webcam"), "is a camera (HD Webcam), not a v4l2loopback device"),
    (dict(writable=False), "sudo usermod -aG video"),
    (dict(linux=False), "needs Linux"),
])
def test_each_problem_with_the_device_is_named(changes, expected):
    [problem] = device_problems("/dev/video10", facts(**changes))
    assert expected in problem


def test_on_this_machine_the_module_is_missing_and_the_check_says_so(tmp_path):
    if Path("/sys/module/v4l2loopback").exists():
        pytest.skip("v4l2loopback is loaded here")
    problems = output_problems("/dev/video10")
    assert problems and "modprobe v4l2loopback" in problems[0]


def test_the_facts_come_from_sysfs(tmp_path):
    sysfs = tmp_path / "sys"
    (sysfs / "module" / "v4l2loopback").mkdir(parents=True)
    device = sysfs / "devices" / "virtual" / "video4linux" / "video10"
    device.mkdir(parents=True)
    (device / "name").write_text("StyleCam\n")
    (sysfs / "class" / "video4linux").mkdir(parents=True)
    (sysfs / "class" / "video4linux" / "video10").symlink_to(device)
    found = device_facts("/dev/video10", sysfs)
    assert found.module_loaded and found.loopback and found.name == "StyleCam"


def test_a_path_outside_dev_takes_raw_frames_if_its_folder_exists(tmp_path):
    assert output_problems(str(tmp_path / "frames.yuv")) == []
    assert "does not exist" in output_problems(str(tmp_path / "absent" / "frames.yuv"))[0]


def test_a_file_standing_in_for_the_device_gets_whole_yuyv_frames(tmp_path, picture):
    path = tmp_path / "frames.yuv"
    output = RawOutput(str(path), 641, 481)                       # odd sizes are cut to even ones
    output.write(picture[:481, :641])
    output.write(picture[:481, :641])
    output.close()
    assert output.size == (640, 480)
    assert path.stat().st_size == 2 * 640 * 480 * 2


def test_a_character_device_gets_the_format_ioctl_first(picture):
    calls = []
    output = RawOutput("/dev/null", 640, 480, ioctl=lambda fd, request, data: calls.append((request, data)))
    output.write(picture[:480, :640])
    output.close()
    assert calls == [(vidioc_s_fmt(), format_request(640, 480))]


def test_a_device_that_refuses_the_format_says_so():
    def refuse(fd, request, data):
        raise OSError(22, "Invalid argument")

    with pytest.raises(VirtualCameraError, match="refused the format 640x480 YUYV"):
        RawOutput("/dev/null", 640, 480, ioctl=refuse)


def test_a_named_pipe_nobody_reads_yet_is_reported_not_waited_on(tmp_path):
    fifo = tmp_path / "camera.pipe"
    os.mkfifo(fifo)
    with pytest.raises(VirtualCameraError, match="nobody reads"):
        RawOutput(str(fifo), 64, 48)


def test_the_worker_writes_every_composited_frame_and_keeps_the_pipeline_awake(tmp_path, picture):
    fifo = tmp_path / "camera.pipe"
    os.mkfifo(fifo)
    received = bytearray()
    reader_open = threading.Event()

    descriptor = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)           # opening for reading must not wait
    os.set_blocking(descriptor, True)
    keep_open = os.open(fifo, os.O_WRONLY)       # a pipe without any writer reads as ended: hold one open

    def read():
        reader_open.set()
        with open(descriptor, "rb") as pipe:
            while len(received) < 3 * 640 * 480 * 2:
                chunk = pipe.read(65536)
                if not chunk:
                    return
                received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    composited, viewers = LatestBuffer(), Viewers(idle_after_s=1.0)
    worker = VirtualCameraWorker(str(fifo), composited, viewers)
    worker.open()                                                  # the start-up check passes
    worker.start()
    try:
        wait_until(lambda: viewers.wants("virtual-camera"))
        assert reader_open.wait(10)
        for version in (1, 2, 3):
            composited.put(CompositedFrame(picture[:480, :640], version))
            wait_until(lambda: worker.frames == version)
    finally:
        composited.close()
        worker.stop()
        os.close(keep_open)
        reader.join(10)
    assert len(received) == 3 * 640 * 480 * 2
    first = np.frombuffer(bytes(received[:640 * 480 * 2]), np.uint8).reshape(480, 640, 2)
    assert np.abs(cv2.cvtColor(first, cv2.COLOR_YUV2BGR_YUYV).astype(int) - picture[:480, :640]).mean() < 4
    assert worker.status()["frames"] == 3 and viewers.counts() == {}, "it stopped watching when it stopped"


def test_a_failing_output_is_reported_and_opened_again_at_the_next_frame(tmp_path, picture):
    opened = []

    def opener(path, width, height):
        opened.append(path)
        if len(opened) == 1:
            raise VirtualCameraError("the device went away")
        return RawOutput(path, width, height)

    composited = LatestBuffer()
    worker = VirtualCameraWorker(str(tmp_path / "frames.yuv"), composited, Viewers(idle_after_s=None), opener)
    worker.start()
    try:
        composited.put(CompositedFrame(picture[:480, :640], 1))
        wait_until(lambda: worker.error is not None)
        assert "the device went away" in worker.error
        composited.put(CompositedFrame(picture[:480, :640], 2))
        wait_until(lambda: worker.frames == 1)
    finally:
        composited.close()
        worker.stop()
    assert worker.error is None and len(opened) == 2
