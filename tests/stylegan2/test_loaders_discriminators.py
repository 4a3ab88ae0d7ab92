"""rosinality's discriminators (a training checkpoint's 'd'): NVIDIA's resnet discriminator with settings read off
the tensors' shapes, checked before it is built (NVIDIA pickles' 'D': test_loaders_discriminators_nvlabs.py).

rosinality's discriminator is checked against a transcription of its forward pass (model.py's
ConvLayer, ResBlock, minibatch std and final layers, on the rosinality-named tensors).
"""
import argparse
import math

import pytest
import torch
import torch.nn.functional as F

import stylegan2
from stylegan2 import loaders
from stylegan2.loaders.discriminators import discriminator_from_rosinality
from stylegan2.testing import make_random_generator
from stylegan2.training import models
from stylegan2.training.config import auto_config
from tests.stylegan2.weight_files import rosinality_state_dict


def rosinality_forward(sd, img):
    """rosinality's Discriminator.forward, transcribed: EqualConv2d, FusedLeakyReLU, Blur, ResBlock, ..."""
    def conv(x, weight, stride=1, padding=0):
        return F.conv2d(x, weight / math.sqrt(weight[0].numel()), stride=stride, padding=padding)

    def lrelu(x, bias):
        return F.leaky_relu(x + bias.reshape(1, -1, *[1] * (x.ndim - 2)), 0.2) * math.sqrt(2)

    def blur(x, kernel, pad):
        x = F.pad(x, [pad, pad, pad, pad])
        return F.conv2d(x, kernel.flip([0, 1]).expand(x.shape[1], 1, 4, 4), groups=x.shape[1])

    x = lrelu(conv(img, sd["convs.0.0.weight"]), sd["convs.0.1.bias"])
    block = 1
    while f"convs.{block}.conv1.0.weight" in sd:
        p = f"convs.{block}"
        out = lrelu(conv(x, sd[f"{p}.conv1.0.weight"], padding=1), sd[f"{p}.conv1.1.bias"])
        out = lrelu(conv(blur(out, sd[f"{p}.conv2.0.kernel"], 2), sd[f"{p}.conv2.1.weight"], stride=2),
                    sd[f"{p}.conv2.2.bias"])
        skip = conv(blur(x, sd[f"{p}.skip.0.kernel"], 1), sd[f"{p}.skip.1.weight"], stride=2)
        x = (out + skip) / math.sqrt(2)
        block += 1
    batch, channels, height, width = x.shape
    group = min(batch, 4)
    stddev = x.view(group, -1, 1, channels, height, width)
    stddev = torch.sqrt(stddev.var(0, unbiased=False) + 1e-8).mean([2, 3, 4], keepdim=True).squeeze(2)
    x = torch.cat([x, stddev.repeat(group, 1, height, width)], 1)
    x = lrelu(conv(x, sd["final_conv.0.weight"], padding=1), sd["final_conv.1.bias"]).view(batch, -1)
    w0, w1 = sd["final_linear.0.weight"], sd["final_linear.1.weight"]
    x = lrelu(F.linear(x, w0 / math.sqrt(w0.shape[1])), sd["final_linear.0.bias"])
    return F.linear(x, w1 / math.sqrt(w1.shape[1]), sd["final_linear.1.bias"])


def images(count=4, resolution=16):
    return torch.rand([count, 3, resolution, resolution], generator=torch.Generator().manual_seed(1)) * 2 - 1


def test_rosinality_discriminator_gives_rosinalitys_logits():
    sd = rosinality_state_dict()
    D = discriminator_from_rosinality(sd, "d.pt")
    with torch.no_grad():
        assert (D(images()) - rosinality_forward(sd, images())).abs().max() < 1e-5


def test_rosinality_checkpoint_file_yields_its_discriminator(tmp_path):
    sd = rosinality_state_dict()
    torch.save({"d": sd, "args": argparse.Namespace(size=16), "d_optim": {"state": {}}}, tmp_path / "ckpt.pt")
    D = loaders.load_discriminator(tmp_path / "ckpt.pt")
    assert D.init_kwargs["channel_base"] == 256 and D.init_kwargs["channel_max"] == 32
    with torch.no_grad():
        assert (D(images()) - rosinality_forward(sd, images())).abs().max() < 1e-5


def test_file_without_a_discriminator_yields_none(tmp_path):
    stylegan2.save(make_random_generator(resolution=16), tmp_path / "g.pt")
    assert loaders.load_discriminator(tmp_path / "g.pt") is None


def test_rosinality_discriminator_with_an_odd_blur_is_refused():
    sd = rosinality_state_dict()
    sd["convs.1.conv2.0.kernel"] = torch.ones(4, 4) / 16
    with pytest.raises(stylegan2.WeightsFormatError, match="convs.1.conv2.0.kernel' is not the standard"):
        discriminator_from_rosinality(sd, "d.pt")


