"""Source specs: each kind the user can type is recognised; impossible specs fail clearly."""
import cv2
import numpy as np
import pytest

from app.live.sources import SourceError, VideoCaptureSource, csi_pipeline, open_source, parse_source

SELFIE = "media/videos/selfie_webcam_10s.mp4"
PHOTO = "media/images/astronaut.png"


def test_a_number_is_a_camera_index():
    source = parse_source("0")
    assert (source.kind, source.target, source.live) == ("camera", 0, True)


def test_an_existing_dev_path_is_a_v4l2_device():
    source = parse_source("/dev/null")
    assert (source.kind, source.target, source.live) == ("device", "/dev/null", True)


def test_a_missing_dev_path_is_a_device_that_is_not_plugged_in_yet():
    source = parse_source("/dev/video97")           # a live source: StyleCam starts and retries
    assert (source.kind, source.live) == ("device", True)
    with pytest.raises(SourceError, match="/dev/video97 does not exist: is the camera plugged in"):
        open_source(source)


def test_a_video_file_is_a_looping_video(shared_file):
    source = parse_source(str(shared_file(SELFIE)))
    assert (source.kind, source.loop, source.live) == ("video", True, False)


def test_a_video_file_can_be_told_not_to_loop(shared_file):
    assert parse_source(str(shared_file(SELFIE)), loop=False).loop is False


def test_an_image_file_is_a_still_image(shared_file):
    assert parse_source(str(shared_file(PHOTO))).kind == "image"


@pytest.mark.parametrize("url", ["rtsp://10.0.0.2:554/stream", "http://cam.local/video.mjpg",
                                 "https://example.org/live.m3u8", "http://cam.local/video", "rtsp://cam/clip.mp4"])
def test_a_url_is_a_network_stream(url):
    source = parse_source(url)
    assert (source.kind, source.target, source.live) == ("stream", url, True)


@pytest.mark.parametrize("url", ["https://example.org/media/clip.mp4", "http://10.0.0.5:8000/Holiday.MOV",
                                 "https://cdn.example.org/v/talk.webm?signature=abc&expires=99",
                                 "http://host/a.mkv", "http://host/a.avi", "https://host/a.m4v"])
def test_a_url_to_a_video_file_is_a_looping_video_not_a_live_stream(url):
    source = parse_source(url)
    assert (source.kind, source.live, source.loop) == ("video", False, True)
    assert source.target == url and source.remote


def test_a_url_to_a_video_file_can_be_told_not_to_loop():
    assert parse_source("https://example.org/clip.mp4", loop=False).loop is False


def test_a_video_file_url_is_paced_by_the_rate_the_capture_reports_and_loops(shared_file):
    capture = cv2.VideoCapture(str(shared_file(SELFIE)))       # what FFmpeg would give for the URL
    reader = VideoCaptureSource(capture, parse_source("https://example.org/selfie_webcam_10s.mp4"))
    try:
        assert reader.fps == pytest.approx(29.97, abs=0.01) and reader.loop
    finally:
        reader.release()


def test_a_video_file_urls_password_never_appears_in_its_description():
    source = parse_source("https://me:hunter2@example.org/clip.mp4")
    assert source.describe() == "https://me:***@example.org/clip.mp4"


def test_a_stream_password_never_appears_in_its_description():
    source = parse_source("rtsp://admin:hunter2@10.0.0.2/live")
    assert "hunter2" not in source.describe()
    assert source.describe() == "rtsp://admin:***@10.0.0.2/live"


def test_text_with_a_bang_is_a_gstreamer_pipeline():
    pipeline = "videotestsrc ! videoconvert ! appsink"
    source = parse_source(pipeline)
    assert (source.kind, source.target) == ("gstreamer", pipeline)


def test_csi_builds_the_nvargus_pipeline_for_that_sensor():
    source = parse_source("csi://1")
    assert source.kind == "gstreamer"
    assert source.target == csi_pipeline(1)
    assert source.target.startswith("nvarguscamerasrc sensor-id=1 ! ")
    assert "width=1280, height=720, framerate=30/1" in source.target
    assert source.target.endswith("appsink drop=true max-buffers=1")


