"""``python -m app metrics fid|kid`` on a random-weight generator and Inception saved to files (test fixtures)."""
import io
import json
import re
import zipfile

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import stylegan2
from app.cli.metrics import metrics_group
from stylegan2.testing import make_random_generator
from tests.stylegan2.inception_fixtures import random_inception


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("metrics")
    stylegan2.save(make_random_generator(resolution=32, seed=2), folder / "generator.pt")
    torch.save(random_inception().state_dict(), folder / "inception.pth")
    rng = np.random.RandomState(0)
    with zipfile.ZipFile(folder / "faces.zip", "w") as archive:
        for index in range(3):
            buffer = io.BytesIO()
            Image.fromarray(rng.randint(0, 256, (32, 32, 3), dtype=np.uint8)).save(buffer, format="png")
            archive.writestr(f"00000/img{index:08d}.png", buffer.getvalue())
        archive.writestr("dataset.json", json.dumps({"labels": None}))
    return folder


def run(files, metric, *arguments):
    return CliRunner().invoke(metrics_group, [
        metric, "--weights", str(files / "generator.pt"), "--inception", str(files / "inception.pth"),
        "--device", "cpu", "--cache", str(files / "cache"), *map(str, arguments)])


def test_kid_prints_its_value_and_spread_and_caches_the_dataset(files):
    result = run(files, "kid", "--data", files / "faces.zip", "--num", 3, "--subsets", 2)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("KID ") and "± " in result.output
    assert len(list((files / "cache").glob("faces-*.npz"))) == 1


@pytest.mark.slow
def test_fid_prints_the_distance(files):
    result = run(files, "fid", "--data", files / "faces.zip", "--num", 2)
    assert result.exit_code == 0, result.output
    score = re.match(r"FID (\d+\.\d+) \(2 generated images against ", result.output.splitlines()[-1])
    assert score and float(score.group(1)) > 0


def test_a_dataset_that_is_not_one_is_one_error_line(files, tmp_path):
    (tmp_path / "notes.zip").write_text("not a zip")
    result = run(files, "kid", "--data", tmp_path / "notes.zip", "--num", 2)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "neither a zip file nor a folder of images" in result.output


def test_an_inception_file_of_other_tensors_is_one_error_line(files, tmp_path):
    torch.save({"weight": torch.zeros(2)}, tmp_path / "other.pth")
    result = CliRunner().invoke(metrics_group, ["kid", "--weights", str(files / "generator.pt"), "--data",
                                                str(files / "faces.zip"), "--inception", str(tmp_path / "other.pth"),
                                                "--device", "cpu", "--num", "2"])
    assert result.exit_code == 1 and "does not hold the FID Inception-v3's tensors" in result.output
