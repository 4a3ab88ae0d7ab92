"""NVIDIA's discriminators (a snapshot's 'D'): read from NVIDIA-layout pickles as safely as G_ema, giving NVIDIA's
logits, and the start of fine-tuning.

Pickles are written by weight_files.write_nvlabs_pickle with golden/nvlabs_g64 as G and G_ema and
golden/nvlabs_d64 as D; single records are what the restricted unpickler makes of a pickled network
(weight_files.records).
"""
import pickle

import pytest
import torch

import stylegan2
from stylegan2 import loaders
from stylegan2.discriminator import Discriminator
from stylegan2.loaders.discriminators import discriminator_from_record
from stylegan2.loaders.nvlabs_pickle import NetworkRecord
from stylegan2.training import models
from stylegan2.training.config import auto_config
from stylegan2.training.errors import TrainingError
from tests.stylegan2.weight_files import discriminator_network, records, small_discriminator, write_nvlabs_pickle

TOLERANCE = 1e-4


@pytest.fixture
def golden_pickle(tmp_path, nvlabs_golden, nvlabs_d_golden):
    """An NVIDIA training snapshot of the goldens: G and G_ema nvlabs_g64, D nvlabs_d64 (both 64 px)."""
    meta, state_dict, _ = nvlabs_golden
    d_meta, d_state_dict, _ = nvlabs_d_golden
    return write_nvlabs_pickle(tmp_path / "network-snapshot-000200.pkl", meta["init_kwargs"], state_dict,
                               discriminator=(d_meta["init_kwargs"], d_state_dict))


def max_difference(a, b):
    return (a - b).abs().max().item()


def test_nvidia_pickle_yields_its_discriminator_with_nvidias_logits(golden_pickle, nvlabs_d_golden):
    _, _, io = nvlabs_d_golden
    D = loaders.load_discriminator(golden_pickle)
    with torch.no_grad():
        assert max_difference(D(io["img"]), io["logits"]) < TOLERANCE
        assert max_difference(D(io["img"][:2]), io["logits_first2"]) < TOLERANCE


def test_nvidia_discriminator_keeps_the_settings_its_record_gives(golden_pickle, nvlabs_d_golden):
    d_meta, _, _ = nvlabs_d_golden
    D = loaders.load_discriminator(golden_pickle)
    assert isinstance(D, Discriminator) and not D.training
    assert {key: D.init_kwargs[key] for key in d_meta["init_kwargs"]} == d_meta["init_kwargs"]


def test_released_pickle_without_a_discriminator_yields_none(tmp_path, nvlabs_golden):
    meta, state_dict, _ = nvlabs_golden
    assert loaders.load_discriminator(write_nvlabs_pickle(tmp_path / "g.pkl", meta["init_kwargs"], state_dict,
                                                          D=None)) is None
    generators_only = tmp_path / "generators.pkl"
    generators_only.write_bytes(pickle.dumps({"G_ema": None}, protocol=4))
    assert loaders.load_discriminator(generators_only) is None


def test_discriminator_that_is_not_a_network_is_refused_naming_the_file(tmp_path, nvlabs_golden):
    meta, state_dict, _ = nvlabs_golden
    path = write_nvlabs_pickle(tmp_path / "g.pkl", meta["init_kwargs"], state_dict, D="discriminator")
    with pytest.raises(stylegan2.WeightsFormatError, match=r"g.pkl: 'D' is 'discriminator', not a pickled network"):
        loaders.load_discriminator(path)


@pytest.fixture
def frozen_discriminator():
    """A 16 px D with fp16 blocks, clamping and Freeze-D (its first two layers' weights are buffers)."""
    kwargs = dict(c_dim=0, img_resolution=16, img_channels=3, channel_base=256, channel_max=32, num_fp16_res=1,
                  conv_clamp=256, block_kwargs=dict(freeze_layers=2), mapping_kwargs={},
                  epilogue_kwargs=dict(mbstd_group_size=4, mbstd_num_channels=1))
    torch.manual_seed(0)
    D = Discriminator(**kwargs).eval()
    with torch.no_grad():
        for tensor in D.state_dict().values():
            tensor.add_(0.1 * torch.randn(tensor.shape))
    return D, kwargs


