"""A StyleGAN3 weight file's settings are checked (types, bounds, names) and sized before any network is built."""
import numpy as np
import pytest
import torch

import stylegan2
from stylegan2 import stylegan3
from stylegan2.loaders.nvlabs_stylegan3 import GENERATOR_ARGS, MAPPING_SETTINGS, SYNTHESIS_SETTINGS
from stylegan2.loaders.settings import SettingsError
from stylegan2.loaders.settings_stylegan3 import (
    GENERATOR_FIELDS,
    MAPPING_FIELDS,
    check_stylegan3_settings,
    stylegan3_generator_size,
)
from tests.stylegan2.weight_files import state_dict_of

SMALL = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs=dict(num_layers=2),
             channel_base=256, channel_max=16, num_layers=4)

LAYOUTS = {
    "small": SMALL,
    "conditional, 1x1 kernels, radial filters, no w_avg, no upsampling in the nonlinearity": dict(
        z_dim=8, c_dim=3, w_dim=16, img_resolution=32, img_channels=1, channel_base=512, channel_max=24,
        num_layers=5, num_critical=1, conv_kernel=1, use_radial_filters=True, filter_size=4, lrelu_upsampling=1,
        mapping_kwargs=dict(num_layers=1, w_avg_beta=None)),
    "labels only, every option spelled out": dict(
        z_dim=0, c_dim=4, w_dim=8, img_resolution=16, img_channels=4,
        mapping_kwargs=dict(num_layers=3, lr_multiplier=0.01, w_avg_beta=0.998, freeze_layers=1, freeze_embed=True),
        channel_base=128, channel_max=8, num_layers=3, num_critical=2, first_cutoff=1, first_stopband=2,
        last_stopband_rel=2, margin_size=3, output_scale=1, num_fp16_res=1, conv_kernel=3, filter_size=3,
        lrelu_upsampling=3, use_radial_filters=True, conv_clamp=None, magnitude_ema_beta=0.99),
    # Sampling rates jump from 2 to 2048 in one layer: the longest filters the bounds allow, still small.
    "2048 px in two layers with the largest filters": dict(
        z_dim=8, c_dim=0, w_dim=8, img_resolution=2048, img_channels=3, channel_base=8192, channel_max=4,
        num_layers=2, num_critical=1, first_stopband=1, filter_size=16, lrelu_upsampling=4, use_radial_filters=True),
}


def real_size(generator: torch.nn.Module) -> int:
    return sum(tensor.numel() for tensor in generator.state_dict().values())


@pytest.mark.parametrize("layout", LAYOUTS)
def test_generator_size_is_the_number_of_values_in_its_state_dict(layout):
    settings = check_stylegan3_settings(LAYOUTS[layout])
    assert stylegan3_generator_size(settings) == real_size(stylegan3.Generator(**settings))


def test_generator_size_of_nvidias_configs_is_the_number_of_values_in_their_weights(stylegan3_golden):
    """Configs T and R as NVIDIA's code built them (the goldens' settings and state dicts)."""
    meta, state_dict, _ = stylegan3_golden
    settings = check_stylegan3_settings(meta["init_kwargs"])
    assert stylegan3_generator_size(settings) == sum(tensor.numel() for tensor in state_dict.values())
    assert stylegan3_generator_size(settings) == real_size(stylegan3.Generator(**settings))


def test_the_schema_knows_exactly_the_settings_stylegan3_takes():
    assert set(GENERATOR_FIELDS) == set(GENERATOR_ARGS) | SYNTHESIS_SETTINGS
    assert set(MAPPING_FIELDS) == MAPPING_SETTINGS


def test_numpy_numbers_become_python_numbers():
    settings = check_stylegan3_settings(dict(SMALL, z_dim=np.int64(16), first_cutoff=np.float64(2.0),
                                             use_radial_filters=np.bool_(True)))
    assert (type(settings["z_dim"]), type(settings["first_cutoff"]), type(settings["use_radial_filters"])) == (
        int, float, bool)


