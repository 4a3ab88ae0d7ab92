"""The app's models by registry name or file: a missing one says how to fetch it and which option takes a file."""
import hashlib

import pytest
import torch

import stylegan2
import weights
from app import models
from detectors import DetectorUnavailable
from stylegan2.projection import perceptual
from stylegan2.testing import make_random_generator, save_standin


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(tmp_path))
    return tmp_path


def test_models_live_in_the_users_cache_folder_unless_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("STYLECAM_WEIGHTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert weights.weights_dir() == tmp_path / "stylecam" / "models"


def test_a_registry_model_not_yet_downloaded_says_how_to_fetch_it_or_give_a_file(weights_dir):
    with pytest.raises(models.ModelUnavailable, match=r"python -m app weights fetch ffhq-256`, or give a file "
                                                      r"with --weights FILE"):
        models.load_generator("ffhq-256", torch.device("cpu"))


def test_a_missing_file_names_the_option_and_the_known_models(tmp_path):
    with pytest.raises(models.ModelUnavailable, match=r"--perceptual .*absent.pt: no such file, and not a known "
                                                      r"model \(ffhq-256"):
        models.load_perceptual_network(tmp_path / "absent.pt", torch.device("cpu"))


def test_a_registry_name_loads_the_downloaded_file_whatever_its_content(weights_dir):
    """The registry's ffhq-256 file name ends in .pkl; a native file there still loads: content decides."""
    stylegan2.save(make_random_generator(resolution=16), weights.local_path("ffhq-256"))
    assert models.load_generator("ffhq-256", torch.device("cpu")).meta["format"] == "stylecam"


def test_vgg16_by_name_is_checked_against_its_pinned_sha256(weights_dir):
    save_standin(weights_dir / weights.get("vgg16").filename)
    with pytest.raises(weights.WeightsError, match="sha256"):
        models.load_perceptual_network("vgg16", torch.device("cpu"))


def test_the_registry_and_the_engine_agree_on_nvidias_vgg16_checksum():
    assert weights.get("vgg16").sha256 == perceptual.VGG16_SHA256


def test_a_perceptual_network_given_as_a_file_loads_without_a_registry_check(tmp_path):
    path = save_standin(tmp_path / "standin.pt")
    network = models.load_perceptual_network(path, torch.device("cpu"))
    assert network.identity["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_missing_inception_file_names_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(tmp_path))
    with pytest.raises(models.ModelUnavailable, match="python -m app weights fetch inception-fid`, or give a "
                                                      "file with --inception FILE"):
        models.load_inception_network("inception-fid", torch.device("cpu"))


def test_the_inception_file_is_checked_against_its_pinned_sha256(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(tmp_path))
    (tmp_path / weights.get("inception-fid").filename).write_bytes(b"not the real file")
    with pytest.raises(weights.WeightsError, match="expected 6726825d"):
        models.load_inception_network("inception-fid", torch.device("cpu"))


def test_registry_checksum_starts_with_the_hash_in_the_file_name():
    model = weights.get("inception-fid")
    assert model.filename.endswith(f"-{model.sha256[:8]}.pth")
    assert model.url.startswith("https://github.com/mseitzer/pytorch-fid/releases/")


def test_the_real_weights_load_strictly_and_give_features():
    if not weights.is_available("inception-fid"):
        pytest.skip(f"the FID Inception weights are not downloaded ({weights.local_path('inception-fid')}); "
                    f"run: python -m app weights fetch inception-fid")
    network = models.load_inception_network("inception-fid", torch.device("cpu"))
    with torch.no_grad():
        features = network(torch.rand(2, 3, 64, 64) * 255)
    assert features.shape == (2, 2048) and torch.isfinite(features).all() and (features >= 0).all()
    assert network.weights_sha256 == weights.get("inception-fid").sha256


def test_a_missing_detector_model_says_how_to_download_it_or_give_a_file(weights_dir):
    with pytest.raises(DetectorUnavailable) as caught:
        models.face_detector("yunet")
    message = str(caught.value)
    assert "python -m app weights fetch yunet" in message and "--detector-model FILE" in message
    assert "model_path" not in message


def test_a_detector_file_that_cannot_be_used_points_at_the_option(tmp_path):
    with pytest.raises(DetectorUnavailable, match="absent.onnx.*Check the file given with --detector-model"):
        models.face_detector("yunet", tmp_path / "absent.onnx")


def test_a_detector_that_can_run_is_built_as_detectors_builds_it(yunet_file):
    assert models.face_detector("yunet", yunet_file, detect_width=320).name == "yunet"


@pytest.mark.parametrize("given, shown", [("ffhq-256", "ffhq-256"), ("/home/someone/models/mine.pkl", "mine.pkl"),
                                          ("models/mine.pt", "mine.pt")])
def test_a_model_is_shown_by_registry_name_or_file_name_never_its_folder(given, shown):
    assert models.display_name(given) == shown
