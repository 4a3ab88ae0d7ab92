"""``python -m app project`` and ``stylize`` on real photos, with a tiny random-weight generator and the
stand-in perceptual network (the real vgg16 is not available offline: its absence must give the fetch
command). User mistakes end in one error line, never a traceback."""
import json

import cv2
import numpy as np
import pytest
import torch

from app.projection.store import ProjectionStore
from tests.app.cli.test_cli import assert_clean_failure
from tests.app.cli.test_cli import run as run_cli

pytestmark = pytest.mark.slow

STEPS = "4"


@pytest.fixture
def models(projection_weights, standin_perceptual, yunet_file, tmp_path):
    """The options that point the commands at the test models and a fresh projections folder; one torch
    thread, as the app's projection worker uses here (the test thread's setting is restored after)."""
    threads = torch.get_num_threads()
    yield ["--weights", str(projection_weights), "--perceptual", str(standin_perceptual), "--detector-model",
           str(yunet_file), "--projections", str(tmp_path / "projections"), "--device", "cpu", "--steps", STEPS,
           "--threads", "1"]
    torch.set_num_threads(threads)


def run(*args):
    return run_cli(*(str(arg) for arg in args))


@pytest.fixture
def grace(shared_file):
    return shared_file("media/images/grace_hopper.jpg")


def test_project_saves_a_selectable_projection_and_a_side_by_side(grace, models, tmp_path, projection_generator):
    comparison = tmp_path / "grace.png"
    result = run("project", grace, "--out", "grace", "--comparison", comparison, *models)
    assert result.exit_code == 0, result.output
    assert "saved projection 'grace'" in result.output
    store = ProjectionStore(tmp_path / "projections", projection_generator)
    [entry] = store.list()
    assert (entry["name"], entry["source"], entry["compatible"]) == ("grace", "file:grace_hopper.jpg", True)
    size = projection_generator.img_resolution
    assert cv2.imread(str(comparison)).shape == (size, 2 * size, 3)


