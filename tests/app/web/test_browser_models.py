"""The model picker in a real headless Chromium, on the real server and pipeline with the selfie clip: the
generators are listed, a switch shows its progress and then what carried over and what was reset, the live
figures show the new model, and the stream goes on."""
import time
from dataclasses import replace

import pytest
from playwright.sync_api import expect

from app.composition import StyleCam
from app.web.config import ServerConfig
from app.web.server import StyleCamServer
from tests.app.browser_pages import opened_page
from tests.app.conftest import TOKEN
from tests.app.model_helpers import models_folder

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("chromium")]


@pytest.fixture(scope="module")
def server(selfie_pipeline_config, tmp_path_factory):
    folder = models_folder(tmp_path_factory.mktemp("library") / "models")
    config = replace(selfie_pipeline_config, weights=str(folder / "start.pt"), models_dir=str(folder))
    server = StyleCamServer(ServerConfig(host="127.0.0.1", port=0, token=TOKEN), StyleCam(config))
    server.start_in_thread()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    with opened_page(tmp_path_factory.mktemp("chromium-profile"), server.port, TOKEN) as page:
        yield page


def test_the_picker_switches_the_model_and_says_what_carried_and_what_was_reset(page, server):
    expect(page.locator("#models")).to_be_visible()
    expect(page.locator("#model-choice option:checked")).to_have_text("start.pt: 32 px, 8 layers")
    expect(page.locator("#fig-model")).to_have_text("start.pt")
    page.locator("#seed").fill("7")
    page.locator("#seed").press("Tab")                                    # "change": sent
    page.wait_for_function("() => currentParams && currentParams.seed === 7")
    page.select_option("#model-choice", "bigger.pt")
    page.click("#model-switch")
    expect(page.locator("#model-message")).to_contain_text("Now running bigger.pt", timeout=30000)
    expect(page.locator("#model-changes li")).to_have_text([
        "seed, psi, style seed, sliders and the faces' own seeds reset: bigger.pt has 10 W layers of 32, "
        "the previous generator 8 W layers of 32"])
    expect(page.locator("#fig-model")).to_have_text("bigger.pt", timeout=5000)
    assert server.backend.models.current().img_resolution == 64
    expect(page.locator("#seed")).to_have_value("0")                     # the params the new model brought
    renders, frames = server.backend.pipeline.generation.renders, server.backend.live.frames.version
    page.locator("#seed").fill("5")
    page.locator("#seed").press("Tab")
    page.wait_for_function("() => currentParams && currentParams.seed === 5")
    deadline = time.monotonic() + 30                                     # the new generator renders it, live
    while server.backend.pipeline.generation.renders == renders or server.backend.live.frames.version <= frames + 5:
        assert time.monotonic() < deadline, "no new face or no new frames after the switch"
        time.sleep(0.1)
