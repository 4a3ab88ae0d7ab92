"""Generation: StyleGAN2 runs only when the face changes, sliders mix the right layers, seeds are cached,
and mode "me" shows a saved projection with the sliders mixing the style source into it.

Uses a small random-weight 64 px generator (10 W+ layers), a test fixture only.
"""
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from app.live.buffers import LatestBuffer
from app.live.generation import FaceGenerator, GenerationWorker
from app.live.params import apply_update, default_params
from app.live.presets import load_presets
from app.projection.store import ProjectionStore
from stylegan2.inference import InferenceGenerator
from stylegan2.latents import scale_layers, seed_to_ws
from stylegan2.testing import make_random_generator, make_random_stylegan3
from tests.app.projection_helpers import fake_result


class CountingModule(torch.nn.Module):
    """Wraps a generator sub-network and counts its forward calls."""

    def __init__(self, module):
        super().__init__()
        self.module = module
        self.calls = 0

    def forward(self, *args, **kwargs):
        self.calls += 1
        return self.module(*args, **kwargs)


@pytest.fixture(scope="module")
def presets():
    return load_presets()


@pytest.fixture
def generator():
    G = make_random_generator(resolution=64)
    G.synthesis = CountingModule(G.synthesis)
    G.mapping = CountingModule(G.mapping)
    return G


@pytest.fixture
def face_generator(generator, presets):
    return FaceGenerator(InferenceGenerator(generator), presets)


@pytest.fixture
def params(presets):
    return default_params(presets)


def update(params, presets, **changes):
    return apply_update(params, changes, presets)


def test_a_face_is_a_bgr_image_at_the_generators_resolution(face_generator, params):
    face = face_generator.render(params)
    assert face.shape == (64, 64, 3) and face.dtype == np.uint8
    assert face.std() > 0


def test_the_same_params_render_the_same_face(face_generator, params):
    assert np.array_equal(face_generator.render(params), face_generator.render(params))


def test_seed_mode_targets_the_seeds_truncated_latent(face_generator, generator, params):
    expected = seed_to_ws(generator, params.seed, psi=params.psi)
    assert torch.equal(face_generator.target_ws(params), expected)


def test_preset_ranges_scale_to_the_models_layer_count(face_generator, presets):
    by_name = {preset.name: face_generator.layers(preset) for preset in presets}
    assert by_name["style"] == slice(5, 10)    # 7:14 of 14 layers -> 5:10 of 10
    assert by_name["smile"] == slice(2, 4)     # 3:5 of 14 layers -> 2:4 of 10


def test_a_full_slider_copies_the_style_seeds_layers_and_only_those(face_generator, generator, params, presets):
    smiling = update(params, presets, sliders={"smile": 1.0})
    ws = face_generator.edited_ws(smiling)
    target = seed_to_ws(generator, params.seed, psi=params.psi)
    style = seed_to_ws(generator, params.style_seed, psi=params.psi)
    assert torch.equal(ws[:, 2:4], style[:, 2:4])
    assert torch.equal(ws[:, :2], target[:, :2]) and torch.equal(ws[:, 4:], target[:, 4:])


def test_moving_a_slider_changes_the_face(face_generator, params, presets):
    before = face_generator.render(params)
    after = face_generator.render(update(params, presets, sliders={"style": 0.8}))
    assert np.abs(after.astype(int) - before.astype(int)).mean() > 1


def test_a_preset_with_its_own_seed_mixes_from_that_seed(generator, params):
    [preset] = [p for p in load_presets() if p.name == "beard"]
    own = replace(preset, source=99)
    face_generator = FaceGenerator(InferenceGenerator(generator), [own])
    ws = face_generator.edited_ws(replace(params, sliders={"beard": 1.0}))
    assert torch.equal(ws[:, face_generator.layers(own)],
                       seed_to_ws(generator, 99, psi=params.psi)[:, face_generator.layers(own)])


def test_dragging_a_slider_maps_each_seed_once(face_generator, generator, params, presets):
    for strength in (0.1, 0.2, 0.3, 0.4):
        face_generator.render(update(params, presets, sliders={"hair": strength}))
    assert generator.mapping.calls == 2   # the face's seed and the style seed, then from the cache


def test_the_seed_cache_is_bounded(generator, params, presets):
    face_generator = FaceGenerator(InferenceGenerator(generator), presets, ws_cache_size=3)
    for seed in range(10):
        face_generator.seed_ws(seed, 0.7)
    assert face_generator.seed_ws.cache_info().currsize == 3


def test_a_conditional_generator_is_refused(presets):
    with pytest.raises(ValueError, match="conditional"):
        FaceGenerator(InferenceGenerator(make_random_generator(resolution=16, c_dim=4)), presets)


@pytest.fixture
def worker(face_generator):
    return GenerationWorker(face_generator, LatestBuffer(), LatestBuffer())


