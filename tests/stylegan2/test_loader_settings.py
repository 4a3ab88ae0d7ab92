"""A weight file's generator settings are checked (types, bounds, names) before any network is built."""
import numpy as np
import pytest
import torch

import stylegan2
from stylegan2 import Generator
from stylegan2.loaders.settings import SettingsError, check_generator_settings, generator_size
from stylegan2.testing import FFHQ_256, make_random_generator
from tests.stylegan2.weight_files import state_dict_of

SMALL = dict(z_dim=32, c_dim=0, w_dim=32, img_resolution=32, img_channels=3,
             mapping_kwargs=dict(num_layers=2), synthesis_kwargs=dict(channel_base=1024, channel_max=32))

LAYOUTS = {
    "small": SMALL,
    "ffhq-256": dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3,
                     mapping_kwargs=dict(num_layers=8),
                     synthesis_kwargs=dict(channel_base=FFHQ_256["channel_base"], channel_max=512,
                                           num_fp16_res=4, conv_clamp=256)),
    "conditional, orig, no noise, 1x1 kernels": dict(
        z_dim=16, c_dim=5, w_dim=24, img_resolution=32, img_channels=1,
        mapping_kwargs=dict(num_layers=3, layer_features=40, embed_features=12, w_avg_beta=None),
        synthesis_kwargs=dict(channel_base=512, channel_max=32, architecture="orig", use_noise=False, kernel_size=1,
                              resample_filter=[1, 2, 1], channels={"8": 7})),
    "labels only, every option spelled out": dict(
        z_dim=0, c_dim=3, w_dim=8, img_resolution=8, img_channels=4,
        mapping_kwargs=dict(num_layers=1, embed_features=None, layer_features=None, activation="lrelu",
                            lr_multiplier=0.01, w_avg_beta=0.995),
        synthesis_kwargs=dict(channel_base=64, channel_max=16, num_fp16_res=0, channels=None, architecture="skip",
                              resample_filter=(1, 3, 3, 1), conv_clamp=None, fp16_channels_last=False,
                              use_noise=True, activation="relu")),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_generator_size_is_the_number_of_values_in_its_state_dict(layout):
    settings = check_generator_settings(LAYOUTS[layout])
    generator = Generator(**settings)
    assert generator_size(settings) == sum(tensor.numel() for tensor in generator.state_dict().values())


def test_numpy_numbers_become_python_numbers():
    settings = check_generator_settings(dict(SMALL, z_dim=np.int64(32), mapping_kwargs=dict(
        num_layers=np.int32(2), lr_multiplier=np.float64(0.01))))
    assert type(settings["z_dim"]) is int and type(settings["mapping_kwargs"]["lr_multiplier"]) is float


def test_channel_table_keys_become_strings():
    settings = check_generator_settings(dict(SMALL, synthesis_kwargs=dict(channels={8: 16, "16": 8})))
    assert settings["synthesis_kwargs"]["channels"] == {"8": 16, "16": 8}


BAD = {
    "w_dim 2**20": (dict(w_dim=2 ** 20), "w_dim should be an integer from 1 to 4096, not 1048576"),
    "w_dim negative": (dict(w_dim=-5), "w_dim should be an integer from 1 to 4096, not -5"),
    "z_dim as text": (dict(z_dim="512"), "z_dim should be an integer from 0 to 4096, not '512'"),
    "z_dim None": (dict(z_dim=None), "z_dim should be an integer"),
    "c_dim True": (dict(c_dim=True), "c_dim should be an integer from 0 to 4096, not True"),
    "resolution 32768": (dict(img_resolution=32768), "img_resolution should be a power of two from 4 to 2048"),
    "resolution 2**40": (dict(img_resolution=2 ** 40), "not an integer of 41 bits"),
    "resolution 48": (dict(img_resolution=48), "img_resolution should be a power of two"),
    "resolution 64.0": (dict(img_resolution=64.0), "img_resolution should be a power of two .* not 64.0"),
    "1000 mapping layers": (dict(mapping_kwargs=dict(num_layers=1000)), "mapping_kwargs.num_layers should be"),
    "hidden features 8192": (dict(mapping_kwargs=dict(layer_features=8192)), "mapping_kwargs.layer_features"),
    "mapping settings as text": (dict(mapping_kwargs="abc"), "mapping_kwargs should be a dict of settings"),
    "channel table as a list": (dict(synthesis_kwargs=dict(channels=[64, 64])),
                                "synthesis_kwargs.channels should be a table"),
    "channel width as text": (dict(synthesis_kwargs=dict(channels={"8": "wide"})),
                              r"synthesis_kwargs.channels\['8'\] should be an integer"),
    "channel table at 3 px": (dict(synthesis_kwargs=dict(channels={"3": 8})), "channels key should be a power"),
    "channel_max 8192": (dict(synthesis_kwargs=dict(channel_max=8192)), "channel_max should be an integer"),
    "a filter of a million taps": (dict(synthesis_kwargs=dict(resample_filter=[1] * 10 ** 6)),
                                   "resample_filter should be a list of 1 to 16 items"),
    "a filter tap as text": (dict(synthesis_kwargs=dict(resample_filter=[1, "3"])), r"resample_filter\[1\]"),
    "an infinite clamp": (dict(synthesis_kwargs=dict(conv_clamp=float("inf"))), "conv_clamp should be a number"),
    "a long activation name": (dict(synthesis_kwargs=dict(activation="x" * 1000)),
                               "activation should be a short string, not a string of 1000 characters"),
    "an unknown setting": (dict(synthesis_kwargs=dict(fused_modconv=True)),
                           "synthesis_kwargs has an unknown setting 'fused_modconv'"),
    "an unknown top-level setting": (dict(resolution=64), "has an unknown setting 'resolution'"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_setting_is_refused_naming_it(name):
    overrides, message = BAD[name]
    with pytest.raises(SettingsError, match=message):
        check_generator_settings(dict(SMALL, **overrides))


def test_missing_setting_is_named():
    with pytest.raises(SettingsError, match="lacks w_dim"):
        check_generator_settings({key: value for key, value in SMALL.items() if key != "w_dim"})


@pytest.fixture(scope="module")
def small_state_dict():
    return state_dict_of(make_random_generator(resolution=32, seed=2, channel_base=1024, channel_max=32))


@pytest.mark.parametrize("name", ["w_dim negative", "mapping settings as text", "channel table as a list",
                                  "resolution 64.0", "a filter tap as text"])
def test_stylecam_file_with_a_bad_setting_is_a_one_line_error(tmp_path, small_state_dict, name):
    """These once escaped as RuntimeError/AttributeError tracebacks from the network's constructor."""
    overrides, message = BAD[name]
    path = tmp_path / "model.pt"
    torch.save({"format": "stylecam-stylegan2", "version": 1, "init_kwargs": dict(SMALL, **overrides),
                "state_dict": small_state_dict, "meta": {}}, path)
    with pytest.raises(stylegan2.WeightsFormatError, match=message) as error:
        stylegan2.load(path)
    assert str(error.value).startswith(f"{path}: describes a generator StyleCam cannot build")
    assert "\n" not in str(error.value)
