"""The studio's sheets: each cell shows exactly its face, rows arrive in order, a job can be stopped, and
requests over the limits are refused naming the option.

Rendered through the app's own renderer (``app.rendering.make_renderer``: the precision ``serve`` picks
here) on the 32 px random-weight generator of the web tests (a test fixture, never shown as a face).
"""
from __future__ import annotations

import io
import os
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from app.images import from_engine
from app.live.params_store import ParamsStore
from app.live.presets import load_presets
from app.projection.store import ProjectionStore
from app.rendering import make_renderer
from app.studio.jobs import FINISHED, StudioJobs
from app.studio.service import MAX_CELLS, MAX_FRAMES, MAX_SHEET_SIDE, StudioOptionError, StudioService
from stylegan2.latents import seed_to_ws
from stylegan2.studio.mixing import layer_group

# A face rendered in a batch and alone differ by float rounding only (bf16 on CPUs that have it).
MAX_PIXEL_DIFFERENCE = 3


@pytest.fixture(scope="module")
def single(projection_generator):
    """W+ latent [1, num_ws, w_dim] -> the BGR face the live app's renderer makes of it, alone."""
    renderer = make_renderer(projection_generator, None, None)

    def render(ws: torch.Tensor) -> np.ndarray:
        return from_engine(renderer.synthesis(ws, noise_mode="const"))

    return render


@pytest.fixture
def params():
    store = ParamsStore(load_presets())
    yield store
    store.close()


@pytest.fixture
def make_service(projection_generator, params, tmp_path):
    """A StudioService over the test generator; ``started`` False leaves its worker for the test to drive."""
    made = []

    def make(generator=None, started=True, batch_size=4, **priority) -> StudioService:
        store = ProjectionStore(tmp_path / "projections", projection_generator)
        jobs = StudioJobs(generator or (lambda: projection_generator), batch_size=batch_size, **priority)
        if started:
            jobs.start()
        made.append(jobs)
        return StudioService(jobs, params, store.load_ws)

    yield make
    for jobs in made:
        jobs.stop()


def cell(job, row: int, column: int) -> np.ndarray:
    canvas = job.sheet.canvas
    y, x = canvas.top + row * canvas.pitch, canvas.left + column * canvas.cell
    return job.image()[y:y + canvas.cell, x:x + canvas.cell]


def assert_same_face(shown: np.ndarray, expected: np.ndarray) -> None:
    assert shown.shape == expected.shape
    assert np.abs(shown.astype(int) - expected.astype(int)).max() <= MAX_PIXEL_DIFFERENCE


