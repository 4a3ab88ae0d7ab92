"""The live page as a viewer uses it, in a real headless Chromium on the real server and the selfie clip:
at phone width nothing scrolls sideways and the video stays in sight while a slider moves; each viewer
picks their own view; the page says the edits are shared; recording downloads a video file; fullscreen,
reset, keyboard focus, errors beside their field, projection tiles in use, renaming, per-face choices, and
projection controls that say why they are off where projection cannot run.

Each test opens the page in a fresh browser context (its own viewport and cookies) and closes it, so that
the number of viewers the server counts is the test's own. Screenshots of what a test checks are saved in
the test's folder (``--basetemp`` keeps them) for a person to look at.
"""
import time

import pytest
from playwright.sync_api import sync_playwright

from app.projection.jobs import ProjectorUnavailable
from app.projection.projectors import NO_PERCEPTUAL_NETWORK
from tests.app.browser_helpers import CHROMIUM, CHROMIUM_FLAGS
from tests.app.projection_helpers import fake_result

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
LONG_NAME = "my-face-projected-on-a-windy-hilltop-wearing-a-helmet-and-glass"   # 63 characters (64 at most)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("chromium")]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, live_server, token):
    """Open the page (from the printed link) in a fresh context with ``viewport``; closed after the test."""
    contexts = []

    def open_(viewport=DESKTOP, wait_for_stream=True):
        context = browser.new_context(viewport=viewport, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{live_server.port}/?token={token}")
        page.wait_for_selector("#slider-smile")
        if wait_for_stream:
            wait_for(page, lambda: page.evaluate("document.getElementById('stream').naturalWidth") > 0,
                     what="the first frame")
        return page

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def stylecam(live_server):
    """The running StyleCam; its params are put back to the defaults after the test."""
    stylecam = live_server.backend
    yield stylecam
    stylecam.params.update({"mode": "seed", "seed": 0, "projection": None, "style_projection": None, "keep_mouth": 0,
                            "keep_eyes": 0, "faces": {str(track): None for track in stylecam.params.current()
                                                      .params.faces},
                            "sliders": {preset.name: 0 for preset in stylecam.params.presets}})


@pytest.fixture
def saved_projection(stylecam):
    """Save a projection with a long name straight into the store (no need to project for the page's sake)."""
    store = stylecam.projection.store
    store.save(fake_result(store.generator, seed=5), LONG_NAME, source="camera")
    yield LONG_NAME
    stylecam.params.update({"mode": "seed", "projection": None, "style_projection": None})
    for entry in store.list():
        store.delete(entry["name"])


def wait_for(page, condition, timeout=30.0, what="condition"):
    """Wait on the page's clock, so that Playwright keeps delivering the page's events meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(100)


def choose_view(page, view):
    """Click the view's button (its radio input is hidden inside the label, as with the mode buttons)."""
    page.click(f'.views label:has(input[value="{view}"])')


def screenshot(page, tmp_path, name):
    page.screenshot(path=str(tmp_path / f"{name}.png"))


def inside_viewport(page, selector) -> bool:
    box = page.locator(selector).bounding_box()
    viewport = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] \
        and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]


# --- the phone -------------------------------------------------------------------------------------------

def test_a_long_projection_name_does_not_make_the_phone_page_scroll_sideways(open_page, saved_projection, tmp_path):
    page = open_page(PHONE)
    wait_for(page, lambda: page.locator(f'#style-source option[value="{LONG_NAME}"]').count() == 1,
             what="the projection in the style source list")
    page.select_option("#style-source", LONG_NAME)
    page.wait_for_timeout(300)
    screenshot(page, tmp_path, "phone-long-name")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for selector in ("#stream", "#record", "#style-source", "#projections .projection"):
        box = page.locator(selector).first.bounding_box()
        assert box["x"] + box["width"] <= PHONE["width"], f"{selector} is cut off at the right"


