"""A weight file's discriminator settings are checked (types, bounds, names) and sized before any network is built."""
import json

import numpy as np
import pytest
import torch

import stylegan2
from stylegan2.discriminator import Discriminator
from stylegan2.loaders.discriminators import build_discriminator
from stylegan2.loaders.settings import SettingsError
from stylegan2.loaders.settings_discriminator import check_discriminator_settings, discriminator_size
from tests.stylegan2.weight_files import state_dict_of

SMALL = dict(c_dim=0, img_resolution=16, img_channels=3, channel_base=256, channel_max=32)

LAYOUTS = {
    "small resnet": SMALL,
    "ffhq-256 (NVIDIA's paper256 config, as legacy.py converts it)": dict(
        c_dim=0, img_resolution=256, img_channels=3, architecture="resnet", channel_base=16384, channel_max=512,
        num_fp16_res=4, conv_clamp=256, cmap_dim=None,
        block_kwargs=dict(activation="lrelu", resample_filter=[1, 3, 3, 1], freeze_layers=0),
        mapping_kwargs=dict(num_layers=0, embed_features=None, layer_features=None, activation="lrelu",
                            lr_multiplier=0.1),
        epilogue_kwargs=dict(mbstd_group_size=4, mbstd_num_channels=1, activation="lrelu")),
    "skip, 3-tap filter, frozen layers, one image channel": dict(
        c_dim=0, img_resolution=32, img_channels=1, architecture="skip", channel_base=512, channel_max=24,
        block_kwargs=dict(resample_filter=[1, 2, 1], freeze_layers=3, fp16_channels_last=True)),
    "orig, labels with their own mapping, two mbstd channels over the whole batch": dict(
        c_dim=5, img_resolution=16, img_channels=3, architecture="orig", channel_base=256, channel_max=32,
        cmap_dim=12, mapping_kwargs=dict(num_layers=2, embed_features=9, layer_features=7),
        epilogue_kwargs=dict(mbstd_group_size=None, mbstd_num_channels=2)),
    "labels through a mapping of no layers, no minibatch std": dict(
        c_dim=4, img_resolution=8, img_channels=4, channel_base=64, channel_max=16,
        mapping_kwargs=dict(num_layers=0), epilogue_kwargs=dict(mbstd_num_channels=0)),
}


def real_size(network: torch.nn.Module) -> int:
    return sum(tensor.numel() for tensor in network.state_dict().values())


@pytest.mark.parametrize("layout", LAYOUTS)
def test_discriminator_size_is_the_number_of_values_in_its_state_dict(layout):
    settings = check_discriminator_settings(LAYOUTS[layout])
    assert discriminator_size(settings) == real_size(Discriminator(**settings))


def test_discriminator_size_of_nvidias_golden_is_the_number_of_values_in_its_weights(shared_file):
    folder = shared_file("golden/nvlabs_d64")
    settings = check_discriminator_settings(json.loads((folder / "meta.json").read_text())["init_kwargs"])
    with np.load(folder / "state_dict.npz") as arrays:
        assert discriminator_size(settings) == sum(array.size for array in arrays.values())


def test_numpy_numbers_become_python_numbers():
    settings = check_discriminator_settings(dict(SMALL, img_resolution=np.int64(16), epilogue_kwargs=dict(
        mbstd_group_size=np.int32(4))))
    assert type(settings["img_resolution"]) is int and type(settings["epilogue_kwargs"]["mbstd_group_size"]) is int


