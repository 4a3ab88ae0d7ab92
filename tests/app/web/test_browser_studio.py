"""The studio panel in a real headless Chromium: its tab shows it beside the video, a grid renders into the
page (under the Content-Security-Policy), a click on a face, or Enter on its button, makes that seed the
live face, and a bad option shows its error beside its field.

The server is the real one over ``WebBackend`` (the real web parts and studio, no camera); a thread
publishes frames for the page's stream.
"""
import time

import pytest

from tests.app.browser_helpers import serving
from tests.app.browser_pages import opened_page
from tests.app.conftest import WebBackend
from tests.app.projection_helpers import GatedProjector
from tests.app.web.test_browser_security import RECORD_CSP_VIOLATIONS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("chromium")]


@pytest.fixture(scope="module")
def stylecam(tmp_path_factory, projection_generator, face_finder, token):
    backend = WebBackend(projection_generator, tmp_path_factory.mktemp("projections"), face_finder,
                         GatedProjector(projection_generator))
    with serving(backend, token) as server:
        yield server


@pytest.fixture(scope="module")
def page(stylecam, token, tmp_path_factory):
    with opened_page(tmp_path_factory.mktemp("chromium-profile"), stylecam.port, token,
                     RECORD_CSP_VIOLATIONS) as page:
        page.wait_for_selector("#slider-smile")
        yield page


def wait_for(page, condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(100)


def test_the_studio_tab_takes_the_place_of_the_face_controls_beside_the_video(page):
    page.click("#tab-studio")
    assert page.is_visible("#studio") and not page.is_visible("#controls") and page.is_visible("#stream")
    assert page.get_attribute("#tab-studio", "aria-selected") == "true"
    assert page.query_selector("#studio-directions") is not None
    page.focus("#tab-studio")
    page.keyboard.press("ArrowLeft")
    assert page.is_visible("#controls") and not page.is_visible("#studio")
    page.keyboard.press("ArrowRight")
    assert page.is_visible("#studio")


def test_a_grid_renders_and_a_click_on_a_face_makes_it_the_live_face(page, stylecam):
    page.click("#tab-studio")
    page.click('label:has(input[value="grid"])')
    page.fill("#studio-grid-seeds", "11-14")
    page.fill("#studio-grid-columns", "2")
    page.click("#studio-grid button[type=submit]")
    page.wait_for_selector('#studio-cells .sheet-cell[data-seed="14"]')
    wait_for(page, lambda: "Done" in page.inner_text("#studio-status"), what="the grid to finish")
    wait_for(page, lambda: page.evaluate("document.getElementById('studio-sheet').naturalWidth") > 0,
             what="the sheet image")
    assert page.evaluate("document.querySelectorAll('#studio-cells .sheet-cell').length") == 4

    page.click('#studio-cells .sheet-cell[data-seed="13"]')
    wait_for(page, lambda: stylecam.backend.params.current().params.seed == 13, what="seed 13 to be live")
    page.focus('#studio-cells .sheet-cell[data-seed="12"]')
    page.keyboard.press("Enter")
    wait_for(page, lambda: stylecam.backend.params.current().params.seed == 12, what="seed 12 to be live")
    assert stylecam.backend.params.current().params.mode == "seed"
    assert page.evaluate("window.violations") == []


def test_a_bad_option_shows_its_error_beside_its_field(page):
    page.click("#tab-studio")
    page.click('label:has(input[value="mix"])')
    assert page.is_visible("#studio-mix") and not page.is_visible("#studio-grid")
    page.fill("#studio-mix-layers", "ears")
    page.click("#studio-mix button[type=submit]")
    page.wait_for_selector("#studio-mix-layers-error:not([hidden])")
    assert "coarse" in page.inner_text("#studio-mix-layers-error")
    assert page.get_attribute("#studio-mix-layers", "aria-invalid") == "true"