def test_on_a_phone_the_video_stays_in_sight_while_a_slider_is_dragged(open_page, tmp_path):
    page = open_page(PHONE)
    slider = page.locator("#keep_eyes")
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    middle = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 2, middle)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + step * box["width"] / 10 - 2, middle)
        assert inside_viewport(page, "#stream"), "the video left the screen during the drag"
    page.mouse.up()
    screenshot(page, tmp_path, "phone-dragging")
    assert float(page.input_value("#keep_eyes")) > 0.8
    assert inside_viewport(page, "#stream") and inside_viewport(page, "#keep_eyes")


# --- each viewer's own view ------------------------------------------------------------------------------

def test_each_viewer_chooses_their_view_without_changing_anyone_elses(open_page, stylecam, tmp_path):
    mine, theirs = open_page(), open_page()
    params_before = stylecam.params.current()
    choose_view(mine, "camera")
    wait_for(mine, lambda: "view=camera" in mine.get_attribute("#stream", "src"), what="the camera view")
    wait_for(mine, lambda: stylecam.status()["views"].get("camera") == 1, what="the server to count the view")
    assert stylecam.status()["views"].get("stylized", 0) >= 1
    assert theirs.get_attribute("#stream", "src") == "/stream.mjpg"
    assert stylecam.params.current() == params_before, "a view is no edit"
    wait_for(theirs, lambda: "2 people watching" in theirs.inner_text("#shared-note"), what="the viewer count")
    assert "edits here apply to everyone" in theirs.inner_text("#shared-note")
    choose_view(mine, "side")
    wait_for(mine, lambda: mine.evaluate("document.getElementById('stream').naturalWidth") == 1280,
             what="the before | after view, twice the camera's width")
    screenshot(mine, tmp_path, "side-by-side")
    mine.reload()
    mine.wait_for_selector("#slider-smile")
    assert mine.is_checked('input[name="view"][value="side"]'), "the browser remembers its view"


def test_the_snapshot_takes_the_view_shown(open_page):
    page = open_page()
    choose_view(page, "camera")
    assert page.get_attribute("#snapshot", "href") == "snapshot.jpg?view=camera"


def test_fullscreen_shows_the_video_alone(open_page):
    page = open_page()
    page.click("#fullscreen")
    wait_for(page, lambda: page.evaluate("document.fullscreenElement && document.fullscreenElement.id") == "stage",
             what="fullscreen")
    # The button follows the page's fullscreenchange event, which comes a frame after fullscreenElement is set.
    wait_for(page, lambda: page.inner_text("#fullscreen") == "Exit fullscreen", what="the button to say so")
    page.evaluate("document.exitFullscreen()")
    wait_for(page, lambda: page.evaluate("document.fullscreenElement") is None, what="the end of fullscreen")


def test_recording_downloads_a_video_file_and_shows_a_timer(open_page, tmp_path):
    page = open_page()
    page.click("#record")
    wait_for(page, lambda: page.inner_text("#recording") == "REC 0:02", what="two seconds on the timer")
    screenshot(page, tmp_path, "recording")
    with page.expect_download(timeout=30000) as download:
        page.click("#record")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    data = path.read_bytes()
    assert data[:4] == b"\x1a\x45\xdf\xa3" or data[4:8] == b"ftyp", "neither WebM nor MP4"
    assert len(data) > 2000 and path.suffix in (".webm", ".mp4")
    assert page.locator("#recording").is_hidden() and "Saved a clip" in page.inner_text("#record-message")


# --- shared edits ----------------------------------------------------------------------------------------

def test_reset_edits_sets_every_slider_back_to_zero_for_everyone(open_page, stylecam):
    stylecam.params.update({"sliders": {"smile": 0.8, "hair": 0.4}})
    page = open_page()
    wait_for(page, lambda: page.input_value("#slider-smile") == "0.8", what="the page to show the edits")
    page.click("#reset-edits")
    wait_for(page, lambda: not any(stylecam.params.current().params.sliders.values()), what="the reset")
    assert page.input_value("#slider-hair") == "0"


