"""The DCGAN baseline (Radford et al. 2016) that the 64 px study compared StyleGAN2 against.

The paper's 64 px networks, generalised to any power-of-two resolution from 16 px: the generator
turns z into a 4x4 map with a transposed convolution, then doubles the resolution with 4x4 stride-2
transposed convolutions, batch norm and ReLU, ending in tanh; the discriminator mirrors it with 4x4
stride-2 convolutions and leaky ReLU (0.2), batch norm after the first layer. Widths: `width` channels
next to the image, doubling towards 4x4 (64 at 64 px gives the paper's 512-256-128-64). It trains with
the same loop, snapshots and metric hook as StyleGAN2, with the plain non-saturating logistic loss
(no regularisation) and Adam(2e-4, betas 0.5, 0.999) as in the paper.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn.functional as F

from .errors import TrainingError

DEFAULTS = dict(batch=64, glr=0.0002, dlr=0.0002, betas=(0.5, 0.999), r1_gamma=0.0, pl_weight=0.0,
                style_mixing_prob=0.0, G_reg_interval=None, D_reg_interval=None, ema_kimg=0.0, ema_rampup=None,
                z_dim=100)


def _widths(resolution: int, width: int) -> Dict[int, int]:
    """Channels at each resolution from 4 to resolution / 2: `width` at resolution / 2, doubling downwards."""
    if resolution < 16 or resolution & (resolution - 1):
        raise TrainingError(f"the DCGAN baseline needs a power-of-two resolution >= 16, got {resolution}")
    return {res: width * resolution // (2 * res) for res in [2 ** i for i in range(2, resolution.bit_length() - 1)]}


class DCGANGenerator(torch.nn.Module):
    """z [N, z_dim] -> images [N, img_channels, R, R] in [-1, 1].

    It is called like StyleCam's generators (the metrics, the sample grids): `c`, `truncation_psi` and
    `noise_mode` are accepted and mean nothing here (unconditional, no mapping, no noise inputs).
    """

    def __init__(self, z_dim: int = 100, img_resolution: int = 64, img_channels: int = 3, width: int = 64):
        super().__init__()
        self.z_dim, self.c_dim, self.img_resolution, self.img_channels = z_dim, 0, img_resolution, img_channels
        self.init_kwargs = dict(z_dim=z_dim, img_resolution=img_resolution, img_channels=img_channels, width=width)
        widths = _widths(img_resolution, width)
        layers = [torch.nn.ConvTranspose2d(z_dim, widths[4], 4, 1, 0, bias=False), torch.nn.BatchNorm2d(widths[4]),
                  torch.nn.ReLU(True)]
        for res in list(widths)[1:]:
            layers += [torch.nn.ConvTranspose2d(widths[res // 2], widths[res], 4, 2, 1, bias=False),
                       torch.nn.BatchNorm2d(widths[res]), torch.nn.ReLU(True)]
        layers += [torch.nn.ConvTranspose2d(widths[img_resolution // 2], img_channels, 4, 2, 1, bias=False),
                   torch.nn.Tanh()]
        self.main = torch.nn.Sequential(*layers)
        _init_weights(self)

    def forward(self, z: torch.Tensor, c: Optional[torch.Tensor] = None, truncation_psi: float = 1.0,
                noise_mode: str = "const") -> torch.Tensor:
        return self.main(z.reshape(*z.shape, 1, 1))


class DCGANDiscriminator(torch.nn.Module):
    """images [N, img_channels, R, R] -> logits [N, 1]; `c` is accepted and ignored."""

    def __init__(self, img_resolution: int = 64, img_channels: int = 3, width: int = 64):
        super().__init__()
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.init_kwargs = dict(img_resolution=img_resolution, img_channels=img_channels, width=width)
        widths = _widths(img_resolution, width)
        layers = [torch.nn.Conv2d(img_channels, widths[img_resolution // 2], 4, 2, 1, bias=False),
                  torch.nn.LeakyReLU(0.2, True)]
        for res in reversed(list(widths)[:-1]):
            layers += [torch.nn.Conv2d(widths[res * 2], widths[res], 4, 2, 1, bias=False),
                       torch.nn.BatchNorm2d(widths[res]), torch.nn.LeakyReLU(0.2, True)]
        layers += [torch.nn.Conv2d(widths[4], 1, 4, 1, 0, bias=False)]
        self.main = torch.nn.Sequential(*layers)
        _init_weights(self)

    def forward(self, img: torch.Tensor, c: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.main(img).reshape(-1, 1)


def _init_weights(module: torch.nn.Module) -> None:
    """The paper's initialisation: N(0, 0.02) weights, batch norm scales N(1, 0.02)."""
    for layer in module.modules():
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            torch.nn.init.normal_(layer.weight, 0.0, 0.02)
        elif isinstance(layer, torch.nn.BatchNorm2d):
            torch.nn.init.normal_(layer.weight, 1.0, 0.02)
            torch.nn.init.zeros_(layer.bias)


class DCGANLoss:
    """The non-saturating logistic GAN loss without regularisation, with StyleGAN2Loss's interface."""

    def __init__(self, G: torch.nn.Module, D: torch.nn.Module, augment_pipe: Optional[torch.nn.Module] = None):
        self.G = G
        self.D = D
        self.augment_pipe = augment_pipe

    def state_dict(self) -> Dict[str, torch.Tensor]:
        return {}

    def load_state_dict(self, state: Dict[str, torch.Tensor]) -> None:
        if state:
            raise TrainingError(f"the DCGAN loss has no state, got {sorted(state)}")

    def run_D(self, img: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.D(self.augment_pipe(img) if self.augment_pipe is not None else img, c)

    def accumulate_gradients(self, phase: str, real_img: torch.Tensor, real_c: torch.Tensor, gen_z: torch.Tensor,
                             gen_c: torch.Tensor, gain: float = 1.0, pl_noise: Optional[torch.Tensor] = None,
                             ) -> Dict[str, torch.Tensor]:
        """'Gmain'/'Gboth' or 'Dmain'/'Dboth' (regularisation phases do nothing); see StyleGAN2Loss."""
        out: Dict[str, torch.Tensor] = {}
        if phase in ("Gmain", "Gboth"):
            gen_img = self.G(gen_z, gen_c)
            gen_logits = self.run_D(gen_img, gen_c)
            loss_Gmain = F.softplus(-gen_logits)
            loss_Gmain.mean().mul(gain).backward()
            out.update(gen_img=gen_img, gen_logits=gen_logits, loss_Gmain=loss_Gmain)
        if phase in ("Dmain", "Dboth"):
            gen_img = self.G(gen_z, gen_c).detach()
            gen_logits = self.run_D(gen_img, gen_c)
            loss_Dgen = F.softplus(gen_logits)
            loss_Dgen.mean().mul(gain).backward()
            real_logits = self.run_D(real_img.detach(), real_c)
            loss_Dreal = F.softplus(-real_logits)
            loss_Dreal.mean().mul(gain).backward()
            out.update(gen_img=gen_img, gen_logits=gen_logits, loss_Dgen=loss_Dgen, real_logits=real_logits,
                       loss_Dreal=loss_Dreal)
        return {name: tensor.detach() for name, tensor in out.items()}
