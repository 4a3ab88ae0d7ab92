"""Direction preview sheets: the live generator goes first, a sheet is rendered once and kept, and its
middle column is the face the params show.

Uses a small random-weight 64 px generator (10 W+ layers, w_dim 32), a test fixture only.
"""
import threading

import cv2
import numpy as np
import pytest

from app.live.buffers import LatestBuffer
from app.live.generation import FaceGenerator, GenerationWorker
from app.live.params import default_params
from app.live.params_store import ParamsStore
from app.live.presets import load_presets
from app.studio.direction_previews import COLUMNS, DirectionPreviews, PreviewTarget, PreviewUnavailable, UnknownPreview
from app.studio.grids import GridCanvas
from stylegan2.inference import InferenceGenerator
from stylegan2.testing import make_random_generator
from tests.app.direction_helpers import MIX_ENTRY, SMILE_ENTRY, write_directions, write_presets
from tests.app.live.test_generation import CountingModule


@pytest.fixture
def generator():
    G = make_random_generator(resolution=64)
    G.synthesis = CountingModule(G.synthesis)
    return G


@pytest.fixture
def presets(tmp_path, generator):
    write_directions(tmp_path, generator)
    return load_presets(write_presets(tmp_path, MIX_ENTRY, SMILE_ENTRY), generator)


@pytest.fixture
def live_idle():
    idle = threading.Event()
    idle.set()
    return idle


@pytest.fixture
def previews(generator, presets, live_idle):
    target = PreviewTarget(FaceGenerator(InferenceGenerator(generator), presets), generator, "test")
    made = DirectionPreviews(presets, lambda: target, lambda: default_params(presets), live_idle.is_set)
    made.start()
    yield made
    made.stop()


def decode(jpeg: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)


def test_a_sliders_sheet_is_its_direction_on_the_current_face_at_each_strength(previews):
    sheet = decode(previews.sheet("smile_found"))
    expected = GridCanvas(1, COLUMNS, 64, ["Smile (found), seed 0"], ["-2.5", "-1.25", "0", "+1.25", "+2.5"])
    assert sheet.shape == expected.image.shape


def test_the_middle_column_is_the_face_the_params_show(previews, presets):
    sheet = decode(previews.sheet("smile_found"))
    canvas = GridCanvas(1, COLUMNS, 64, ["Smile (found), seed 0"], ["-2.5", "-1.25", "0", "+1.25", "+2.5"])
    face = previews.target().face_generator.render(default_params(presets)).astype(int)
    distances = [np.abs(sheet[canvas.top:canvas.top + 64, x:x + 64].astype(int) - face).mean()
                 for x in range(canvas.left, canvas.left + COLUMNS * 64, 64)]
    assert distances[2] < 12                                     # JPEG's loss on random-weight noise only
    assert int(np.argmin(distances)) == 2 and distances[0] > distances[1] and distances[4] > distances[3]


def test_a_sets_sheet_has_a_row_per_direction_and_seed(previews):
    sheet = decode(previews.sheet("traits", [3, 4]))
    labels = ["smile, seed 3", "smile, seed 4", "age, seed 3", "age, seed 4"]
    assert sheet.shape == GridCanvas(4, COLUMNS, 64, labels, ["-3", "-1.5", "0", "+1.5", "+3"]).image.shape


def test_a_sheet_is_rendered_once_and_kept(previews, generator):
    first = previews.sheet("smile_found", [5])
    calls = generator.synthesis.calls
    assert previews.sheet("smile_found", [5]) == first
    assert generator.synthesis.calls == calls == COLUMNS


def test_an_unknown_name_and_too_many_seeds_are_refused(previews):
    with pytest.raises(UnknownPreview):
        previews.sheet("frown")
    with pytest.raises(ValueError, match="give 1 to 4 seeds, got 5"):
        previews.sheet("traits", [1, 2, 3, 4, 5])


def test_the_sheet_waits_while_the_live_generator_works(previews, live_idle, generator):
    live_idle.clear()
    with pytest.raises(PreviewUnavailable, match="the live face comes first"):
        previews.sheet("smile_found", timeout=0.3)
    assert generator.synthesis.calls == 0
    live_idle.set()
    assert decode(previews.sheet("smile_found")).shape[0] > 64


def test_a_stopped_previewer_refuses_new_sheets(previews):
    previews.stop()
    with pytest.raises(PreviewUnavailable, match="not running"):
        previews.sheet("smile_found")


def test_the_generation_worker_is_idle_only_when_it_has_handled_the_newest_params(generator, presets):
    store = ParamsStore(presets)
    worker = GenerationWorker(FaceGenerator(InferenceGenerator(generator), presets), store.changes, LatestBuffer())
    assert not worker.idle()                            # the first params wait
    version, params = store.changes.latest()
    worker.handle(version, params)
    assert worker.idle()
    store.update({"sliders": {"smile_found": 0.5}})
    assert not worker.idle()
