"""Discriminators from the files that carry one: rosinality checkpoints ('d') and NVIDIA pickle records ('D').

rosinality's discriminator is checked against a transcription of its forward pass (model.py's
ConvLayer, ResBlock, minibatch std and final layers, on the rosinality-named tensors); NVIDIA's records
are built from a Discriminator the way the restricted unpickler delivers them (class name + __dict__).
"""
import argparse
import math

import pytest
import torch
import torch.nn.functional as F

import stylegan2
from stylegan2 import loaders
from stylegan2.discriminator import Discriminator
from stylegan2.loaders.discriminators import discriminator_from_record, discriminator_from_rosinality
from stylegan2.loaders.nvlabs import NetworkRecord
from stylegan2.testing import make_random_generator
from stylegan2.training import models
from stylegan2.training.config import auto_config

BLUR = torch.tensor([1.0, 3.0, 3.0, 1.0])
BLUR_2D = torch.outer(BLUR, BLUR) / 64


def rosinality_state_dict(resolution=16, widths=None, seed=0):
    """Random tensors named and shaped as rosinality's Discriminator(size) holds them."""
    widths = widths or {16: 16, 8: 32, 4: 32}
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0):
        return torch.randn(shape, generator=generator) * scale

    sd = {"convs.0.0.weight": rand(widths[resolution], 3, 1, 1), "convs.0.1.bias": rand(widths[resolution], scale=0.1)}
    res, block = resolution, 1
    while res > 4:
        cin, cout = widths[res], widths[res // 2]
        p = f"convs.{block}"
        sd.update({f"{p}.conv1.0.weight": rand(cin, cin, 3, 3), f"{p}.conv1.1.bias": rand(cin, scale=0.1),
                   f"{p}.conv2.0.kernel": BLUR_2D.clone(), f"{p}.conv2.1.weight": rand(cout, cin, 3, 3),
                   f"{p}.conv2.2.bias": rand(cout, scale=0.1), f"{p}.skip.0.kernel": BLUR_2D.clone(),
                   f"{p}.skip.1.weight": rand(cout, cin, 1, 1)})
        res, block = res // 2, block + 1
    c4 = widths[4]
    sd.update({"final_conv.0.weight": rand(c4, c4 + 1, 3, 3), "final_conv.1.bias": rand(c4, scale=0.1),
               "final_linear.0.weight": rand(c4, c4 * 16), "final_linear.0.bias": rand(c4, scale=0.1),
               "final_linear.1.weight": rand(1, c4), "final_linear.1.bias": rand(1, scale=0.1)})
    return sd


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


def nvidia_record(module, init_kwargs=None):
    """A module as NVIDIA's persistence pickles it and the restricted unpickler returns it."""
    state = {"_parameters": dict(module._parameters), "_buffers": dict(module._buffers),
             "_non_persistent_buffers_set": set(),
             "_modules": {name: nvidia_record(child) for name, child in module._modules.items()}}
    if init_kwargs is not None:
        state.update(_init_args=(), _init_kwargs=init_kwargs)
    return NetworkRecord(type(module).__name__, state)


@pytest.fixture
def frozen_discriminator():
    torch.manual_seed(0)
    kwargs = dict(c_dim=0, img_resolution=16, img_channels=3, channel_base=256, channel_max=32, num_fp16_res=1,
                  conv_clamp=256, block_kwargs=dict(freeze_layers=2), mapping_kwargs={},
                  epilogue_kwargs=dict(mbstd_group_size=4, mbstd_num_channels=1))
    D = Discriminator(**kwargs).eval()
    with torch.no_grad():
        for tensor in D.state_dict().values():
            tensor.add_(0.1 * torch.randn(tensor.shape))
    return D, kwargs


def test_nvidia_record_becomes_the_same_discriminator(frozen_discriminator):
    D, kwargs = frozen_discriminator
    rebuilt = discriminator_from_record(nvidia_record(D, kwargs), "network.pkl")
    assert rebuilt.state_dict().keys() == D.state_dict().keys()
    with torch.no_grad():
        assert torch.equal(rebuilt(images()), D(images()))


def test_nvidia_record_with_a_foreign_class_is_refused(frozen_discriminator):
    D, kwargs = frozen_discriminator
    record = nvidia_record(D, kwargs)
    record.state["_modules"]["b8"] = NetworkRecord("Backdoor", {})
    with pytest.raises(stylegan2.WeightsFormatError, match="'D.b8' is a Backdoor"):
        discriminator_from_record(record, "network.pkl")


def test_nvidia_record_without_constructor_arguments_is_refused(frozen_discriminator):
    D, _ = frozen_discriminator
    with pytest.raises(stylegan2.WeightsFormatError, match="does not record its constructor arguments"):
        discriminator_from_record(nvidia_record(D), "network.pkl")
