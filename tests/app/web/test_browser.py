"""The page in a real headless Chromium, on the real server and pipeline with the selfie clip.

Driven by Playwright with Debian's chromium (no browser download): the page opens with the printed
token, the stream in it shows live frames, dragging the smile slider changes the face it shows,
without piling up requests, and "Project my face" shows its progress, then selects and shows the
projected face (with the stand-in perceptual network).

To know exactly what the page shows, a recorder keeps every frame the pipeline publishes to the stream
(its JPEG, and the versions its headers carry) for the last few seconds; each grab of the page's image is
matched to the frame it is (the same JPEG, decoded by Chromium), which says which camera frame and which
params it shows. The recorder sits where the frames are published, not on a second stream beside the
browser's: each stream client gets the newest frame whenever it is ready for one, so under load two
clients skip different frames, and the page may show one that a second client never received.
"""
import base64
import collections
import time
from dataclasses import replace

import cv2
import numpy as np
import pytest

from app.live.face_paste import prepare_face
from app.live.generation import FaceGenerator
from stylegan2.inference import InferenceGenerator
from tests.app.browser_pages import opened_page
from tests.app.projection_helpers import shrink

RECENT_PARTS = 90       # frames the recorder keeps: three seconds of stream
SAME_IMAGE = 3.0        # mean absolute difference below which a grab and a part are the same frame

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("chromium")]

GRAB_STREAM_IMAGE = """() => {
    const img = document.getElementById("stream");
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    canvas.getContext("2d").drawImage(img, 0, 0);
    return canvas.toDataURL("image/png");
}"""


@pytest.fixture(scope="module")
def browser_page(live_server, token, tmp_path_factory):
    """A fresh Chromium profile with the page opened from the link StyleCam prints."""
    with opened_page(tmp_path_factory.mktemp("chromium-profile"), live_server.port, token) as page:
        yield page


def stream_image(page) -> np.ndarray:
    """What the page's stream <img> shows right now, as a BGR image."""
    data_url = page.evaluate(GRAB_STREAM_IMAGE)
    png = base64.b64decode(data_url.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


class FrameRecorder:
    """Keeps the recent frames published to a view's buffer: (frame, faces and params version, jpeg)."""

    def __init__(self, frames, monkeypatch) -> None:
        self.parts = collections.deque(maxlen=RECENT_PARTS)
        publish = frames.put

        def put(frame):
            self.parts.append((frame.version, frame.faces_version, frame.params_version, frame.jpeg))
            return publish(frame)

        monkeypatch.setattr(frames, "put", put)

    def identify(self, shown: np.ndarray):
        """The recorded part the page's image is: (frame version, faces version, params version). Compared
        at a quarter of the size, which JPEG decodes fastest, and which is plenty to tell frames apart."""
        small = shrink(shown)
        distance, *versions = min(
            (np.abs(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_REDUCED_COLOR_4) - small).mean(),
             frame_version, faces_version, params_version)
            for frame_version, faces_version, params_version, jpeg in list(self.parts))
        assert distance < SAME_IMAGE, "the page shows no frame of the recent stream"
        return tuple(versions)


@pytest.fixture
def recorder(live_server, monkeypatch):
    return FrameRecorder(live_server.backend.live.frames, monkeypatch)


def grab_faces(page, recorder, selfie, min_params_version=0, count=5):
    """A few grabs of the page's image with a face pasted on, made from params ``min_params_version`` or
    newer: (frame version, faces version, image)."""
    grabs = []
    for _ in range(count * 4):
        shown = stream_image(page)
        frame_version, faces_version, params_version = recorder.identify(shown)
        if selfie.has_face(faces_version) and params_version >= min_params_version:
            grabs.append((frame_version, faces_version, shown))
            if len(grabs) == count:
                return grabs
        page.wait_for_timeout(150)
    raise AssertionError("the page showed too few such frames")


