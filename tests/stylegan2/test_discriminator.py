"""Behaviour of the discriminator beyond the golden reference: precision, Freeze-D, labels, architectures, errors."""
import pytest
import torch

from stylegan2.discriminator import Discriminator


def small_discriminator(**kwargs) -> Discriminator:
    settings = dict(c_dim=0, img_resolution=32, img_channels=3, channel_base=512, channel_max=16, conv_clamp=256)
    settings.update(kwargs)
    torch.manual_seed(0)
    return Discriminator(**settings).eval()


def images(count=4, resolution=32, seed=0):
    return torch.rand([count, 3, resolution, resolution], generator=torch.Generator().manual_seed(seed)) * 2 - 1


def block_output_dtypes(D, img, **kwargs):
    dtypes = {}
    hooks = [getattr(D, f"b{res}").register_forward_hook(
        lambda module, inputs, output, res=res: dtypes.__setitem__(res, output[0].dtype))
        for res in D.block_resolutions]
    with torch.no_grad():
        logits = D(img, **kwargs)
    for hook in hooks:
        hook.remove()
    return dtypes, logits


@pytest.mark.usefixtures("cpu_fp16")
def test_the_top_num_fp16_res_resolutions_run_in_fp16_when_allowed():
    D = small_discriminator(num_fp16_res=2)
    dtypes, logits = block_output_dtypes(D, images(), fp16_on_cpu=True)
    assert dtypes == {32: torch.float16, 16: torch.float16, 8: torch.float32}
    assert logits.dtype == torch.float32


@pytest.mark.usefixtures("cpu_fp16")
def test_fp16_logits_stay_close_to_fp32_ones():
    D = small_discriminator(num_fp16_res=2)
    with torch.no_grad():
        half, full = D(images(), fp16_on_cpu=True), D(images(), force_fp32=True)
    assert (half - full).abs().max() < 1e-2


@pytest.mark.parametrize("kwargs", [{}, {"fp16_on_cpu": True, "force_fp32": True}])
def test_fp16_blocks_run_in_fp32_on_the_cpu_or_when_forced(kwargs):
    D = small_discriminator(num_fp16_res=2)
    dtypes, _ = block_output_dtypes(D, images(), **kwargs)
    assert set(dtypes.values()) == {torch.float32}


def test_freeze_layers_turns_the_first_layers_into_buffers_under_the_same_names():
    frozen, free = small_discriminator(block_kwargs=dict(freeze_layers=5)), small_discriminator()
    trainable = {name for name, _ in frozen.named_parameters()}
    # b32 holds layers 0-3 (fromrgb, conv0, conv1, skip), b16 starts with layer 4 (conv0).
    assert not any(name.startswith(("b32.", "b16.conv0.")) for name in trainable)
    assert "b16.conv1.weight" in trainable and "b4.fc.weight" in trainable
    assert frozen.state_dict().keys() == free.state_dict().keys()


def test_labels_change_the_logits_of_a_conditional_discriminator():
    D = small_discriminator(c_dim=3)
    one_hot = torch.eye(3)[[0, 1, 2, 0]]
    with torch.no_grad():
        a, b = D(images(), one_hot), D(images(), one_hot.roll(1, dims=1))
    assert a.shape == (4, 1) and not torch.allclose(a, b)
    assert "mapping.embed.weight" in D.state_dict()


@pytest.mark.parametrize("architecture, has_fromrgb_everywhere, has_skip", [("skip", True, False),
                                                                            ("orig", False, False),
                                                                            ("resnet", False, True)])
def test_architectures_have_nvidias_layers(architecture, has_fromrgb_everywhere, has_skip):
    D = small_discriminator(architecture=architecture)
    keys = D.state_dict().keys()
    assert ("b16.fromrgb.weight" in keys) == has_fromrgb_everywhere
    assert ("b4.fromrgb.weight" in keys) == (architecture == "skip")
    assert ("b32.skip.weight" in keys) == has_skip
    with torch.no_grad():
        assert D(images()).shape == (4, 1)


def test_batch_must_be_a_multiple_of_the_minibatch_std_group():
    with pytest.raises(ValueError, match="multiple of 4"):
        small_discriminator()(images(count=6))


def test_images_of_the_wrong_resolution_are_refused_with_both_shapes():
    with pytest.raises(ValueError, match=r"expected images \[N, 3, 32, 32\], got \[4, 3, 64, 64\]"):
        small_discriminator()(images(resolution=64))


def test_init_kwargs_rebuild_the_same_network():
    D = small_discriminator(c_dim=2, block_kwargs=dict(freeze_layers=2), epilogue_kwargs=dict(mbstd_group_size=2))
    rebuilt = Discriminator(**D.init_kwargs)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in D.state_dict().items()}