def test_keeping_the_mouth_is_an_edit_for_everyone(open_page, stylecam):
    page = open_page()
    page.evaluate("""() => { const slider = document.getElementById("keep_mouth");
        slider.value = 0.75; slider.dispatchEvent(new Event("input", { bubbles: true })); }""")
    wait_for(page, lambda: stylecam.params.current().params.keep_mouth == 0.75, what="the update")


def test_a_refused_seed_is_explained_beside_the_field_which_gets_its_value_back(open_page, stylecam, tmp_path):
    page = open_page()
    seed = str(stylecam.params.current().params.seed)
    page.fill("#seed", "-3")
    page.press("#seed", "Tab")
    wait_for(page, lambda: page.locator("#seed-error").is_visible(), what="the error")
    screenshot(page, tmp_path, "seed-error")
    assert "whole number from 0 to 4294967295" in page.inner_text("#seed-error")
    assert page.input_value("#seed") == seed
    field, error = page.locator("#seed").bounding_box(), page.locator("#seed-error").bounding_box()
    assert 0 <= error["y"] - (field["y"] + field["height"]) < 40, "the error sits right under its field"
    assert page.get_attribute("#seed", "aria-invalid") == "true"
    page.fill("#seed", "77")
    page.press("#seed", "Tab")
    wait_for(page, lambda: stylecam.params.current().params.seed == 77, what="the good seed")
    wait_for(page, lambda: page.locator("#seed-error").is_hidden(), what="the error to go")


def test_keyboard_focus_on_the_mode_buttons_is_visible(open_page, tmp_path):
    page = open_page()
    page.focus("#seed-random")
    for _ in range(20):
        if page.evaluate("document.activeElement.name") == "mode":
            break
        page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.name") == "mode", "the mode buttons take keyboard focus"
    outline = page.evaluate("""() => { const style = getComputedStyle(document.activeElement.closest("label"));
        return [style.outlineStyle, parseFloat(style.outlineWidth)]; }""")
    screenshot(page, tmp_path, "focus")
    assert outline[0] != "none" and outline[1] >= 2


def test_the_page_asks_for_no_missing_file(browser, live_server, token):
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        failed = []
        page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
        page.goto(f"http://127.0.0.1:{live_server.port}/?token={token}")
        page.wait_for_selector("#slider-smile")
        page.wait_for_timeout(1500)
        icon = page.get_attribute('link[rel="icon"]', "href")
        assert page.request.get(f"http://127.0.0.1:{live_server.port}{icon}").ok
    finally:
        context.close()
    assert failed == []


def test_a_camera_that_never_was_is_not_called_lost(open_page):
    page = open_page()
    page.evaluate("""() => showStatus({source: {state: "not_found", error: "cannot open camera 7"}, errors: [],
        viewers: 1, faces: 0, device: "cpu"})""")
    warning = page.inner_text("#warning")
    assert "No camera found" in warning and "lost" not in warning.lower()


# --- projections -----------------------------------------------------------------------------------------

def test_projection_controls_are_off_with_a_reason_a_viewer_can_read_where_projection_cannot_run(
        open_page, stylecam, monkeypatch, tmp_path):
    def missing():
        raise ProjectorUnavailable("projection needs the perceptual network: model 'vgg16' is not downloaded "
                                   "yet (/root/.cache/stylecam/models/vgg16.pt is missing)", reason=NO_PERCEPTUAL_NETWORK)

    monkeypatch.setattr(stylecam.projection.jobs.projector, "check_ready", missing)
    page = open_page()
    wait_for(page, lambda: page.is_disabled("#project-camera"), what="the projection buttons to be disabled")
    screenshot(page, tmp_path, "projection-unavailable")
    assert page.is_disabled("#project-upload-button")
    reason = page.locator("#project-unavailable")
    assert reason.is_visible() and reason.inner_text() == NO_PERCEPTUAL_NETWORK
    assert page.get_attribute("#project-camera", "aria-describedby") == "project-unavailable"
    monkeypatch.undo()
    wait_for(page, lambda: page.is_enabled("#project-camera"), what="the buttons to come back")
    assert reason.is_hidden()


