"""The FID Inception-v3: pytorch-fid's state-dict layout, TF's input handling, and safe loading."""
import numpy as np
import pytest
import torch

from stylegan2.files import file_sha256
from stylegan2.metrics import InceptionFeatures, InceptionWeightsError, load_inception
from stylegan2.metrics.inception import resize_like_tf
from tests.stylegan2.inception_fixtures import random_inception

PUBLISHED_FILE_BYTES = 95_628_359     # pt_inception-2015-12-05-6726825d.pth, as its downloaders record it
PUBLISHED_ENTRIES = 566


@pytest.fixture(scope="module")
def network() -> InceptionFeatures:
    return random_inception()


@pytest.fixture(scope="module")
def network_file(network, tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / "random_inception.pth"
    torch.save(network.state_dict(), path)
    return path


def test_state_dict_has_the_published_files_entries_and_size(network):
    """Every tensor of pytorch-fid's file, by name and shape: 566 entries whose bytes are the file's
    95.6 MB less its zip and pickle overhead."""
    state = network.state_dict()
    assert len(state) == PUBLISHED_ENTRIES
    tensor_bytes = sum(t.numel() * t.element_size() for t in state.values())
    assert 0 < PUBLISHED_FILE_BYTES - tensor_bytes < 0.002 * PUBLISHED_FILE_BYTES
    shapes = {key: list(value.shape) for key, value in state.items()}
    assert shapes["Conv2d_1a_3x3.conv.weight"] == [32, 3, 3, 3]
    assert shapes["Mixed_5b.branch_pool.conv.weight"] == [32, 192, 1, 1]
    assert shapes["Mixed_6e.branch7x7dbl_5.conv.weight"] == [192, 192, 1, 7]
    assert shapes["Mixed_7c.branch3x3dbl_3b.bn.running_var"] == [384]
    assert shapes["Mixed_7a.branch7x7x3_4.bn.num_batches_tracked"] == []
    assert shapes["fc.weight"] == [1008, 2048]


def test_a_saved_state_dict_loads_strictly_into_a_fresh_network(network, network_file):
    loaded = load_inception(network_file)
    images = torch.rand(2, 3, 64, 64) * 255
    with torch.no_grad():
        assert torch.equal(loaded(images), network(images))
    assert loaded.weights_sha256 == file_sha256(network_file)
    assert not any(parameter.requires_grad for parameter in loaded.parameters())


def test_features_are_2048_non_negative_deterministic_and_independent_of_the_batch(network):
    images = torch.rand(3, 3, 48, 64) * 255
    with torch.no_grad():
        features = network(images)
        again = network(images)
        alone = network(images[1:2])
    assert features.shape == (3, 2048) and features.dtype == torch.float32
    assert (features >= 0).all() and (features[0] - features[2]).abs().mean() > 0.01
    assert torch.equal(features, again)
    assert torch.allclose(alone[0], features[1], rtol=1e-4, atol=1e-5)


def test_network_refuses_what_is_not_rgb(network):
    with pytest.raises(ValueError, match=r"expected RGB images \[N, 3, H, W\]"):
        network(torch.zeros(1, 1, 32, 32))


def tf_resize_bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """TF1's ResizeBilinear without half-pixel centres, written out pixel by pixel: output i reads input
    position i * in / out, between floor and floor + 1 clamped to the last pixel."""
    height, width = image.shape[-2:]
    out = np.zeros(image.shape[:-2] + (size, size))
    for i in range(size):
        y = i * height / size
        y0, fy = int(np.floor(y)), y - np.floor(y)
        y1 = min(y0 + 1, height - 1)
        for j in range(size):
            x = j * width / size
            x0, fx = int(np.floor(x)), x - np.floor(x)
            x1 = min(x0 + 1, width - 1)
            top = image[..., y0, x0] * (1 - fx) + image[..., y0, x1] * fx
            bottom = image[..., y1, x0] * (1 - fx) + image[..., y1, x1] * fx
            out[..., i, j] = top * (1 - fy) + bottom * fy
    return out


@pytest.mark.parametrize("height, width, size", [(7, 5, 11), (16, 16, 9), (10, 13, 10)])
def test_resize_reads_the_input_where_tf1_resize_bilinear_did(height, width, size):
    image = np.random.RandomState(0).rand(2, 3, height, width) * 255
    resized = resize_like_tf(torch.from_numpy(image), size).numpy()
    assert np.allclose(resized, tf_resize_bilinear(image, size), atol=1e-9)


def test_resize_to_the_same_size_changes_nothing():
    image = torch.rand(1, 3, 29, 29, dtype=torch.float64)
    assert torch.allclose(resize_like_tf(image, 29), image, atol=1e-12)


def test_a_state_dict_missing_a_tensor_is_refused(network, tmp_path):
    state = network.state_dict()
    del state["Mixed_6c.branch1x1.bn.running_mean"]
    torch.save(state, tmp_path / "short.pth")
    with pytest.raises(InceptionWeightsError, match=r"\(missing: Mixed_6c\.branch1x1\.bn\.running_mean\)"):
        load_inception(tmp_path / "short.pth")


def test_a_state_dict_with_a_misshapen_tensor_is_refused(network, tmp_path):
    state = network.state_dict()
    state["fc.weight"] = torch.zeros(1000, 2048)
    torch.save(state, tmp_path / "imagenet_head.pth")
    with pytest.raises(InceptionWeightsError, match=r"\(wrong shape: fc\.weight\)"):
        load_inception(tmp_path / "imagenet_head.pth")


class NotATensor:
    """Stands for anything a pickle could make besides tensors and containers."""


def test_a_pickle_of_other_objects_is_refused_without_being_run(tmp_path):
    torch.save({"fc.weight": NotATensor()}, tmp_path / "object.pth")
    with pytest.raises(InceptionWeightsError, match="not a plain PyTorch state dict"):
        load_inception(tmp_path / "object.pth")


def test_a_file_that_is_not_a_state_dict_is_refused(tmp_path):
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(InceptionWeightsError, match="holds a list, not a state dict"):
        load_inception(tmp_path / "list.pth")