def finished(job, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while job.state not in FINISHED:
        assert time.monotonic() < deadline, f"job still {job.state} after {timeout} s"
        time.sleep(0.02)
    return job


def held_in_the_worker(generator, gate: threading.Event):
    """A generator source that makes the studio's worker wait for ``gate`` at a job's start (the request
    thread, which plans the sheet, gets the generator at once)."""

    def source():
        if threading.current_thread().name == StudioJobs.name:
            gate.wait(10)
        return generator

    return source


def test_each_grid_cell_shows_the_face_of_its_seed(make_service, projection_generator, single):
    job = finished(make_service().grid({"seeds": [5, 6, 7, 8, 9], "psi": 0.7, "columns": 3}))
    assert job.state == "done"
    for index, seed in enumerate([5, 6, 7, 8, 9]):
        assert_same_face(cell(job, *divmod(index, 3)), single(seed_to_ws(projection_generator, seed, psi=0.7)))


def test_a_grid_says_which_seed_each_cell_shows_for_a_click(make_service):
    body = finished(make_service().grid({"seeds": "10-12,40", "columns": 2})).to_json()
    assert [(entry["row"], entry["column"], entry["seed"]) for entry in body["cells"]] == [
        (0, 0, 10), (0, 1, 11), (1, 0, 12), (1, 1, 40)]
    sheet = body["sheet"]
    assert (sheet["rows"], sheet["columns"], sheet["cell"]) == (2, 2, 32)
    assert sheet["width"] == sheet["left"] + 2 * sheet["cell"] and sheet["height"] == sheet["top"] + 2 * sheet["pitch"]


def test_random_gives_that_many_different_seeds(make_service):
    body = finished(make_service().grid({"random": 6})).to_json()
    seeds = body["options"]["seeds"]
    assert len(seeds) == 6 and len(set(seeds)) == 6 and body["cells_total"] == 6


def test_rows_arrive_in_order_and_the_first_shows_before_the_last_is_rendered(make_service):
    service = make_service(started=False, batch_size=3)
    job = service.grid({"seeds": "1-9", "columns": 3})
    seen = []
    place = job.place

    def place_and_look(first, faces):
        place(first, faces)
        seen.append((job.rows_done, cell(job, 0, 0).copy(), cell(job, 2, 2).copy()))

    job.place = place_and_look
    job.start()
    service.jobs.render(job)
    rows_done, first_cell, last_cell = seen[0]
    assert [entry[0] for entry in seen] == [1, 2, 3]
    assert first_cell.std() > 0 and np.all(last_cell == 255)      # row 1 shown, the last row still blank
    assert job.state == "done" and seen[-1][2].std() > 0


def test_a_mixing_matrix_cell_is_the_row_face_with_the_column_layers(make_service, projection_generator, single):
    G = projection_generator
    job = finished(make_service().mix({"rows": [3, 4], "columns": "20,21,22", "layers": "coarse", "psi": 0.5}))
    assert job.state == "done"
    coarse = layer_group(G, "coarse")
    for r, row_seed in enumerate([3, 4]):
        assert_same_face(cell(job, r + 1, 0), single(seed_to_ws(G, row_seed, psi=0.5)))
        for c, column_seed in enumerate([20, 21, 22]):
            spliced = seed_to_ws(G, row_seed, psi=0.5).clone()
            spliced[:, coarse] = seed_to_ws(G, column_seed, psi=0.5)[:, coarse]
            assert_same_face(cell(job, r + 1, c + 1), single(spliced))
    for c, column_seed in enumerate([20, 21, 22]):
        assert_same_face(cell(job, 0, c + 1), single(seed_to_ws(G, column_seed, psi=0.5)))


def test_the_mixing_rows_default_to_the_live_face(make_service, params, projection_generator, single):
    params.update({"seed": 77, "psi": 0.6, "mode": "seed"})
    job = finished(make_service().mix({"columns": [1, 2], "layers": "4:6"}))
    assert job.to_json()["options"]["rows"] == ["seed 77"]
    assert_same_face(cell(job, 1, 0), single(seed_to_ws(projection_generator, 77, psi=0.6)))


def test_an_interpolation_starts_and_ends_on_its_two_faces(make_service, projection_generator, single):
    G = projection_generator
    for space in ("w", "z"):
        job = finished(make_service().interpolate({"from": 8, "to": "9", "frames": 5, "space": space, "psi": 0.7}))
        assert job.state == "done"
        assert_same_face(cell(job, 0, 0), single(seed_to_ws(G, 8, psi=0.7)))
        assert_same_face(cell(job, 0, 4), single(seed_to_ws(G, 9, psi=0.7)))
        assert not np.array_equal(cell(job, 0, 2), cell(job, 0, 0))


def test_an_interpolation_strip_wraps_and_can_be_a_looping_gif_there_and_back(make_service):
    job = finished(make_service().interpolate({"from": 1, "to": 2, "frames": 12, "animation": True}))
    body = job.to_json()
    assert (body["sheet"]["rows"], body["sheet"]["columns"]) == (2, 8)
    assert body["animation"]
    gif = Image.open(io.BytesIO(job.animation))
    assert gif.format == "GIF" and gif.n_frames == 2 * 12 - 2      # there and back, each end once
    assert [(entry["row"], entry["column"], entry["seed"]) for entry in body["cells"]] == [(0, 0, 1), (1, 3, 2)]


def test_a_job_cancelled_while_it_renders_stops_after_its_current_batch(make_service):
    service = make_service(started=False, batch_size=2)
    job = service.grid({"seeds": "1-16"})
    place = job.place

    def place_then_cancel(first, faces):
        place(first, faces)
        service.cancel(job.id)

    job.place = place_then_cancel
    service.jobs.start()
    assert finished(job).state == "cancelled" and job.to_json()["cells_done"] == 2


def test_a_job_cancelled_before_it_renders_renders_nothing(make_service, projection_generator):
    gate = threading.Event()
    service = make_service(generator=held_in_the_worker(projection_generator, gate), batch_size=2)
    job = service.grid({"seeds": "1-16"})
    while job.state == "queued":
        time.sleep(0.01)
    service.cancel(job.id)
    gate.set()
    assert finished(job).state == "cancelled" and job.to_json()["cells_done"] == 0


def test_a_new_job_cancels_the_one_before(make_service, projection_generator):
    gate = threading.Event()
    service = make_service(generator=held_in_the_worker(projection_generator, gate))
    first = service.grid({"seeds": "1-16"})
    second = service.grid({"seeds": "1-4"})
    third = service.grid({"seeds": "5-8"})
    gate.set()
    assert finished(third).state == "done"
    assert finished(first).state == "cancelled" and finished(second).state == "cancelled"
    assert second.to_json()["cells_done"] == 0


@pytest.mark.parametrize("kind, options, field", [
    ("grid", {"seeds": f"0-{MAX_CELLS}"}, "seeds"),
    ("grid", {"random": MAX_CELLS + 1}, "random"),
    ("grid", {"seeds": "1-16", "columns": 16, "cell": 512}, "cell"),
    ("grid", {"seeds": [1], "cell": 2048}, "cell"),
    ("grid", {"seeds": [1], "psi": "high"}, "psi"),
    ("grid", {"seeds": ["../../etc"]}, "seeds"),
    ("grid", {"seeds": [1], "random": 3}, "seeds"),
    ("grid", {"seeds": [1], "size": 3}, "size"),
    ("mix", {"rows": "1-8", "columns": "1-8"}, "columns"),
    ("mix", {"rows": [1], "columns": [2], "layers": "99:100"}, "layers"),
    ("mix", {"rows": [1]}, "columns"),
    ("mix", {"rows": ["nobody"], "columns": [2]}, "rows"),
    ("interpolate", {"from": 1, "to": 2, "frames": MAX_FRAMES + 1}, "frames"),
    ("interpolate", {"from": 1}, "to"),
    ("interpolate", {"from": 1, "to": "1,2"}, "to"),
    ("interpolate", {"from": 1, "to": 2, "space": "x"}, "space"),
    ("interpolate", {"from": "someone", "to": 2, "space": "z"}, "from"),
])
def test_bad_or_too_big_requests_are_refused_naming_the_option(make_service, kind, options, field):
    service = make_service(started=False)
    with pytest.raises(StudioOptionError) as refused:
        getattr(service, kind)(options)
    assert refused.value.field == field
    assert service.jobs._waiting is None


def test_the_sheet_size_limit_is_named_in_the_refusal(make_service):
    with pytest.raises(StudioOptionError, match=f"limit of {MAX_SHEET_SIDE} px"):
        make_service(started=False).grid({"seeds": "1-16", "columns": 16, "cell": 512})


def test_no_face_to_mix_when_the_live_view_shows_the_camera(make_service, params):
    params.update({"mode": "passthrough"})
    with pytest.raises(StudioOptionError) as refused:
        make_service(started=False).mix({"columns": [1]})
    assert refused.value.field == "rows"


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="thread priorities are a Linux feature")
def test_sheets_render_with_fewer_threads_at_a_lower_priority_than_the_stream(make_service, projection_generator):
    seen = []

    def source():
        if threading.current_thread().name == StudioJobs.name:
            seen.append((torch.get_num_threads(), os.getpriority(os.PRIO_PROCESS, 0)))
        return projection_generator

    ours = torch.get_num_threads()
    service = make_service(generator=source, cpu_threads=1, nice=5)
    assert finished(service.grid({"seeds": [1]})).state == "done"
    assert seen == [(1, os.getpriority(os.PRIO_PROCESS, 0) + 5)]
    assert torch.get_num_threads() == ours       # the other threads (the live stream's) keep theirs
