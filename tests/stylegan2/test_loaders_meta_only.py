"""``read_meta``: what ``load`` reports of a weights file, read without its tensors where the format allows
(StyleCam's own files and training snapshots), by loading the file otherwise; hostile files refused as by
``load``."""
import pytest
import torch

import stylegan2
from stylegan2.loaders import meta_only
from stylegan2.loaders.native import TRAINING_SNAPSHOT_FORMAT, VERSION, payload
from stylegan2.testing import make_random_generator, make_random_stylegan3
from tests.stylegan2.hostile_files import Ops, torch_zip
from tests.stylegan2.weight_files import state_dict_of, write_nvlabs_pickle

# torch 1.x (the oldest stack) cannot build a network on the meta device: read_meta loads those files instead.
needs_meta_device = pytest.mark.skipif(not meta_only.META_DEVICE_CONTEXT,
                                       reason="torch < 2.0 has no meta device context: read_meta loads the file")


@pytest.fixture
def no_tensor_reads(monkeypatch):
    """Reading any tensor of a torch.save file fails: what passes never read one."""
    def refuse(*args, **kwargs):
        raise AssertionError("the tensors were read")

    monkeypatch.setattr("stylegan2.loaders.load_tensors", refuse)


@needs_meta_device
@pytest.mark.parametrize("make", [lambda: make_random_generator(resolution=32, seed=5),
                                  lambda: make_random_stylegan3("r", resolution=64)], ids=["stylegan2", "stylegan3"])
def test_a_stylecam_files_meta_is_what_load_reports_without_reading_its_tensors(tmp_path, make, monkeypatch):
    path = tmp_path / "g.pt"
    stylegan2.save(make(), path, {"blend": {"base": {"file": "a.pt"}}})
    loaded = stylegan2.load(path).meta
    monkeypatch.setattr("stylegan2.loaders.load_tensors", lambda *args, **kwargs: pytest.fail("tensors read"))
    assert stylegan2.read_meta(path) == loaded


@needs_meta_device
def test_a_training_snapshots_meta_is_its_generators_with_its_progress(tmp_path, no_tensor_reads):
    path = tmp_path / "snapshot.pt"
    torch.save({"format": TRAINING_SNAPSHOT_FORMAT, "G_ema": payload(make_random_generator(resolution=32)),
                "progress": {"cur_nimg": 12000}}, path)
    meta = stylegan2.read_meta(path)
    assert (meta["format"], meta["num_ws"], meta["training_kimg"]) == ("stylecam", 8, 12.0)


def test_an_nvidia_pickle_is_loaded_to_report_its_meta(tmp_path):
    G = make_random_generator(resolution=32, seed=2)
    path = write_nvlabs_pickle(tmp_path / "network.pkl", G.init_kwargs, state_dict_of(G))
    assert stylegan2.read_meta(path) == stylegan2.load(path).meta


def test_a_file_with_a_global_no_weights_file_needs_is_refused(tmp_path, no_tensor_reads):
    ops = Ops()
    path = torch_zip(tmp_path / "evil.pt", ops.call(ops.glob("os", "system"), ops.tuple(ops.text("true"))) + b".")
    with pytest.raises(stylegan2.WeightsFormatError, match="evil.pt: refused to load"):
        stylegan2.read_meta(path)


@needs_meta_device
def test_a_file_from_a_newer_stylecam_is_refused(tmp_path, no_tensor_reads):
    path = tmp_path / "new.pt"
    torch.save({**payload(make_random_generator(resolution=32)), "version": VERSION + 1}, path)
    with pytest.raises(stylegan2.WeightsFormatError, match="format version"):
        stylegan2.read_meta(path)


def test_settings_stylecam_cannot_build_are_refused(tmp_path, no_tensor_reads):
    content = payload(make_random_generator(resolution=32))
    content["init_kwargs"] = {**content["init_kwargs"], "img_resolution": 48}
    path = tmp_path / "odd.pt"
    torch.save(content, path)
    with pytest.raises(stylegan2.WeightsFormatError, match="odd.pt"):
        stylegan2.read_meta(path)


def test_without_the_meta_device_a_stylecam_file_is_loaded_to_report_its_meta(tmp_path, monkeypatch):
    path = tmp_path / "g.pt"
    stylegan2.save(make_random_generator(resolution=32), path)
    monkeypatch.setattr(meta_only, "META_DEVICE_CONTEXT", False)
    assert stylegan2.read_meta(path) == stylegan2.load(path).meta