def test_the_start_search_has_its_own_words_in_the_progress(open_page):
    page = open_page()
    text = page.evaluate("""() => jobText({state: "running", phase: "start", phase_step: 8, phase_steps: 16,
        step: 0, num_steps: 150, loss: null, cancel_requested: false, note: null})""")
    assert text == "Finding a starting face (8 of 16 tried)…"


def test_a_projection_in_use_is_marked_and_its_deletion_refused_without_asking_first(
        open_page, stylecam, saved_projection, tmp_path):
    stylecam.params.update({"style_projection": saved_projection})
    page = open_page()
    tile = page.locator(f'#projections .projection[data-name="{saved_projection}"]')
    wait_for(page, lambda: tile.count() == 1 and tile.locator(".in-use").is_visible(), what="the in-use mark")
    assert tile.locator(".in-use").inner_text() == "style"
    assert tile.locator(".in-use").get_attribute("title") == "In use as the style source"
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    tile.locator(".delete").click(force=True)      # aria-disabled, which Playwright will not click without force
    wait_for(page, lambda: page.locator("#projections-error").is_visible(), what="the refusal")
    screenshot(page, tmp_path, "projection-in-use")
    assert dialogs == [] and "the style source" in page.inner_text("#projections-error")
    assert stylecam.projection.store.exists(saved_projection)


def test_a_projection_can_be_renamed_from_its_tile(open_page, stylecam, saved_projection):
    stylecam.params.update({"mode": "me", "projection": saved_projection})
    page = open_page()
    tile = page.locator(f'#projections .projection[data-name="{saved_projection}"]')
    wait_for(page, lambda: tile.count() == 1, what="the tile")
    page.once("dialog", lambda dialog: dialog.accept("grace"))
    tile.locator(".rename").click()
    wait_for(page, lambda: page.locator('#projections .projection[data-name="grace"]').count() == 1,
             what="the renamed tile")
    assert stylecam.projection.store.exists("grace") and not stylecam.projection.store.exists(saved_projection)
    assert stylecam.params.current().params.projection == "grace", "the face shown follows the rename"


# --- a face of its own -----------------------------------------------------------------------------------

CLICK_FIRST_FACE = """() => {
    const face = trackedFaces.faces[0];
    const img = document.getElementById("stream");
    const rect = img.getBoundingClientRect();
    const scale = Math.min(rect.width / img.naturalWidth, rect.height / img.naturalHeight);
    const [x, y, width, height] = face.box;
    const clientX = rect.left + (rect.width - img.naturalWidth * scale) / 2 + (x + width / 2) * scale;
    const clientY = rect.top + (rect.height - img.naturalHeight * scale) / 2 + (y + height / 2) * scale;
    img.dispatchEvent(new MouseEvent("click", { clientX, clientY, bubbles: true }));
    return face.id;
}"""


def test_clicking_a_face_in_the_video_picks_it_and_it_gets_a_face_of_its_own(open_page, stylecam, tmp_path):
    page = open_page()
    wait_for(page, lambda: page.locator("#face-list select").count() >= 1, what="the faces in view")
    track = page.evaluate(CLICK_FIRST_FACE)        # at the face's centre, as the page knows it at that moment
    assert page.evaluate("document.activeElement.dataset.track") == str(track)
    page.select_option(f'#face-list select[data-track="{track}"]', "seed")
    chosen = []
    wait_for(page, lambda: chosen.append(stylecam.params.current().params.faces.get(track)) or chosen[-1],
             what="the face's own choice")             # (read at once: the face may leave the clip soon after)
    screenshot(page, tmp_path, "face-of-its-own")
    assert chosen[-1].seed is not None
