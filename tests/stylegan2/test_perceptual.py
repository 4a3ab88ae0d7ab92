"""The perceptual network loader: NVIDIA's TorchScript VGG16 or the stand-in, through the same code."""
import hashlib
import os
import pickle

import pytest
import torch
import torch.nn.functional as F

from stylegan2.projection import perceptual
from stylegan2.projection.perceptual import PerceptualNetwork, PerceptualNetworkError, load_perceptual
from stylegan2.testing import save_standin


@pytest.fixture(scope="module")
def standin_path(tmp_path_factory):
    return save_standin(tmp_path_factory.mktemp("perceptual") / "standin_vgg16.pt")


@pytest.fixture(scope="module")
def network(standin_path) -> PerceptualNetwork:
    return load_perceptual(standin_path)


def random_images(seed: int, size: int = 64, batch: int = 1) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_standin_loads_through_the_torchscript_path(network):
    assert isinstance(network.module, torch.jit.ScriptModule)
    assert network.features(random_images(0)).shape[0] == 1


def test_a_standin_is_labelled_as_one_with_its_files_checksum(network, standin_path):
    assert network.identity == {"name": "stand-in", "sha256": hashlib.sha256(standin_path.read_bytes()).hexdigest(),
                                "file": "standin_vgg16.pt"}


def test_only_a_file_with_nvidias_pinned_checksum_is_labelled_vgg16(standin_path, monkeypatch):
    monkeypatch.setattr(perceptual, "VGG16_SHA256", hashlib.sha256(standin_path.read_bytes()).hexdigest())
    assert load_perceptual(standin_path).identity["name"] == "vgg16"


def test_a_missing_file_is_refused_with_its_path(tmp_path):
    with pytest.raises(PerceptualNetworkError, match="absent.pt"):
        load_perceptual(tmp_path / "absent.pt")


def test_network_weights_are_frozen(network):
    assert all(not parameter.requires_grad for parameter in network.module.parameters())


def test_a_pickle_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "executed"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    hostile = tmp_path / "vgg16.pt"
    hostile.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(PerceptualNetworkError, match="not a TorchScript"):
        load_perceptual(hostile)
    assert not marker.exists()


def test_a_plain_torch_save_file_is_refused(tmp_path):
    path = tmp_path / "state.pt"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(PerceptualNetworkError, match="not a TorchScript perceptual network"):
        load_perceptual(path)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")   # torch.jit.script: the real file's format.
def test_torchscript_with_another_call_signature_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.jit.script(torch.nn.Conv2d(3, 4, 3)).save(str(path))
    with pytest.raises(PerceptualNetworkError, match="missing: img, resize_images, return_lpips"):
        load_perceptual(path)


def test_identical_images_have_zero_distance(network):
    features = network.features(random_images(1))
    assert float(network.distance(features, features)) == 0.0


def test_distance_grows_with_the_difference(network):
    image = random_images(2)
    noise = random_images(3)
    base = network.features(image)
    near = network.distance(base, network.features((image + 0.1 * noise).clamp(-1, 1)))
    far = network.distance(base, network.features((image + 0.8 * noise).clamp(-1, 1)))
    assert 0 < float(near) < float(far)


def test_images_above_256_pixels_are_area_downsampled_first(network):
    large = random_images(4, size=512)
    downsampled = F.interpolate(large, size=(256, 256), mode="area")
    assert torch.allclose(network.features(large), network.features(downsampled), atol=1e-6)


def test_features_pass_gradients_to_the_images(network):
    image = random_images(5).requires_grad_(True)
    network.distance(network.features(image), network.features(random_images(6))).sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


def test_images_must_be_a_batch_of_rgb(network):
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        network.features(torch.zeros(3, 64, 64))
