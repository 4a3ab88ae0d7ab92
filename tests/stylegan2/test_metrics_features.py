"""Features of datasets and generators, the dataset cache, and FID/KID end to end (random-weight networks)."""
import io
import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan2.latents import seed_to_z
from stylegan2.metrics import (
    KID,
    DatasetFeatures,
    DatasetReadError,
    ImageDataset,
    InceptionFeatures,
    UnsupportedGenerator,
    fid,
    generated_images,
    kid,
    load_inception,
)
from stylegan2.testing import make_random_generator
from tests.stylegan2.inception_fixtures import random_inception


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="png")
    return buffer.getvalue()


def write_dataset_zip(path, images) -> None:
    """A zip in the layout of NVIDIA's dataset_tool.py: 00000/img00000000.png ... and dataset.json."""
    with zipfile.ZipFile(path, "w") as archive:
        for index, image in enumerate(images):
            archive.writestr(f"{index // 1000:05d}/img{index:08d}.png", png_bytes(image))
        archive.writestr("dataset.json", json.dumps({"labels": None}))


def random_images(count: int, size: int = 16, seed: int = 0) -> list:
    rng = np.random.RandomState(seed)
    return [rng.randint(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(count)]


@pytest.fixture(scope="module")
def generator():
    return make_random_generator(resolution=32, seed=1)


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """A random-weight Inception loaded from a file, as ``load_inception`` loads the real one."""
    path = tmp_path_factory.mktemp("inception") / "random_inception.pth"
    torch.save(random_inception().state_dict(), path)
    return load_inception(path)


# --- reading datasets -------------------------------------------------------------------------------------

def test_dataset_zip_reads_as_uint8_batches_in_name_order(tmp_path):
    images = random_images(5)
    write_dataset_zip(tmp_path / "faces.zip", images)
    dataset = ImageDataset(tmp_path / "faces.zip")
    batches = list(dataset.batches(2))
    assert len(dataset) == 5 and [b.shape for b in batches] == [(2, 3, 16, 16)] * 2 + [(1, 3, 16, 16)]
    assert all(b.dtype == np.uint8 for b in batches)
    assert np.array_equal(np.concatenate(batches), np.stack(images).transpose(0, 3, 1, 2))


def test_dataset_folder_reads_like_the_zip(tmp_path):
    images = random_images(3)
    for index, image in enumerate(images):
        (tmp_path / "faces" / "00000").mkdir(parents=True, exist_ok=True)
        (tmp_path / "faces" / "00000" / f"img{index:08d}.png").write_bytes(png_bytes(image))
    batch, = ImageDataset(tmp_path / "faces").batches(8)
    assert np.array_equal(batch, np.stack(images).transpose(0, 3, 1, 2))


def test_grey_images_read_as_three_equal_channels(tmp_path):
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    with zipfile.ZipFile(tmp_path / "grey.zip", "w") as archive:
        archive.writestr("00000/img00000000.png", png_bytes(grey))
    batch, = ImageDataset(tmp_path / "grey.zip").batches(1)
    assert batch.shape == (1, 3, 16, 16) and all(np.array_equal(channel, grey) for channel in batch[0])


def test_max_images_takes_the_first_images(tmp_path):
    images = random_images(4)
    write_dataset_zip(tmp_path / "faces.zip", images)
    batch, = ImageDataset(tmp_path / "faces.zip", max_images=2).batches(8)
    assert np.array_equal(batch, np.stack(images[:2]).transpose(0, 3, 1, 2))


def test_unreadable_datasets_are_named_with_the_problem(tmp_path):
    with pytest.raises(DatasetReadError, match="does not exist"):
        ImageDataset(tmp_path / "absent.zip")
    (tmp_path / "notes.zip").write_text("not a zip")
    with pytest.raises(DatasetReadError, match="neither a zip file nor a folder"):
        ImageDataset(tmp_path / "notes.zip")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as archive:
        archive.writestr("dataset.json", "{}")
    with pytest.raises(DatasetReadError, match="holds no images"):
        ImageDataset(tmp_path / "empty.zip")


def test_a_damaged_image_is_named(tmp_path):
    with zipfile.ZipFile(tmp_path / "damaged.zip", "w") as archive:
        archive.writestr("00000/img00000000.png", png_bytes(random_images(1)[0])[:40])
    with pytest.raises(DatasetReadError, match="cannot read 00000/img00000000.png"):
        list(ImageDataset(tmp_path / "damaged.zip").batches(4))


def test_images_of_different_sizes_are_refused(tmp_path):
    write_dataset_zip(tmp_path / "mixed.zip", random_images(1, 16) + random_images(1, 8))
    with pytest.raises(DatasetReadError, match="different sizes"):
        list(ImageDataset(tmp_path / "mixed.zip").batches(4))


# --- generated images -------------------------------------------------------------------------------------

def test_generated_images_are_the_seeds_images_quantised_to_8_bits(generator):
    batch, = generated_images(generator, 3, batch_size=8, noise_mode="const")
    with torch.no_grad():
        expected = generator(torch.cat([seed_to_z(seed, generator.z_dim) for seed in range(3)]), noise_mode="const")
    assert batch.dtype == np.uint8 and batch.shape == (3, 3, 32, 32)
    assert np.array_equal(batch, (expected * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy())


def test_generated_images_do_not_depend_on_the_batch_size(generator):
    """The same images, up to float rounding, which differs with the batch's shape in some torch releases
    (2.2 moved one pixel of 15360 by one level)."""
    whole = np.concatenate(list(generated_images(generator, 5, batch_size=5, noise_mode="const"))).astype(int)
    pieces = np.concatenate(list(generated_images(generator, 5, batch_size=2, noise_mode="const"))).astype(int)
    assert np.abs(whole - pieces).max() <= 1 and np.mean(whole != pieces) < 0.001


def test_random_noise_is_reproducible_and_leaves_the_callers_random_state_alone(generator):
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first = np.concatenate(list(generated_images(generator, 3, batch_size=2, noise_mode="random")))
    assert torch.equal(torch.random.get_rng_state(), state)
    second = np.concatenate(list(generated_images(generator, 3, batch_size=2, noise_mode="random")))
    const = np.concatenate(list(generated_images(generator, 3, batch_size=2, noise_mode="const")))
    assert np.array_equal(first, second) and not np.array_equal(first, const)


def test_conditional_generators_are_refused():
    conditional = make_random_generator(resolution=32, c_dim=3)
    with pytest.raises(UnsupportedGenerator, match="unconditional generators; this one expects 3 class labels"):
        next(generated_images(conditional, 2))


# --- FID, KID and the dataset cache, end to end -----------------------------------------------------------

@pytest.mark.slow
def test_fid_of_a_generator_against_a_dataset_of_its_own_images_is_zero(generator, network, tmp_path):
    own = np.concatenate(list(generated_images(generator, 3))).transpose(0, 2, 3, 1)
    write_dataset_zip(tmp_path / "own.zip", own)
    write_dataset_zip(tmp_path / "other.zip", random_images(3, 32))
    same = fid(generator, tmp_path / "own.zip", network, num=3)
    other = fid(generator, tmp_path / "other.zip", network, num=3)
    assert abs(same) < 1e-9 * other and other > 1


def test_kid_reports_its_value_and_spread(generator, network, tmp_path):
    write_dataset_zip(tmp_path / "other.zip", random_images(3, 32))
    result = kid(generator, tmp_path / "other.zip", network, num=3, num_subsets=3)
    assert isinstance(result, KID) and np.isfinite(result.value) and result.value > 0 and result.std >= 0


def test_dataset_features_are_cached_and_not_recomputed(network, tmp_path):
    write_dataset_zip(tmp_path / "faces.zip", random_images(3, 32))
    calls = []
    hook = network.register_forward_hook(lambda module, inputs, output: calls.append(len(inputs[0])))
    try:
        first_features, first_stats = DatasetFeatures(tmp_path / "faces.zip", network, tmp_path / "cache").load()
        second_features, second_stats = DatasetFeatures(tmp_path / "faces.zip", network, tmp_path / "cache").load()
    finally:
        hook.remove()
    assert calls == [3]
    assert len(list((tmp_path / "cache").iterdir())) == 1
    assert np.array_equal(first_features, second_features) and second_features.shape == (3, 2048)
    assert np.array_equal(first_stats.cov, second_stats.cov) and second_stats.count == 3


def test_the_cache_key_follows_the_dataset_contents_and_the_settings(network, tmp_path):
    write_dataset_zip(tmp_path / "faces.zip", random_images(3, 32))
    original = DatasetFeatures(tmp_path / "faces.zip", network, tmp_path / "cache").cache_path
    fewer = DatasetFeatures(tmp_path / "faces.zip", network, tmp_path / "cache", max_images=2).cache_path
    write_dataset_zip(tmp_path / "faces.zip", random_images(3, 32, seed=1))
    changed = DatasetFeatures(tmp_path / "faces.zip", network, tmp_path / "cache").cache_path
    assert len({original, fewer, changed}) == 3


def test_a_network_without_a_weights_file_is_never_cached(tmp_path):
    write_dataset_zip(tmp_path / "faces.zip", random_images(2, 16))
    features = DatasetFeatures(tmp_path / "faces.zip", InceptionFeatures(), tmp_path / "cache")
    assert features.cache_path is None


def test_progress_reports_each_stage_up_to_its_total(generator, network, tmp_path):
    write_dataset_zip(tmp_path / "faces.zip", random_images(2, 32))
    reports = []
    kid(generator, tmp_path / "faces.zip", network, num=2, batch_size=1, num_subsets=1,
        progress=lambda stage, done, total: reports.append((stage, done, total)))
    assert reports == [("dataset", 2, 2), ("generator", 1, 2), ("generator", 2, 2)]
