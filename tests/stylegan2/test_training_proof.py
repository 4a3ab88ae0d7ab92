"""CPU-sized proof that training learns: a tiny 32 px StyleGAN2 on coloured shapes, 200 steps.

The metric is KID (the unbiased MMD with the cubic polynomial kernel, as in KID) on a cheap feature
space instead of Inception's: each image average-pooled to 8x8x3. It is plugged in through the loop's
metric callback, where FID and KID proper plug in.
"""
import math

import pytest
import torch
import torch.nn.functional as F

from stylegan2.training import models
from stylegan2.training.config import auto_config
from stylegan2.training.loop import train
from tests.stylegan2.training_fixtures import TINY, run_options, shape_images, write_zip

pytestmark = pytest.mark.timeout(900)        # about half a minute on a quiet core; far more on a loaded machine

SETTINGS = dict(TINY, channel_base=256, channel_max=16)      # 16 channels at 4-16 px, 8 at 32 px
KIMG = 1.6                                                  # 200 steps of 8 images


def features(images: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(images, 4).flatten(1)


def kid(a: torch.Tensor, b: torch.Tensor) -> float:
    """Unbiased squared MMD with k(x, y) = (x.y / d + 1)^3, over equal-sized feature sets."""
    m, d = a.shape

    def mean_off_diagonal(k):
        return (k.sum() - k.diagonal().sum()) / (m * (m - 1))

    kernel = lambda x, y: (x @ y.T / d + 1) ** 3
    return (mean_off_diagonal(kernel(a, a)) + mean_off_diagonal(kernel(b, b)) - 2 * kernel(a, b).mean()).item()


@pytest.fixture(scope="module")
def proof(tmp_path_factory):
    root = tmp_path_factory.mktemp("proof")
    reals = shape_images(512, resolution=32, seed=0)
    data = write_zip(root / "shapes.zip", reals)
    real_features = features(torch.from_numpy(reals[:256]).permute(0, 3, 1, 2).float() / 127.5 - 1)
    z = torch.randn([256, SETTINGS["z_dim"]], generator=torch.Generator().manual_seed(5))

    def metric(G, kimg):
        with torch.no_grad():
            fakes = torch.cat([G(part) for part in z.split(64)])
        return {"kid": kid(features(fakes), real_features)}

    G0, _ = models.new_networks(auto_config(32, **SETTINGS), 32, 3, 0)
    initial = metric(G0.eval(), 0)["kid"]
    result = train(run_options(data, root / "run", KIMG, metric_kimg=0.8, tick_kimg=0.4), SETTINGS, metric=metric)
    return initial, result.history


@pytest.mark.slow
def test_200_steps_bring_the_generators_kid_to_a_fifth_or_less(proof):
    initial, history = proof
    final = history[-1]["metric/kid"]
    assert final < initial / 5, f"KID {initial:.3f} -> {final:.3f}"


@pytest.mark.slow
def test_losses_stay_finite_and_the_game_balanced(proof):
    _, history = proof
    for line in history:
        assert all(math.isfinite(line[name]) for name in ("G_loss", "D_loss"))
        assert 0.2 < line["D_loss"] < 2 * math.log(2) + 0.1       # D neither wins outright nor gives up
        assert line["G_loss"] < 5


@pytest.mark.slow
def test_path_length_penalty_settles(proof):
    _, history = proof
    penalties = [line["G_reg"] for line in history if "G_reg" in line]
    assert penalties[-1] < penalties[0] / 10
