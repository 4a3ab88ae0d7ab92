"""``python -m app dataset``: options, counts at the end, and one error line for every mistake."""
import shutil
import zipfile

import pytest
from click.testing import CliRunner

from app.cli.dataset import dataset_command

YUNET = "weights/face_detection_yunet_2026may.onnx"


@pytest.fixture
def photos(shared_file, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut.png", "grace_hopper.jpg", "noface_cat.png"):
        shutil.copy(shared_file(f"media/images/{name}"), folder / name)
    return folder


def run(shared_file, *arguments):
    return CliRunner().invoke(dataset_command, [*map(str, arguments), "--detector-model",
                                                str(shared_file(YUNET))])


def test_writes_the_zip_and_prints_the_counts(shared_file, photos, tmp_path):
    result = run(shared_file, photos, "--out", tmp_path / "faces.zip", "--size", "128")
    assert result.exit_code == 0, result.output
    assert "Read 3 photo(s) and 0 video(s)" in result.output and "found 2 face(s)" in result.output
    assert f"Wrote 2 face(s) of 128x128 to {tmp_path / 'faces.zip'}" in result.output
    assert "No face found in 1 file(s)" in result.output
    with zipfile.ZipFile(tmp_path / "faces.zip") as archive:
        assert len(archive.namelist()) == 3


def test_an_existing_zip_needs_force(shared_file, photos, tmp_path):
    (tmp_path / "faces.zip").write_bytes(b"earlier")
    result = run(shared_file, photos, "--out", tmp_path / "faces.zip")
    assert result.exit_code == 1 and "exists; choose another --out, or add --force" in result.output
    assert (tmp_path / "faces.zip").read_bytes() == b"earlier"
    assert run(shared_file, photos, "--out", tmp_path / "faces.zip", "--force").exit_code == 0


def test_no_usable_face_is_one_error_line_and_no_zip(shared_file, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(shared_file("media/images/noface_fruits.jpg"), folder)
    result = run(shared_file, folder, "--out", tmp_path / "faces.zip")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "\nError: no face could go into the dataset, so nothing was written" in "\n" + result.output
    assert not (tmp_path / "faces.zip").exists()


@pytest.mark.parametrize("arguments, message", [
    (["--size", "300"], "power of two from 32 to 1024"),
    (["--frame-step", "0"], "Invalid value for '--frame-step'"),
])
def test_bad_options_are_one_error_line(shared_file, photos, tmp_path, arguments, message):
    result = run(shared_file, photos, "--out", tmp_path / "faces.zip", *arguments)
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