def wait_for(page, condition, timeout=30.0, what="condition"):
    """Wait on the page's clock, so that Playwright keeps delivering the page's events meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(100)


def click_project_my_face(page, stylecam, attempts=5):
    """Click "Project my face" with a face in view until a job starts and the page shows its progress. The
    clip has a face in all but 15 of its 300 frames; a click that lands in such a gap (the newest detection,
    by the time the request arrives, found no face) is answered "no face in view", as it should be."""
    for _ in range(attempts):
        wait_for(page, lambda: stylecam.status()["faces"] >= 1, what="a face in view")
        page.click("#project-camera")
        try:
            wait_for(page, lambda: page.locator("#project-progress").is_visible()
                     or "no face in view" in page.inner_text("#project-status"), what="the progress bar")
        except AssertionError:
            raise AssertionError(f"no progress bar; the page says: {page.inner_text('#project-status')}") from None
        if page.locator("#project-progress").is_visible():
            return
    raise AssertionError(f"no projection started in {attempts} clicks: {page.inner_text('#project-status')}")


def test_the_page_opens_with_the_token_and_hides_it_from_the_address_bar(browser_page):
    assert browser_page.title() == "StyleCam"
    assert "token" not in browser_page.url


def test_the_page_builds_one_slider_per_preset_with_its_label(browser_page):
    browser_page.wait_for_selector("#slider-smile")
    labels = browser_page.locator("#sliders .slider-label").all_inner_texts()
    assert labels == ["Overall style", "Hair colour", "Beard", "Smile"]


def test_the_stream_shows_live_frames(browser_page):
    wait_for(browser_page, lambda: browser_page.evaluate("document.getElementById('stream').naturalWidth") == 640,
             what="the first frame")
    first = stream_image(browser_page)
    browser_page.wait_for_timeout(500)
    assert first.shape == (480, 640, 3)
    assert np.abs(stream_image(browser_page).astype(int) - first).mean() > 1, "the image did not change"


def test_the_live_figures_show_the_running_pipeline(browser_page):
    wait_for(browser_page, lambda: browser_page.inner_text("#fig-device") == "cpu", what="the status panel")
    assert browser_page.inner_text("#source-state") == "live"
    assert browser_page.locator("#warning").is_hidden()


def test_dragging_the_smile_slider_changes_the_face_without_piling_up_requests(
        browser_page, live_server, recorder, selfie, render_face):
    before = live_server.backend.params.current().params
    wait_for(browser_page, lambda: len(recorder.parts) > 10, what="the recorder")
    grabs_before = grab_faces(browser_page, recorder, selfie)
    posts, in_flight, most_in_flight = [], set(), [0]

    def sent(request):
        if request.method == "POST" and request.url.endswith("/api/params"):
            posts.append(request.post_data_json)
            in_flight.add(request)
            most_in_flight[0] = max(most_in_flight[0], len(in_flight))

    browser_page.on("request", sent)
    browser_page.on("requestfinished", lambda request: in_flight.discard(request))
    browser_page.evaluate("""() => { window.inputEvents = 0;
        document.getElementById("slider-smile").addEventListener("input", () => window.inputEvents++); }""")

    browser_page.locator("#slider-smile").scroll_into_view_if_needed()
    box = browser_page.locator("#slider-smile").bounding_box()
    middle = box["y"] + box["height"] / 2
    browser_page.mouse.move(box["x"] + 2, middle)
    browser_page.mouse.down()
    for step in range(1, 41):
        browser_page.mouse.move(box["x"] + 2 + step * (box["width"] - 4) / 40, middle)
        browser_page.wait_for_timeout(10)
    browser_page.mouse.up()

    final = float(browser_page.input_value("#slider-smile"))
    assert final > 0.9
    wait_for(browser_page, lambda: live_server.backend.params.current().params.sliders["smile"] == final and not in_flight,
             what="the last slider value to reach the server")
    assert 1 <= len(posts) < browser_page.evaluate("window.inputEvents"), "every input event sent a request"
    assert most_in_flight[0] == 1
    assert posts[-1] == {"sliders": {"smile": final}}

    after, version = live_server.backend.params.current().params, live_server.backend.params.current().version
    grabs_after = grab_faces(browser_page, recorder, selfie, min_params_version=version)

    faces = [render_face(before), render_face(after)]
    assert selfie.face_shown(grabs_before, faces) == 0, "before the drag the page must show the old face"
    assert selfie.face_shown(grabs_after, faces) == 1, "after the drag the page must show the face asked for"


def test_project_my_face_shows_progress_then_selects_and_shows_the_projection(
        browser_page, live_server, recorder, selfie, render_face):
    stylecam = live_server.backend
    assert browser_page.locator('input[name="mode"][value="me"]').is_disabled(), "nothing to select yet"
    click_project_my_face(browser_page, stylecam)
    wait_for(browser_page, lambda: stylecam.params.current().params.mode == "me", timeout=180, what="the projection to be selected")

    [saved] = stylecam.projection.projections()
    assert stylecam.params.current().params.projection == saved["name"]
    assert browser_page.inner_text("#project-status").startswith("Done")
    assert browser_page.is_checked('input[name="mode"][value="me"]')
    assert browser_page.get_attribute(f'#projections .pick[data-name="{saved["name"]}"]', "aria-checked") == "true"

    me, version = stylecam.params.current()
    grabs = grab_faces(browser_page, recorder, selfie, min_params_version=version)
    store = stylecam.projection.store
    own_face = prepare_face(FaceGenerator(InferenceGenerator(store.generator), stylecam.params.presets,
                                          projections=store).render(me))
    faces = [render_face(replace(me, mode="seed")), own_face]
    assert selfie.face_shown(grabs, faces) == 1, "the page must show the projected face"


def test_an_uploaded_photo_without_a_face_gets_a_clear_message(browser_page, shared_file):
    browser_page.set_input_files("#project-upload", str(shared_file("media/images/noface_cat.png")))
    wait_for(browser_page, lambda: "no face found" in browser_page.inner_text("#project-status"),
             what="the refusal to show")
    assert browser_page.is_enabled("#project-camera") and browser_page.is_enabled("#project-upload-button")
