"""Direction sliders in a real headless Chromium, on the real server and pipeline with the selfie clip and
``serve --directions``: the Directions group shows a slider per direction, centred at 0; moving one sends
its signed value; the reset puts every direction back to 0; the studio view's preview panel shows a sheet.

Uses the small random-weight 64 px generator of the other browser tests (a test fixture only).
"""
from dataclasses import replace

import pytest

import stylegan2
from app.composition import StyleCam
from app.web.config import ServerConfig
from app.web.server import StyleCamServer
from tests.app.browser_pages import opened_page
from tests.app.direction_helpers import write_directions
from tests.app.web.test_browser import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("chromium")]


@pytest.fixture(scope="module")
def directions_server(selfie_pipeline_config, random_weights, token, tmp_path_factory):
    """The real server and pipeline with every direction of traits.pt as a slider."""
    traits = write_directions(tmp_path_factory.mktemp("directions"), stylegan2.load(random_weights).generator)
    config = replace(selfie_pipeline_config, directions_paths=(str(traits),))
    server = StyleCamServer(ServerConfig(host="127.0.0.1", port=0, token=token), StyleCam(config))
    server.start_in_thread()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page(directions_server, token, tmp_path_factory):
    with opened_page(tmp_path_factory.mktemp("chromium-profile"), directions_server.port, token) as opened:
        yield opened


def test_each_direction_is_a_slider_of_its_own_centred_at_zero(page):
    page.wait_for_selector("#direction-sliders #slider-traits_smile")
    labels = page.locator("#direction-sliders .slider-label").all_inner_texts()
    assert labels == ["smile", "age"]
    assert page.locator("#slider-traits_smile").get_attribute("min") == "-1"
    assert float(page.input_value("#slider-traits_smile")) == 0
    assert page.locator("#sliders #slider-traits_smile").count() == 0     # not among the style-mixing sliders


def test_moving_a_direction_slider_sends_its_signed_value_and_reset_sends_zero(page, directions_server):
    params = directions_server.backend.params
    page.wait_for_selector("#slider-traits_age")
    page.focus("#slider-traits_age")
    for _ in range(5):
        page.keyboard.press("ArrowLeft")
    final = float(page.input_value("#slider-traits_age"))
    assert final < 0
    wait_for(page, lambda: params.current().params.sliders["traits_age"] == final, what="the negative age")
    assert page.inner_text("label[for=slider-traits_age] output") == f"{final:.2f}"
    page.click("#reset-directions")
    wait_for(page, lambda: params.current().params.sliders["traits_age"] == 0, what="the reset")


def test_the_studio_views_preview_panel_shows_a_sheet(page):
    page.click("#tab-studio")              # the preview sheet is one of the studio's tools
    page.select_option("#direction-preview-name", "traits")
    page.fill("#direction-preview-seeds", "1")
    page.click("#direction-preview-show")
    page.wait_for_selector("#direction-preview-sheet:not([hidden])", timeout=120_000)
    width = page.evaluate("document.getElementById('direction-preview-sheet').naturalWidth")
    assert width > 5 * 64