def test_csi_options_set_resolution_rate_and_flip():
    target = parse_source("csi://0?width=1920&height=1080&fps=60&flip=2").target
    assert "width=1920, height=1080, framerate=60/1" in target
    assert "nvvidconv flip-method=2" in target


def test_every_flip_method_of_nvvidconv_is_accepted():
    for flip in range(8):
        assert f"nvvidconv flip-method={flip} " in parse_source(f"csi://0?flip={flip}").target


def test_csi_takes_resolution_from_the_keyword_options_too():
    assert "width=640, height=480, framerate=15/1" in parse_source("csi://0", width=640, height=480,
                                                                   fps=15).target


@pytest.mark.parametrize("spec, message", [
    ("csi://x", "csi://N"),
    ("csi://0?zoom=2", "zoom"),                               # unknown option
    ("csi://0?width=-5", "width=.*positive integer"),
    ("csi://0?height=0", "height=.*positive integer"),
    ("csi://0?fps=29.97", "fps=.*positive integer"),
    ("csi://0?width=", "width=.*positive integer"),
    ("csi://0?width=²", "width=.*positive integer"),                 # a digit to str.isdigit, not to int()
    ("csi://0?flip=8", "flip=.*0-7"),                        # nvvidconv has flip methods 0 to 7 only
    ("csi://0?flip=-1", "flip=.*0-7"),
    ("csi://0?fps=30&fps=60", "given twice"),
])
def test_a_bad_csi_spec_says_what_is_wrong(spec, message):
    with pytest.raises(SourceError, match=message):
        parse_source(spec)


def test_a_file_that_does_not_exist_is_refused_by_name(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(SourceError, match="nope.mp4.*no such file"):
        parse_source(str(missing))


def test_an_empty_spec_is_refused():
    with pytest.raises(SourceError, match="empty source"):
        parse_source("  ")


def test_an_opened_video_reads_frames_at_the_files_rate(shared_file):
    reader = open_source(parse_source(str(shared_file(SELFIE))))
    try:
        frame = reader.read()
        assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
        assert reader.fps == pytest.approx(29.97, abs=0.01)
    finally:
        reader.release()


def test_a_looping_video_starts_again_after_its_last_frame(shared_file):
    reader = open_source(parse_source(str(shared_file(SELFIE))))
    first = reader.read()
    frame_count = int(reader.capture.get(cv2.CAP_PROP_FRAME_COUNT))
    reader.capture.set(cv2.CAP_PROP_POS_FRAMES, frame_count - 1)
    try:
        assert reader.read() is not None      # the last frame
        assert np.array_equal(reader.read(), first)
        assert not reader.ended
    finally:
        reader.release()


def test_a_video_that_does_not_loop_ends(shared_file):
    reader = open_source(parse_source(str(shared_file(SELFIE)), loop=False))
    reader.capture.set(cv2.CAP_PROP_POS_FRAMES, int(reader.capture.get(cv2.CAP_PROP_FRAME_COUNT)) - 1)
    try:
        assert reader.read() is not None
        assert reader.read() is None
        assert reader.ended
    finally:
        reader.release()


def test_an_image_is_served_as_the_same_frame_over_and_over(shared_file):
    reader = open_source(parse_source(str(shared_file(PHOTO)), fps=12))
    assert reader.fps == 12
    assert np.array_equal(reader.read(), reader.read())


def test_a_file_opencv_cannot_decode_fails_to_open_with_a_hint(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(SourceError, match="cannot open video junk.mp4"):
        open_source(parse_source(str(junk)))


@pytest.mark.parametrize("sample", [SELFIE, PHOTO])
def test_a_file_deleted_after_it_was_given_fails_to_open_saying_it_is_gone(shared_file, tmp_path, sample):
    copy = tmp_path / shared_file(sample).name
    copy.write_bytes(shared_file(sample).read_bytes())
    source = parse_source(str(copy))
    copy.unlink()
    with pytest.raises(SourceError) as caught:
        open_source(source)
    assert str(caught.value) == f"cannot open {source.kind} file {copy.name}: No such file or directory"