def test_synthesis_runs_once_per_distinct_face(worker, generator, params, presets):
    worker.face_for(params)
    worker.face_for(params)
    worker.face_for(update(params, presets, seed=5))
    assert generator.synthesis.calls == 2


def test_changes_that_do_not_change_the_face_do_not_synthesise(worker, generator, params, presets):
    worker.face_for(params)
    worker.face_for(update(params, presets, style_seed=77))   # every slider is at 0: no visible change
    worker.face_for(update(params, presets, mode="passthrough"))
    worker.face_for(params)                                   # back from passthrough: the same face
    assert generator.synthesis.calls == 1


def test_passthrough_has_no_face(worker, generator, params, presets):
    assert worker.face_for(update(params, presets, mode="passthrough")) is None
    assert generator.synthesis.calls == 0


def test_the_worker_publishes_each_params_version_with_its_face(worker, generator, params, presets):
    worker.start()
    try:
        first = worker.params.put(params)
        got = worker.output.get_newer(0, timeout=30)
        second = worker.params.put(update(params, presets, style_seed=3))
        again = worker.output.get_newer(got[0], timeout=30)
    finally:
        worker.stop()
    assert got[1].params_version == first and got[1].face.image.shape == (64, 64, 3)
    assert again[1].params_version == second and again[1].face is got[1].face
    assert generator.synthesis.calls == 1


def test_a_failed_render_is_reported_and_the_worker_carries_on(worker, params, presets, monkeypatch):
    def broken(*_):
        raise RuntimeError("out of memory")

    worker.start()
    try:
        monkeypatch.setattr(worker.face_generator, "render", broken)
        worker.params.put(params)
        deadline = time.monotonic() + 30
        while worker.error is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "out of memory" in worker.error
        assert worker.output.latest() is None
        monkeypatch.undo()
        good = worker.params.put(update(params, presets, seed=9))
        published = worker.output.get_newer(0, timeout=30)
    finally:
        worker.stop()
    assert published[1].params_version == good
    assert worker.error is None


# --- mode "me": a saved projection is the face ------------------------------------------------------------

@pytest.fixture
def projections(tmp_path, generator):
    store = ProjectionStore(tmp_path / "projections", generator)
    for seed, name in ((11, "me"), (12, "friend")):
        store.save(fake_result(generator, seed=seed), name, source="camera")
    return store


@pytest.fixture
def me_generator(generator, presets, projections):
    return FaceGenerator(InferenceGenerator(generator), presets, projections=projections)


@pytest.fixture
def me(params, presets, projections):
    return apply_update(params, {"mode": "me", "projection": "me"}, presets, projections.check)


def test_me_mode_targets_the_projections_latent(me_generator, projections, me):
    assert torch.equal(me_generator.target_ws(me), projections.load_ws("me"))


def test_sliders_mix_the_style_seed_into_the_projection_at_their_layers(me_generator, generator, projections, me,
                                                                        presets):
    ws = me_generator.edited_ws(update(me, presets, sliders={"smile": 1.0}))
    mine, style = projections.load_ws("me"), seed_to_ws(generator, me.style_seed, psi=me.psi)
    assert torch.equal(ws[:, 2:4], style[:, 2:4])
    assert torch.equal(ws[:, :2], mine[:, :2]) and torch.equal(ws[:, 4:], mine[:, 4:])


def test_a_half_slider_lands_halfway_between_face_and_style(me_generator, generator, projections, me, presets):
    ws = me_generator.edited_ws(update(me, presets, sliders={"style": 0.5}))
    mine, style = projections.load_ws("me"), seed_to_ws(generator, me.style_seed, psi=me.psi)
    assert torch.allclose(ws[:, 5:10], (mine[:, 5:10] + style[:, 5:10]) / 2)


def test_another_projection_can_be_the_style_source(me_generator, projections, me, presets):
    styled = apply_update(me, {"style_projection": "friend", "sliders": {"style": 1.0}}, presets,
                          projections.check)
    ws = me_generator.edited_ws(styled)
    assert torch.equal(ws[:, 5:10], projections.load_ws("friend")[:, 5:10])
    assert torch.equal(ws[:, :5], projections.load_ws("me")[:, :5])


def test_a_projection_style_source_works_for_the_seed_face_too(me_generator, generator, projections, params,
                                                                presets):
    styled = apply_update(params, {"style_projection": "friend", "sliders": {"hair": 1.0}}, presets,
                          projections.check)
    ws = me_generator.edited_ws(styled)
    assert torch.equal(ws[:, 4:9], projections.load_ws("friend")[:, 4:9])
    assert torch.equal(ws[:, :4], seed_to_ws(generator, params.seed, psi=params.psi)[:, :4])


