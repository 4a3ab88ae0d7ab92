"""What a real Chromium does with StyleCam's defences: a page from another port of the same host (same
site, so the SameSite=Strict token cookie goes along) cannot change the params or start a projection;
StyleCam's own page works under its Content-Security-Policy and still writes, and so do its live
features (another view, recording to a download, a face of its own, renaming and deleting a
projection); a photo over the upload limit is stopped by the page with a message.

The server is the real one over ``WebBackend`` (the real web parts, no camera); a thread publishes
frames for the page's stream.
"""
import http.server
import logging
import threading
import time

import cv2
import pytest
from playwright.sync_api import sync_playwright

from tests.app.browser_helpers import launch, serving
from tests.app.conftest import WebBackend
from tests.app.projection_helpers import GatedProjector, fake_result

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("chromium")]

ATTACKER_PAGE = """<!doctype html>
<html><body>
<iframe name="sink"></iframe>
<form id="form" method="POST" target="sink" enctype="text/plain" action="VICTIM/api/params">
  <input name='{"seed": 4242, "padding": "' value='"}'>
</form>
<script>
const victim = "VICTIM";
async function attempt(url, options) {
  try {
    await fetch(url, { credentials: "include", ...options });
  } catch (error) {
    // The answer is withheld from this page either way; what matters is what StyleCam did.
  }
}
window.attack = async () => {
  await attempt(victim + "/api/params", { method: "POST", mode: "no-cors",
    headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ seed: 4242 }) });
  await attempt(victim + "/api/project", { method: "POST", mode: "no-cors" });
  await attempt(victim + "/api/params", { method: "POST",     // never sent: its CORS preflight is not granted
    headers: { "Content-Type": "application/json" }, body: JSON.stringify({ seed: 4242 }) });
  await new Promise((resolve) => {
    document.querySelector("iframe").addEventListener("load", resolve);
    document.getElementById("form").submit();
  });
};
</script>
</body></html>
"""
RECORD_CSP_VIOLATIONS = """window.violations = [];
document.addEventListener("securitypolicyviolation", (event) =>
    window.violations.push(`${event.violatedDirective} ${event.blockedURI}`));"""


@pytest.fixture(scope="module")
def victim(tmp_path_factory, projection_generator, face_finder, token, shared_file):
    """StyleCam on a free port of 127.0.0.1, its stream fed with frames, a face in front of its "camera"."""
    backend = WebBackend(projection_generator, tmp_path_factory.mktemp("projections"), face_finder,
                         GatedProjector(projection_generator))
    backend.camera_frame = cv2.imread(str(shared_file("media/images/astronaut.png")))
    with serving(backend, token) as server:
        yield server


@pytest.fixture(scope="module")
def attacker(victim):
    """Another web server on the same host, on another port, serving a page that attacks StyleCam."""
    page = ATTACKER_PAGE.replace("VICTIM", f"http://127.0.0.1:{victim.port}").encode()

    class AttackerPage(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AttackerPage)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture(scope="module")
def browser(victim, token, tmp_path_factory):
    """Chromium that has opened StyleCam with its printed link, so it holds the token cookie."""
    with sync_playwright() as playwright:
        context = launch(playwright, tmp_path_factory.mktemp("chromium-profile"))
        context.new_page().goto(f"http://127.0.0.1:{victim.port}/?token={token}")
        yield context
        context.close()