def test_rosinality_discriminator_whose_widths_follow_no_channel_rule_is_refused():
    with pytest.raises(stylegan2.WeightsFormatError, match="follow no channel_base/channel_max rule"):
        discriminator_from_rosinality(rosinality_state_dict(widths={16: 32, 8: 16, 4: 32}), "d.pt")


def test_fine_tuning_a_rosinality_checkpoint_starts_from_its_discriminator(tmp_path, shared_file):
    golden = torch.load(shared_file("golden/rosinality_g64/ckpt.pt"), weights_only=True)
    sd = rosinality_state_dict(resolution=64, widths={64: 64, 32: 64, 16: 64, 8: 64, 4: 64})
    torch.save({"g_ema": golden["g_ema"], "latent_avg": golden["latent_avg"], "d": sd}, tmp_path / "ckpt.pt")
    config = auto_config(64, fine_tuning=True, freeze_d=2)
    loaded = stylegan2.load(tmp_path / "ckpt.pt")
    G, D, description = models.fine_tuning_networks(loaded, str(tmp_path / "ckpt.pt"), config)
    assert description["pretrained_discriminator"]
    assert "b64.fromrgb.weight" not in dict(D.named_parameters())          # Freeze-D applied to it
    with torch.no_grad():
        assert (D.eval()(images(resolution=64)) - rosinality_forward(sd, images(resolution=64))).abs().max() < 1e-5


def test_rosinality_discriminator_whose_widths_exceed_the_bounds_is_refused_before_building():
    sd = rosinality_state_dict()
    sd.update({key: torch.zeros(8192, 1, 1, 1) for key in ("convs.0.0.weight", "convs.1.conv2.1.weight",
                                                          "convs.2.conv2.1.weight")})
    with pytest.raises(stylegan2.WeightsFormatError, match="channel_max should be an integer from 1 to 4096, not 8192"):
        discriminator_from_rosinality(sd, "d.pt")


def test_rosinality_discriminator_whose_shapes_claim_more_than_it_stores_is_refused_before_building():
    """Wide convolutions claimed by narrow tensors: only dim 0 tells a width, so nothing else may be trusted."""
    sd = rosinality_state_dict(resolution=256, widths={256: 4, 128: 4, 64: 4, 32: 4, 16: 4, 8: 4, 4: 4})
    for key in ("convs.0.0.weight", *(f"convs.{block}.conv2.1.weight" for block in range(1, 7))):
        sd[key] = torch.zeros(4096, 1, 1, 1)
    with pytest.raises(stylegan2.WeightsFormatError, match=r"^d.pt: its settings describe a discriminator of \d+ "
                                                           r"numbers, but it stores only \d+$"):
        discriminator_from_rosinality(sd, "d.pt")


def test_rosinality_discriminator_with_too_many_blocks_is_refused():
    sd = rosinality_state_dict()
    tiny = torch.zeros(32, 1, 1, 1)
    sd.update({f"convs.{block}.conv1.0.weight": tiny for block in range(3, 21)})
    sd.update({f"convs.{block}.conv2.1.weight": tiny for block in range(3, 21)})
    with pytest.raises(stylegan2.WeightsFormatError, match="img_resolution should be a power of two from 8 to 2048, "
                                                           "not 4194304"):
        discriminator_from_rosinality(sd, "d.pt")


def test_rosinality_discriminator_whose_convolution_is_not_four_dimensional_is_refused():
    sd = rosinality_state_dict()
    sd["convs.0.0.weight"] = torch.zeros(16)
    with pytest.raises(stylegan2.WeightsFormatError, match=r"'convs.0.0.weight' has shape \[16\], not that of a "
                                                           r"convolution's weight"):
        discriminator_from_rosinality(sd, "d.pt")


def test_rosinality_discriminator_with_an_integer_blur_is_refused():
    sd = rosinality_state_dict()
    sd["convs.1.skip.0.kernel"] = torch.ones(4, 4, dtype=torch.int64)
    with pytest.raises(stylegan2.WeightsFormatError, match="convs.1.skip.0.kernel' is not the standard"):
        discriminator_from_rosinality(sd, "d.pt")


def test_rosinality_discriminator_with_entries_that_are_not_named_tensors_is_refused():
    for odd in ({**rosinality_state_dict(), 7: torch.zeros(1)}, {**rosinality_state_dict(), "note": "hello"}):
        with pytest.raises(stylegan2.WeightsFormatError, match="'d' holds entries that are not named tensors"):
            discriminator_from_rosinality(odd, "d.pt")