def test_the_projection_face_is_rendered_and_differs_from_the_seed_face(me_generator, params, me):
    assert np.abs(me_generator.render(me).astype(int) - me_generator.render(params).astype(int)).mean() > 1


def test_seed_and_psi_do_not_rerender_the_projection_face(me_generator, generator, me, presets, projections):
    worker = GenerationWorker(me_generator, LatestBuffer(), LatestBuffer())
    worker.face_for(me)
    worker.face_for(update(me, presets, seed=5, psi=0.3))     # no slider: neither changes the face
    assert generator.synthesis.calls == 1
    worker.face_for(apply_update(me, {"projection": "friend"}, presets, projections.check))
    assert generator.synthesis.calls == 2


def test_a_stylegan3_generator_shows_faces_with_every_slider_on_its_own_layers(presets, params):
    generator = FaceGenerator(InferenceGenerator(make_random_stylegan3("t", resolution=16, channel_base=512,
                                                                        channel_max=16)), presets)
    assert generator.generator.num_ws == 16
    assert [generator.layers(preset) for preset in presets] == [scale_layers(preset.layers, preset.num_ws, 16)
                                                                for preset in presets]
    plain = generator.render(params)
    edited = generator.render(update(params, presets, sliders={preset.name: 1.0 for preset in presets}))
    assert plain.shape == (16, 16, 3) and plain.dtype == np.uint8
    assert np.abs(edited.astype(int) - plain.astype(int)).mean() > 1


# --- faces of their own ------------------------------------------------------------------------------------

class RecordingBuffer(LatestBuffer):
    """A LatestBuffer that keeps everything put into it."""

    def __init__(self):
        super().__init__()
        self.items = []

    def put(self, item):
        self.items.append(item)
        return super().put(item)


def run_worker(face_generator, *params_list):
    """Each of ``params_list`` handled in turn by a worker, as its thread would; every GeneratedFace published."""
    worker = GenerationWorker(face_generator, LatestBuffer(), RecordingBuffer())
    for params in params_list:
        worker.generate(worker.params.put(params), params)
    return worker.output.items


def test_a_face_of_its_own_is_rendered_after_everyones_face_is_published(face_generator, generator, params,
                                                                          presets):
    own = update(params, presets, faces={"7": {"seed": 99}})
    first, second = run_worker(face_generator, own)
    assert first.face is not None and first.face_for(7) is first.face, "everyone's face comes first"
    assert second.face is first.face and second.face_for(7) is not first.face
    assert second.face_for(3) is first.face, "other faces get everyone's face"
    expected = GenerationWorker(FaceGenerator(InferenceGenerator(generator), presets), LatestBuffer(),
                                LatestBuffer()).face_for(update(params, presets, seed=99))
    assert np.array_equal(second.face_for(7).image, expected.image)


def test_a_face_of_its_own_takes_the_edits_everyone_has(face_generator, generator, params, presets):
    own = update(params, presets, faces={"7": {"seed": 99}}, sliders={"smile": 1.0})
    ws = face_generator.edited_ws(own, own.faces[7])
    assert torch.equal(ws, face_generator.edited_ws(update(own, presets, seed=99)))


def test_an_unchanged_face_of_its_own_is_not_rendered_again(face_generator, generator, params, presets):
    own = update(params, presets, faces={"7": {"seed": 99}})
    published = run_worker(face_generator, own, update(own, presets, style_seed=5))   # no slider: no change
    assert generator.synthesis.calls == 2 and len(published) == 3
    assert published[2].face_for(7) is published[1].face_for(7)


def test_newer_params_come_before_the_faces_of_their_own_of_older_ones(face_generator, generator, params,
                                                                         presets):
    worker = GenerationWorker(face_generator, LatestBuffer(), RecordingBuffer())
    own = update(params, presets, faces={"7": {"seed": 99}, "8": {"seed": 98}})
    version = worker.params.put(own)
    worker.params.put(update(own, presets, seed=3))           # arrives while the first is being handled
    worker.generate(version, own)
    assert len(worker.output.items) == 1 and generator.synthesis.calls == 1


def test_a_face_keeps_its_own_face_until_the_new_one_is_rendered(face_generator, params, presets):
    own = update(params, presets, faces={"7": {"seed": 99}})
    published = run_worker(face_generator, own, update(own, presets, faces={"7": {"seed": 98}}))
    before, during, after = published[1], published[2], published[3]
    assert during.face_for(7) is before.face_for(7), "no flash of everyone's face in between"
    assert after.face_for(7) is not before.face_for(7)


def test_a_projection_can_be_a_faces_own_face(me_generator, projections, params, presets):
    own = apply_update(params, {"faces": {"2": {"projection": "friend"}}}, presets, projections.check)
    assert torch.equal(me_generator.edited_ws(own, own.faces[2]), projections.load_ws("friend"))