def wait_for(page, condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(100)


def test_a_page_on_another_port_of_the_host_cannot_change_params_or_start_a_projection(
        browser, victim, attacker, caplog):
    caplog.set_level(logging.WARNING, logger="app.web.origin")
    before = victim.backend.params.current()
    page = browser.new_page()
    page.goto(attacker)
    page.evaluate("attack()")           # returns once every attempt has been answered

    assert victim.backend.params.current() == before
    assert victim.backend.projection.recent_jobs() == []
    refused = sorted(record.getMessage().split(" from ")[0] for record in caplog.records)
    assert refused == ["refused a POST /api/params", "refused a POST /api/params", "refused a POST /api/project"]
    page.close()


def test_the_page_works_under_its_content_security_policy_and_still_writes(browser, victim):
    page = browser.new_page()
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.goto(f"http://127.0.0.1:{victim.port}/")
    page.wait_for_selector("#slider-smile")
    wait_for(page, lambda: page.evaluate("document.getElementById('stream').naturalWidth") > 0,
             what="the stream to show a frame")
    wait_for(page, lambda: page.inner_text("#fig-device") == "cpu", what="the status panel")
    seed = victim.backend.params.current().params.seed
    page.click("#seed-random")
    wait_for(page, lambda: victim.backend.params.current().params.seed != seed, what="the new seed to arrive")
    assert page.evaluate("window.violations") == []
    page.close()


FACE = {"id": 3, "box": [16.0, 8.0, 24.0, 24.0], "choice": None}    # in the published 64 x 48 frames


def click_in_frame(page, x, y):
    """Click the stream where frame pixel (x, y) is shown (the image is letterboxed: object-fit contain)."""
    box = page.locator("#stream").bounding_box()
    width, height = page.evaluate("[document.getElementById('stream').naturalWidth, "
                                  "document.getElementById('stream').naturalHeight]")
    scale = min(box["width"] / width, box["height"] / height)
    page.mouse.click(box["x"] + (box["width"] - width * scale) / 2 + x * scale,
                     box["y"] + (box["height"] - height * scale) / 2 + y * scale)


def test_the_live_features_run_under_the_content_security_policy(browser, victim, tmp_path):
    backend = victim.backend
    backend.tracked = {"frame_size": [64, 48], "faces": [FACE]}
    backend.store.save(fake_result(backend.store.generator), "mine", source="camera")
    page = browser.new_page()
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.goto(f"http://127.0.0.1:{victim.port}/")
    page.wait_for_selector("#slider-smile")

    page.click('.views label:has(input[value="camera"])')              # another view
    wait_for(page, lambda: "view=camera" in page.get_attribute("#stream", "src")
             and page.evaluate("document.getElementById('stream').naturalWidth") > 0, what="the camera view")

    page.click("#record")                                               # a recording, downloaded
    wait_for(page, lambda: page.inner_text("#recording") == "REC 0:01", what="a second on the timer")
    with page.expect_download(timeout=30000) as download:
        page.click("#record")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.stat().st_size > 0 and path.suffix in (".webm", ".mp4")

    page.click('.views label:has(input[value="stylized"])')            # a face of its own, picked in the video
    wait_for(page, lambda: page.locator('#face-list select[data-track="3"]').count() == 1
             and page.evaluate("document.getElementById('stream').naturalWidth") > 0, what="the face in the video")
    click_in_frame(page, 28, 20)
    assert page.evaluate("document.activeElement.dataset.track") == "3"
    page.select_option('#face-list select[data-track="3"]', "projection:mine")
    wait_for(page, lambda: 3 in backend.params.current().params.faces, what="the face's own choice")
    assert backend.params.current().params.faces[3].projection == "mine"

    tile = page.locator('#projections .projection[data-name="mine"]')  # a rename: a PATCH from the page
    page.once("dialog", lambda dialog: dialog.accept("ours"))
    tile.locator(".rename").click()
    wait_for(page, lambda: backend.store.exists("ours"), what="the rename")
    assert backend.params.current().params.faces[3].projection == "ours"

    page.select_option('#face-list select[data-track="3"]', "")        # no longer in use: deleted from its tile
    wait_for(page, lambda: 3 not in backend.params.current().params.faces, what="everyone's face again")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('#projections .projection[data-name="ours"] .delete').click()
    wait_for(page, lambda: page.locator('#projections .projection[data-name="ours"]').count() == 0,
             what="the tile to go")
    assert not backend.store.exists("ours")
    assert page.locator("#projections-error").is_hidden(), "a deletion's empty answer (204) is no error"
    assert page.evaluate("window.violations") == []
    page.close()


def test_a_photo_over_the_upload_limit_is_stopped_by_the_page_with_its_size(browser, victim):
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{victim.port}/")
    too_big = b"\xff\xd8\xff" + bytes(victim.config.max_request_bytes)
    page.set_input_files("#project-upload", files=[{"name": "big.jpg", "mimeType": "image/jpeg", "buffer": too_big}])
    wait_for(page, lambda: "at most 8.0 MB" in page.inner_text("#project-status"), what="the refusal")
    assert victim.backend.projection.recent_jobs() == []
    page.close()
