"""Training data: dataset_tool zips and folders, mirroring, labels, clear errors, and the step order."""
import numpy as np
import pytest
import torch
from PIL import Image

from stylegan2.training.dataset import ImageDataset, StepSampler
from stylegan2.training.errors import DatasetError
from tests.stylegan2.training_fixtures import shape_images, write_folder, write_zip


def test_zip_in_dataset_tool_layout_gives_uint8_chw_images(tmp_path):
    images = shape_images(5, resolution=16)
    dataset = ImageDataset(write_zip(tmp_path / "faces.zip", images))
    image, label = dataset[3]
    assert (len(dataset), dataset.resolution, dataset.num_channels, dataset.label_dim) == (5, 16, 3, 0)
    assert image.dtype == torch.uint8 and torch.equal(image, torch.from_numpy(images[3]).permute(2, 0, 1))
    assert label.shape == (0,)


def test_folder_of_images_reads_like_a_zip(tmp_path):
    images = shape_images(4, resolution=16)
    folder = ImageDataset(write_folder(tmp_path / "f", images))
    archive = ImageDataset(write_zip(tmp_path / "z.zip", images))
    assert all(torch.equal(folder[i][0], archive[i][0]) for i in range(4))


def test_mirror_appends_every_image_flipped_left_to_right(tmp_path):
    dataset = ImageDataset(write_folder(tmp_path / "f", shape_images(3, resolution=16)), mirror=True)
    assert len(dataset) == 6
    assert torch.equal(dataset[4][0], dataset[1][0].flip(2))


def test_greyscale_dataset_has_one_channel(tmp_path):
    folder = tmp_path / "grey"
    folder.mkdir()
    for index in range(2):
        Image.fromarray(np.full([8, 8], 40 * index, dtype=np.uint8), "L").save(folder / f"{index}.png")
    dataset = ImageDataset(folder)
    assert dataset.num_channels == 1 and dataset[1][0].shape == (1, 8, 8)


def test_integer_labels_become_one_hot_vectors(tmp_path):
    names = [f"00000/img{index:08d}.png" for index in range(3)]
    path = write_zip(tmp_path / "l.zip", shape_images(3, resolution=8), labels=dict(zip(names, [2, 0, 1])))
    dataset = ImageDataset(path, use_labels=True)
    assert dataset.label_dim == 3 and torch.equal(dataset[0][1], torch.tensor([0.0, 0.0, 1.0]))


def test_labels_asked_of_a_dataset_without_them_are_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="conditional but the dataset has no labels"):
        ImageDataset(write_zip(tmp_path / "n.zip", shape_images(2, resolution=8)), use_labels=True)


def test_empty_folder_is_refused_naming_what_was_expected(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(DatasetError, match="holds no images"):
        ImageDataset(tmp_path / "empty")


def test_missing_dataset_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="no such dataset"):
        ImageDataset(tmp_path / "nowhere.zip")


def test_images_of_different_sizes_are_refused_naming_both(tmp_path):
    folder = write_folder(tmp_path / "mixed", shape_images(2, resolution=16))
    Image.fromarray(shape_images(1, resolution=32)[0]).save(folder / "big.png")
    with pytest.raises(DatasetError, match=r"16x16 \('img00000.png'\), 32x32 \('big.png'\)"):
        ImageDataset(folder)


def test_non_square_image_is_refused(tmp_path):
    folder = tmp_path / "wide"
    folder.mkdir()
    Image.fromarray(np.zeros([16, 32, 3], dtype=np.uint8)).save(folder / "wide.png")
    with pytest.raises(DatasetError, match="'wide.png' is 32x16"):
        ImageDataset(folder)


def test_a_file_that_is_not_an_image_is_named(tmp_path):
    folder = write_folder(tmp_path / "bad", shape_images(2, resolution=8))
    (folder / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="'broken.png' is not a readable image"):
        ImageDataset(folder)


def test_each_epoch_visits_every_image_once():
    sampler = StepSampler(dataset_size=12, batch=4, seed=3)
    visited = [index for step in range(3) for index in sampler.step_indices(step)]
    assert sorted(visited) == list(range(12))


def test_step_order_depends_only_on_seed_and_step():
    fresh, resumed = StepSampler(10, 4, seed=1), StepSampler(10, 4, seed=1, start_step=5)
    assert next(iter(resumed)) == fresh.step_indices(5)
    assert StepSampler(10, 4, seed=2).step_indices(0) != fresh.step_indices(0)


def test_processes_take_consecutive_slices_of_the_global_batch():
    whole = StepSampler(20, 8, seed=0).step_indices(7)
    halves = [StepSampler(20, 8, seed=0, rank=rank, world_size=2).step_indices(7) for rank in (0, 1)]
    assert halves[0] + halves[1] == whole
