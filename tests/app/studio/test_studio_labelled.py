"""Labelled directions end to end on a random-weight generator: the machinery, not the semantics
(random faces have no face YuNet can find, so only the colour measures of the FFHQ layout are fitted)."""
import math

import pytest
import torch

import stylegan2
from app.images import from_engine
from app.studio.labelled import find_labelled_directions, measure_faces
from app.studio.measurements import COLOUR_MEASURES, LANDMARK_MEASURES, MEASURES, FaceMeasurer
from detectors import create_detector
from stylegan2.studio.rendering import render
from stylegan2.studio.sampling import sample_ws


@pytest.fixture(scope="module")
def generator(random_weights):
    return stylegan2.load(random_weights).generator


@pytest.fixture(scope="module")
def measurer(yunet_file):
    return FaceMeasurer(create_detector("yunet", model_path=yunet_file))


def test_each_face_is_measured_on_its_own_image(generator, measurer):
    ws = sample_ws(generator, 5, seed=1)
    progress = []
    measures = measure_faces(generator, ws, measurer, batch_size=2, progress=lambda done, total: progress.append(done))
    assert list(measures) == list(MEASURES) and progress == [2, 4, 5]
    third = measurer.measure_generated(from_engine(render(generator, ws[2:3])))
    for name in COLOUR_MEASURES:
        assert measures[name][2].item() == pytest.approx(third[name], abs=1e-3)
    assert all(torch.isnan(measures[name]).all() for name in LANDMARK_MEASURES)


def test_directions_are_fitted_per_measure_and_the_unmeasured_ones_say_why(generator, measurer):
    result = find_labelled_directions(generator, measurer, samples=60, layers=slice(2, 6), psi=0.7, seed=3,
                                      batch_size=16)
    found = result.directions
    assert sorted(found.names) == sorted(COLOUR_MEASURES)
    assert found.layers == slice(2, 6) and found.num_ws == generator.num_ws and found.method == "ridge"
    assert all(math.isfinite(score) for score in found.scores.tolist())
    assert list(found.scores) == sorted(found.scores.tolist(), reverse=True)
    assert set(result.skipped) == set(LANDMARK_MEASURES)
    assert "only 0 faces were measured" in result.skipped["smile"]
    assert result.measured["hair brightness"] == 60 and result.measured["yaw"] == 0
    assert (found.meta["samples"], found.meta["sample_seed"], found.meta["psi"]) == (60, 3, 0.7)