def record_of(D, kwargs):
    return records(discriminator_network(kwargs, D.state_dict()))


def images(count=4, resolution=16):
    return torch.rand([count, 3, resolution, resolution], generator=torch.Generator().manual_seed(1)) * 2 - 1


def test_nvidia_record_becomes_the_same_discriminator(frozen_discriminator):
    D, kwargs = frozen_discriminator
    rebuilt = discriminator_from_record(record_of(D, kwargs), "network.pkl")
    assert rebuilt.state_dict().keys() == D.state_dict().keys()
    with torch.no_grad():
        assert torch.equal(rebuilt(images()), D(images()))


def test_nvidia_record_with_a_foreign_class_is_refused(frozen_discriminator):
    record = record_of(*frozen_discriminator)
    record.state["_modules"]["b8"] = NetworkRecord("Backdoor", {})
    with pytest.raises(stylegan2.WeightsFormatError, match="'D.b8' is a Backdoor, not part of NVIDIA's"):
        discriminator_from_record(record, "network.pkl")


def test_nvidia_record_of_another_network_is_refused(frozen_discriminator):
    record = record_of(*frozen_discriminator)
    with pytest.raises(stylegan2.WeightsFormatError, match="'D' is a Generator, not NVIDIA's StyleGAN2 Discriminator"):
        discriminator_from_record(NetworkRecord("Generator", record.state), "network.pkl")


def test_nvidia_record_without_constructor_arguments_is_refused(frozen_discriminator):
    record = record_of(*frozen_discriminator)
    del record.state["_init_kwargs"]
    with pytest.raises(stylegan2.WeightsFormatError, match="'D' does not record its constructor arguments"):
        discriminator_from_record(record, "network.pkl")


def test_nvidia_record_with_an_unknown_setting_is_refused_naming_it(frozen_discriminator):
    record = record_of(*frozen_discriminator)
    record.state["_init_kwargs"]["epilogue_kwargs"]["backdoor"] = 1
    with pytest.raises(stylegan2.WeightsFormatError, match=r"^network.pkl: describes a discriminator StyleCam cannot "
                                                           r"build: epilogue_kwargs has an unknown setting 'backdoor'$"):
        discriminator_from_record(record, "network.pkl")


def test_nvidia_record_missing_a_tensor_is_refused_naming_it(frozen_discriminator):
    record = record_of(*frozen_discriminator)
    del record.state["_modules"]["b4"].state["_modules"]["out"].state["_parameters"]["bias"]
    with pytest.raises(stylegan2.WeightsFormatError, match=r"1 tensors missing \(b4.out.bias\)"):
        discriminator_from_record(record, "network.pkl")


def test_fine_tuning_an_nvidia_pickle_starts_from_its_discriminator(golden_pickle, nvlabs_d_golden):
    _, _, io = nvlabs_d_golden
    config = auto_config(64, fine_tuning=True, freeze_d=2)
    G, D, description = models.fine_tuning_networks(stylegan2.load(golden_pickle), str(golden_pickle), config)
    assert description["pretrained_discriminator"] and description["source_format"] == "nvlabs-pickle"
    assert "b64.fromrgb.weight" not in dict(D.named_parameters())          # Freeze-D applied to it
    assert D.init_kwargs["epilogue_kwargs"]["mbstd_group_size"] == config.mbstd_group
    with torch.no_grad():
        assert max_difference(D.eval()(io["img"][:4]), io["logits_first4"]) < TOLERANCE


def test_fine_tuning_refuses_a_discriminator_for_other_images(tmp_path, nvlabs_golden):
    meta, state_dict, _ = nvlabs_golden
    other = small_discriminator(dict(meta["init_kwargs"], img_resolution=32))
    path = write_nvlabs_pickle(tmp_path / "mixed.pkl", meta["init_kwargs"], state_dict, discriminator=other)
    with pytest.raises(TrainingError, match="discriminator takes img_resolution 32 but its generator has 64"):
        models.fine_tuning_networks(stylegan2.load(path), str(path), auto_config(64, fine_tuning=True))