def test_project_writes_the_side_by_side_as_name_jpg_by_default(grace, models, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("project", grace, "--out", "me", *models).exit_code == 0
    assert (tmp_path / "me.jpg").is_file()


def test_project_without_the_perceptual_network_says_how_to_fetch_it(grace, models, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(tmp_path / "no-weights"))
    without = models[:models.index("--perceptual")] + models[models.index("--perceptual") + 2:]
    result = run("project", grace, "--out", "grace", *without)
    assert_clean_failure(result, "python -m app weights fetch vgg16")
    assert not (tmp_path / "projections").exists()


def test_project_a_photo_without_a_face_fails_cleanly(shared_file, models, tmp_path):
    result = run("project", shared_file("media/images/noface_cat.png"), "--out", "cat", *models)
    assert_clean_failure(result, "no face found")
    assert not (tmp_path / "projections").exists()


def test_project_a_file_that_is_not_a_photo_fails_cleanly(models, tmp_path):
    fake = tmp_path / "photo.jpg"
    fake.write_text("not a photo")
    assert_clean_failure(run("project", fake, "--out", "x", *models), "not a JPEG, PNG or WebP")


def test_project_refuses_a_name_that_is_taken(grace, models, tmp_path):
    assert run("project", grace, "--out", "grace", "--comparison", tmp_path / "a.jpg", *models).exit_code == 0
    again = run("project", grace, "--out", "grace", "--comparison", tmp_path / "b.jpg", *models)
    assert_clean_failure(again, "already exists")


def test_project_refuses_an_unsafe_name(grace, models):
    assert_clean_failure(run("project", grace, "--out", "../escape", *models), "projection name must be")


def faces_in(shared_file, photo):
    described = json.loads(shared_file("media/faces.json").read_text())
    return [face["box"] for face in described["images"][f"images/{photo}"]["faces"]]


def changed_inside_and_outside(before, after, boxes):
    """Mean change inside the middle of each face box, and the 99th percentile change far outside them."""
    difference = np.abs(before.astype(int) - after.astype(int)).sum(axis=2)
    outside = np.ones(difference.shape, bool)
    inside = []
    for x, y, w, h in (tuple(int(v) for v in box) for box in boxes):
        inside.append(difference[y + h // 4:y + 3 * h // 4, x + w // 4:x + 3 * w // 4].mean())
        outside[max(y - h // 2, 0):y + h + h // 2, max(x - w // 2, 0):x + w + w // 2] = False
    return inside, np.percentile(difference[outside], 99)


def test_stylize_replaces_the_face_and_leaves_the_rest(grace, models, tmp_path, shared_file):
    out = tmp_path / "styled.png"
    result = run("stylize", grace, "--style", "5", "--layers", "4:8", "--out", out, *models)
    assert result.exit_code == 0, result.output
    assert "1 face stylized" in result.output
    before, after = cv2.imread(str(grace)), cv2.imread(str(out))
    assert after.shape == before.shape
    inside, outside = changed_inside_and_outside(before, after, faces_in(shared_file, "grace_hopper.jpg"))
    assert min(inside) > 20 and outside == 0


def test_stylize_every_face_of_a_group_with_a_saved_latent(shared_file, models, tmp_path, grace):
    run("project", grace, "--out", "grace", "--comparison", tmp_path / "g.jpg", *models)
    photo = shared_file("media/images/office_three_people.jpg")
    out = tmp_path / "office.png"
    result = run("stylize", photo, "--face", "grace", "--style", "grace", "--layers", "0:8", "--out", out, *models)
    assert result.exit_code == 0, result.output
    assert "3 faces stylized" in result.output and "face 1/3" not in result.output   # nothing projected
    inside, outside = changed_inside_and_outside(cv2.imread(str(photo)), cv2.imread(str(out)),
                                                 faces_in(shared_file, "office_three_people.jpg"))
    assert min(inside) > 10 and outside == 0


@pytest.mark.parametrize("options, phrase", [
    (["--layers", "9:3"], "--layers"),
    (["--layers", "0:99"], "--layers"),
    (["--style", "ghost"], "neither a saved projection"),
    (["--style", str(2 ** 32)], "seed must be between"),
    (["--face", "ghost"], "neither a saved projection"),
])
def test_stylize_mistakes_fail_cleanly(grace, models, tmp_path, options, phrase):
    arguments = {"--style": "5", "--layers": "4:8"}
    arguments.update(dict(zip(options[::2], options[1::2])))
    flat = [item for pair in arguments.items() for item in pair]
    assert_clean_failure(run("stylize", grace, *flat, "--out", tmp_path / "x.png", *models), phrase)


def test_stylize_a_photo_without_a_face_fails_cleanly(shared_file, models, tmp_path):
    result = run("stylize", shared_file("media/images/noface_fruits.jpg"), "--style", "5", "--layers", "4:8",
                 "--out", tmp_path / "x.png", *models)
    assert_clean_failure(result, "no face found")
    assert not (tmp_path / "x.png").exists()


def test_serve_refuses_a_projector_url_that_is_not_http():
    assert_clean_failure(run("serve", "--projector-url", "desktop:5000"), "--projector-url", "http://desktop:5000")


# --- output images ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, phrase", [("g1.txt", "use a .jpg or .png name"), ("missing/g.jpg", "does not exist"),
                                          (".", "is a directory")])
def test_project_refuses_an_unwritable_comparison_before_any_work(grace, models, tmp_path, monkeypatch, name,
                                                                   phrase):
    monkeypatch.chdir(tmp_path)
    result = run("project", grace, "--out", "grace", "--comparison", name, *models)
    assert_clean_failure(result, "--comparison", phrase)
    assert not (tmp_path / "projections").exists()


def test_stylize_refuses_an_unwritable_output_before_any_work(grace, models, tmp_path):
    result = run("stylize", grace, "--style", "5", "--layers", "4:8", "--out", tmp_path / "out.txt", *models)
    assert_clean_failure(result, "--out", "use a .jpg or .png name")
    assert "face 1/1" not in result.output and list(tmp_path.iterdir()) == []