BAD = {
    "resolution 4096": (dict(img_resolution=4096), "img_resolution should be a power of two from 4 to 2048"),
    "resolution 2**40": (dict(img_resolution=2 ** 40), "not an integer of 41 bits"),
    "resolution 48": (dict(img_resolution=48), "img_resolution should be a power of two"),
    "w_dim 2**20": (dict(w_dim=2 ** 20), "w_dim should be an integer from 1 to 4096, not 1048576"),
    "channel_max 10**6": (dict(channel_max=10 ** 6), "channel_max should be an integer from 1 to 4096"),
    "channel_base 2**40": (dict(channel_base=2 ** 40), "channel_base should be an integer"),
    "1000 layers": (dict(num_layers=1000), "num_layers should be an integer from 1 to 32, not 1000"),
    "1000 mapping layers": (dict(mapping_kwargs=dict(num_layers=1000)), "mapping_kwargs.num_layers should be"),
    "as many critical layers as layers": (dict(num_layers=4, num_critical=4), r"num_layers \(4\) must exceed"),
    "a channel base that leaves layers empty": (dict(channel_base=2), "leaves a layer without channels"),
    "an infinite cutoff": (dict(first_cutoff=float("inf")), "first_cutoff should be a number from 0.5 to 1024"),
    "a NaN stopband": (dict(first_stopband=float("nan")), "first_stopband should be a number from 1 to 2048"),
    "a stopband below its cutoff": (dict(last_stopband_rel=0.5), "last_stopband_rel should be a number from 1 to 8"),
    "a negative cutoff": (dict(first_cutoff=-2), "first_cutoff should be a number"),
    "a margin of 10**9 pixels": (dict(margin_size=10 ** 9), "margin_size should be an integer from 0 to 256"),
    "a filter of a million taps": (dict(filter_size=10 ** 6), "filter_size should be an integer from 1 to 16"),
    "upsampling the nonlinearity 1024 times": (dict(lrelu_upsampling=1024), "lrelu_upsampling should be an integer"),
    "a 99x99 kernel": (dict(conv_kernel=99), "conv_kernel should be an integer from 1 to 7"),
    "an infinite output scale": (dict(output_scale=float("inf")), "output_scale should be a number"),
    "radial filters as text": (dict(use_radial_filters="yes"), "use_radial_filters should be True or False"),
    "a beta of 2": (dict(magnitude_ema_beta=2.0), "magnitude_ema_beta should be a number from 0 to 1"),
    "mapping settings as text": (dict(mapping_kwargs="abc"), "mapping_kwargs should be a dict of settings"),
    "StyleGAN2's nested synthesis settings": (dict(synthesis_kwargs=dict(channel_base=256)),
                                              "has an unknown setting 'synthesis_kwargs'"),
    "an unknown setting": (dict(use_noise=True), "has an unknown setting 'use_noise'"),
    "an unknown mapping setting": (dict(mapping_kwargs=dict(layer_features=64)),
                                   "mapping_kwargs has an unknown setting 'layer_features'"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_setting_is_refused_naming_it(name):
    overrides, message = BAD[name]
    with pytest.raises(SettingsError, match=message):
        check_stylegan3_settings(dict(SMALL, **overrides))


def test_missing_setting_is_named():
    with pytest.raises(SettingsError, match="lacks img_resolution"):
        check_stylegan3_settings({key: value for key, value in SMALL.items() if key != "img_resolution"})


@pytest.fixture(scope="module")
def small_state_dict():
    torch.manual_seed(0)
    return state_dict_of(stylegan3.Generator(**SMALL))


def save_stylegan3_file(path, init_kwargs, state_dict):
    torch.save({"format": "stylecam-stylegan2", "version": 2, "architecture": "stylegan3", "init_kwargs": init_kwargs,
                "state_dict": state_dict, "meta": {}}, path)
    return path


def test_stylecam_file_of_small_stylegan3_settings_loads(tmp_path, small_state_dict):
    loaded = stylegan2.load(save_stylegan3_file(tmp_path / "model.pt", SMALL, small_state_dict))
    assert isinstance(loaded.generator, stylegan3.Generator) and loaded.meta["num_ws"] == 6


@pytest.mark.parametrize("name", ["1000 layers", "an infinite cutoff", "as many critical layers as layers",
                                  "an unknown setting", "mapping settings as text"])
def test_stylecam_file_with_a_bad_stylegan3_setting_is_a_one_line_error(tmp_path, small_state_dict, name):
    overrides, message = BAD[name]
    path = save_stylegan3_file(tmp_path / "model.pt", dict(SMALL, **overrides), small_state_dict)
    with pytest.raises(stylegan2.WeightsFormatError, match=message) as error:
        stylegan2.load(path)
    assert str(error.value).startswith(f"{path}: describes a generator StyleCam cannot build")
    assert "\n" not in str(error.value)


def test_stylecam_file_whose_stylegan3_settings_describe_far_more_than_it_stores_is_refused(tmp_path,
                                                                                           small_state_dict):
    path = save_stylegan3_file(tmp_path / "model.pt", dict(SMALL, img_resolution=1024, channel_base=2 ** 22,
                                                           channel_max=4096, num_layers=20), small_state_dict)
    stored = sum(tensor.numel() for tensor in small_state_dict.values())
    with pytest.raises(stylegan2.WeightsFormatError, match=rf"describe a generator of \d+ numbers, but it stores "
                                                           rf"only {stored}$"):
        stylegan2.load(path)
