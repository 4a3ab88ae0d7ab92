"""StyleGAN2Loss beyond the golden step: style mixing, augmentation, the combined phases, w_avg tracking."""
import pytest
import torch

from stylegan2.discriminator import Discriminator
from stylegan2.testing import make_random_generator
from stylegan2.training.augment import build_augment
from stylegan2.training.loss import StyleGAN2Loss
from tests.stylegan2.training_fixtures import FlipPipe


@pytest.fixture
def networks():
    G = make_random_generator(resolution=16, channel_base=256, channel_max=16).train()
    torch.manual_seed(0)
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=256, channel_max=16).train()
    return G.requires_grad_(False), D.requires_grad_(False)


def batch(seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand([4, 3, 16, 16], generator=generator) * 2 - 1, torch.zeros([4, 0]),
            torch.randn([4, 32], generator=generator), torch.zeros([4, 0]))


def grads(module):
    return {name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None}


def run_phase(loss, module, phase, seed=0, **kwargs):
    for p in module.parameters():
        p.grad = None
    module.requires_grad_(True)
    torch.manual_seed(seed)
    out = loss.accumulate_gradients(phase, *batch(), **kwargs)
    module.requires_grad_(False)
    return out, grads(module)


def test_style_mixing_takes_the_layers_after_a_cutoff_from_a_second_z(networks):
    G, D = networks
    loss = StyleGAN2Loss(G, D, style_mixing_prob=1.0, pl_weight=0)
    torch.manual_seed(1)
    _, _, z, c = batch()
    img, ws = loss.run_G(z, c)
    own = G.mapping(z, c)
    same = (ws == own).all(dim=2).all(dim=0)          # which layers kept the first z's w
    cutoff = int(same.float().argmin())
    assert 1 <= cutoff < G.num_ws and same[:cutoff].all() and not same[cutoff:].any()


def test_without_style_mixing_every_layer_has_the_same_w(networks):
    G, D = networks
    _, _, z, c = batch()
    _, ws = StyleGAN2Loss(G, D, style_mixing_prob=0).run_G(z, c)
    assert torch.equal(ws, ws[:, :1].expand_as(ws))


def test_w_avg_is_tracked_in_train_mode_only(networks):
    G, D = networks
    loss = StyleGAN2Loss(G, D, style_mixing_prob=0)
    _, _, z, c = batch()
    before = G.mapping.w_avg.clone()
    _, ws = loss.run_G(z, c)
    assert torch.allclose(G.mapping.w_avg, ws[:, 0].mean(0).lerp(before, 0.995))
    G.eval()
    tracked = G.mapping.w_avg.clone()
    loss.run_G(z, c)
    assert torch.equal(G.mapping.w_avg, tracked)


def test_augmentation_is_applied_to_every_image_d_sees(networks):
    G, D = networks
    pipe = FlipPipe()
    loss = StyleGAN2Loss(G, D, augment_pipe=pipe, style_mixing_prob=0)
    run_phase(loss, G, "Gmain")
    run_phase(loss, D, "Dmain")
    run_phase(loss, D, "Dreg")
    assert pipe.calls == 1 + 2 + 1


def test_r1_is_taken_with_respect_to_the_images_before_augmentation(networks):
    G, D = networks
    pipe = FlipPipe()
    pipe.p.fill_(1.0)                                  # D sees every image mirrored
    real, real_c, z, c = batch()
    D.requires_grad_(True)
    through_pipe = StyleGAN2Loss(G, D, augment_pipe=pipe).accumulate_gradients("Dreg", real, real_c, z, c)
    premirrored = StyleGAN2Loss(G, D).accumulate_gradients("Dreg", real.flip(3), real_c, z, c)
    D.requires_grad_(False)
    assert torch.allclose(through_pipe["r1_grads"], premirrored["r1_grads"].flip(3), atol=1e-9)
    assert torch.allclose(through_pipe["r1_penalty"], premirrored["r1_penalty"])


@pytest.mark.parametrize("network, both, parts", [("G", "Gboth", ("Gmain", "Greg")), ("D", "Dboth", ("Dmain", "Dreg"))])
def test_combined_phase_is_the_sum_of_main_and_regularisation(networks, network, both, parts):
    G, D = networks
    module = G if network == "G" else D
    noise = torch.randn([2, 3, 16, 16])
    _, combined = run_phase(StyleGAN2Loss(G, D, style_mixing_prob=0, noise_mode="const"), module, both, pl_noise=noise)
    separate = [run_phase(StyleGAN2Loss(G, D, style_mixing_prob=0, noise_mode="const"), module, phase,
                          pl_noise=noise)[1] for phase in parts]
    for name, value in combined.items():
        expected = sum(part[name] for part in separate if name in part)
        assert torch.allclose(value, expected, rtol=1e-4, atol=1e-7), name


def test_unknown_phase_is_refused(networks):
    G, D = networks
    with pytest.raises(ValueError, match="phase must be one of"):
        StyleGAN2Loss(G, D).accumulate_gradients("Gall", *batch())


def test_only_the_phase_network_gets_gradients(networks):
    G, D = networks
    loss = StyleGAN2Loss(G, D, style_mixing_prob=0)
    run_phase(loss, G, "Gmain")
    assert all(p.grad is None for p in D.parameters())


@pytest.mark.usefixtures("cpu_fp16")
def test_fp16_blocks_train_in_fp16_with_gradients_close_to_fp32():
    G = make_random_generator(resolution=16, channel_base=256, channel_max=16, num_fp16_res=2).train()
    torch.manual_seed(0)
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=256, channel_max=16,
                      num_fp16_res=2, conv_clamp=256).train()
    G.requires_grad_(False), D.requires_grad_(False)
    dtypes = []
    hook = G.synthesis.b16.register_forward_hook(lambda module, inputs, output: dtypes.append(output[0].dtype))
    kwargs = dict(style_mixing_prob=0, noise_mode="const")
    _, half = run_phase(StyleGAN2Loss(G, D, fp16_on_cpu=True, **kwargs), G, "Gmain")
    hook.remove()
    _, full = run_phase(StyleGAN2Loss(G, D, **kwargs), G, "Gmain")
    assert dtypes == [torch.float16]
    largest = max(grad.abs().max() for grad in full.values())
    for name, grad in full.items():             # fp16 carries about 3 decimal digits
        assert half[name].dtype == torch.float32 and torch.isfinite(half[name]).all()
        assert (half[name] - grad).abs().max() <= 0.01 * largest, name


@pytest.mark.parametrize("kind", ["ada", "diffaugment"])
def test_every_phase_trains_through_the_real_augmentation_pipelines(networks, kind):
    G, D = networks
    pipe = build_augment(kind)
    pipe.p.fill_(1.0)                                  # ADA at full strength: every transform may fire
    loss = StyleGAN2Loss(G, D, augment_pipe=pipe)
    for phase, module in (("Gmain", G), ("Greg", G), ("Dmain", D), ("Dreg", D)):
        out, grads = run_phase(loss, module, phase)
        assert grads and all(torch.isfinite(grad).all() for grad in grads.values()), phase
        assert all(torch.isfinite(value).all() for value in out.values()), phase