BAD = {
    "resolution 32768": (dict(img_resolution=32768), "img_resolution should be a power of two from 8 to 2048"),
    "resolution 2**40": (dict(img_resolution=2 ** 40), "not an integer of 41 bits"),
    "resolution 4": (dict(img_resolution=4), "img_resolution should be a power of two from 8"),
    "resolution 48": (dict(img_resolution=48), "img_resolution should be a power of two"),
    "channel_max 2**20": (dict(channel_max=2 ** 20), "channel_max should be an integer from 1 to 4096"),
    "channel_base 2**40": (dict(channel_base=2 ** 40), "channel_base should be an integer from 1 to 8388608"),
    "no channels at the top resolution": (dict(channel_base=8), "channel_base 8 leaves no channels at 16 px"),
    "c_dim 2**20": (dict(c_dim=2 ** 20), "c_dim should be an integer from 0 to 4096"),
    "cmap_dim 2**20": (dict(c_dim=4, cmap_dim=2 ** 20), "cmap_dim should be an integer from 1 to 4096"),
    "65536 image channels": (dict(img_channels=65536), "img_channels should be an integer from 1 to 16"),
    "an unknown architecture": (dict(architecture="transformer"),
                                "architecture should be one of 'orig', 'skip', 'resnet', not 'transformer'"),
    "an infinite clamp": (dict(conv_clamp=float("inf")), "conv_clamp should be a number"),
    "1000 label mapping layers": (dict(mapping_kwargs=dict(num_layers=1000)), "mapping_kwargs.num_layers should be"),
    "a million mbstd channels": (dict(epilogue_kwargs=dict(mbstd_num_channels=10 ** 6)),
                                 "epilogue_kwargs.mbstd_num_channels should be an integer from 0 to 64"),
    "a filter of a million taps": (dict(block_kwargs=dict(resample_filter=[1] * 10 ** 6)),
                                   "block_kwargs.resample_filter should be a list of 1 to 16 items"),
    "Freeze-D as text": (dict(block_kwargs=dict(freeze_layers="all")), "block_kwargs.freeze_layers should be"),
    "epilogue settings as a list": (dict(epilogue_kwargs=[4, 1]), "epilogue_kwargs should be a dict of settings"),
    "an unknown setting": (dict(backdoor=1), "has an unknown setting 'backdoor'"),
    "an unknown block setting": (dict(block_kwargs=dict(use_fp16=True)),
                                 "block_kwargs has an unknown setting 'use_fp16'"),
    "w_avg_beta for the label mapping": (dict(mapping_kwargs=dict(w_avg_beta=0.995)),
                                         "mapping_kwargs has an unknown setting 'w_avg_beta'"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_setting_is_refused_naming_it(name):
    overrides, message = BAD[name]
    with pytest.raises(SettingsError, match=message):
        check_discriminator_settings(dict(SMALL, **overrides))


def test_missing_setting_is_named():
    with pytest.raises(SettingsError, match="lacks img_channels"):
        check_discriminator_settings({key: value for key, value in SMALL.items() if key != "img_channels"})


@pytest.fixture(scope="module")
def small_weights():
    torch.manual_seed(0)
    return state_dict_of(Discriminator(**SMALL))


def test_settings_far_bigger_than_the_weights_are_refused_before_building(small_weights):
    stored = sum(tensor.numel() for tensor in small_weights.values())
    with pytest.raises(stylegan2.WeightsFormatError, match=rf"^d.pkl: its settings describe a discriminator of "
                                                           rf"\d{{10}} numbers, but it stores only {stored}$"):
        build_discriminator(dict(SMALL, img_resolution=2048, channel_base=2 ** 23, channel_max=4096), small_weights,
                            "d.pkl")


def test_a_bad_setting_is_a_one_line_error_naming_the_file(small_weights):
    with pytest.raises(stylegan2.WeightsFormatError) as error:
        build_discriminator(dict(SMALL, mapping_kwargs="abc"), small_weights, "d.pkl")
    assert str(error.value) == ("d.pkl: describes a discriminator StyleCam cannot build: mapping_kwargs should be "
                                "a dict of settings, not 'abc'")


def test_weights_that_do_not_fit_their_settings_are_named(small_weights):
    weights = dict(small_weights, **{"b4.out.weight": torch.zeros(2, 32)})
    with pytest.raises(stylegan2.WeightsFormatError, match=r"'b4.out.weight' has shape \[2, 32\], the network "
                                                           r"needs \[1, 32\]"):
        build_discriminator(SMALL, weights, "d.pkl")


def test_weights_that_fit_are_copied_into_an_eval_mode_discriminator(small_weights):
    D = build_discriminator(SMALL, small_weights, "d.pkl")
    assert not D.training
    assert all(torch.equal(tensor, small_weights[key]) for key, tensor in D.state_dict().items())
