"""The networks a run starts from: new ones, a generator to fine-tune, or a snapshot's.

Fine-tuning reads the whole architecture from the checkpoint (mapping depth, widths, fp16 and clamp
settings), so a FFHQ-256 model with 8 mapping layers is continued with all 8 (NVIDIA's trainer copies by
name into a network built from its --cfg and silently drops what does not fit). The discriminator
comes from the checkpoint where it has one, else it is built new to match the generator.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Tuple

import torch

from .. import loaders
from ..discriminator import Discriminator
from ..networks import Generator
from . import dcgan
from .config import TrainingConfig
from .errors import TrainingError

Networks = Tuple[torch.nn.Module, torch.nn.Module]


def new_networks(config: TrainingConfig, resolution: int, img_channels: int, c_dim: int) -> Networks:
    """(G, D) with fresh weights, seeded by config.seed, for images of this resolution."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.arch == "dcgan":
            if c_dim:
                raise TrainingError("the DCGAN baseline is unconditional; use a dataset without labels")
            return (dcgan.DCGANGenerator(config.z_dim, resolution, img_channels, config.dcgan_width),
                    dcgan.DCGANDiscriminator(resolution, img_channels, config.dcgan_width))
        G = Generator(z_dim=config.z_dim, c_dim=c_dim, w_dim=config.w_dim, img_resolution=resolution,
                      img_channels=img_channels, mapping_kwargs=dict(num_layers=config.mapping_layers),
                      synthesis_kwargs=dict(channel_base=config.channel_base, channel_max=config.channel_max,
                                            num_fp16_res=config.num_fp16_res, conv_clamp=config.conv_clamp))
        return G, discriminator_for(G, config)


def discriminator_for(G: Generator, config: TrainingConfig) -> Discriminator:
    """A new resnet discriminator for G's images, with G's channel rule, fp16 and clamp settings.

    A generator with an explicit width table (a rosinality model with non-stock widths) gets the channel
    rule that gives its widest layers.
    """
    synthesis = G.init_kwargs["synthesis_kwargs"]
    if "channels" in synthesis:
        widths = G.synthesis.channels
        channel_base, channel_max = max(width * res for res, width in widths.items()), max(widths.values())
    else:
        channel_base, channel_max = synthesis.get("channel_base", 32768), synthesis.get("channel_max", 512)
    return Discriminator(c_dim=G.c_dim, img_resolution=G.img_resolution, img_channels=G.img_channels,
                         channel_base=channel_base, channel_max=channel_max,
                         num_fp16_res=synthesis.get("num_fp16_res", 0), conv_clamp=synthesis.get("conv_clamp"),
                         block_kwargs=dict(freeze_layers=config.freeze_d),
                         epilogue_kwargs=dict(mbstd_group_size=config.mbstd_group))


def fine_tuning_networks(loaded: loaders.LoadedGenerator, source: str,
                         config: TrainingConfig) -> Tuple[Generator, Discriminator, Dict[str, Any]]:
    """(G, D, description) to fine-tune the generator `stylegan2.load(source)` gave (source: a file path).

    D is the checkpoint's own where the file carries one (an NVIDIA pickle's `D`, a rosinality
    checkpoint's `d`), else new. The file gives its weights and architecture; the run gives Freeze-D
    (config.freeze_d) and the minibatch-std group (config.mbstd_group), as NVIDIA's trainer, which builds
    D from the run's settings and copies the file's weights into it, does.
    """
    G = loaded.generator
    if config.arch != "stylegan2" or getattr(G, "architecture", "stylegan2") != "stylegan2":
        raise TrainingError(f"fine-tuning trains StyleGAN2 generators; {source} holds a "
                            f"{getattr(G, 'architecture', 'stylegan2')} generator and the run asked for {config.arch}")
    pretrained = loaders.load_discriminator(source)
    if pretrained is None:
        D = discriminator_for(G, config)
    else:
        _check_discriminator_fits(pretrained, G, source)
        kwargs = copy.deepcopy(pretrained.init_kwargs)
        kwargs["block_kwargs"] = dict(kwargs.get("block_kwargs") or {}, freeze_layers=config.freeze_d)
        kwargs["epilogue_kwargs"] = dict(kwargs.get("epilogue_kwargs") or {}, mbstd_group_size=config.mbstd_group)
        D = Discriminator(**kwargs)
        D.load_state_dict(pretrained.state_dict())
    description = {"fine_tuned_from": str(source), "source_format": loaded.meta["format"],
                   "pretrained_discriminator": pretrained is not None}
    return G, D, description


def _check_discriminator_fits(D: Discriminator, G: Generator, source: str) -> None:
    """The file's D judges the images its G makes: same resolution, channels and labels."""
    for name in ("img_resolution", "img_channels", "c_dim"):
        if D.init_kwargs[name] != G.init_kwargs.get(name, 0):
            raise TrainingError(f"{source}: its discriminator takes {name} {D.init_kwargs[name]} but its generator "
                                f"has {G.init_kwargs.get(name, 0)}; the file's networks do not belong together")


def snapshot_networks(content: Dict[str, Any]) -> Tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module]:
    """(G, D, G_ema) rebuilt from a snapshot's entries (see snapshot.py), strictly."""
    arch = content["arch"]
    build = {"stylegan2": (Generator, Discriminator),
             "dcgan": (dcgan.DCGANGenerator, dcgan.DCGANDiscriminator)}.get(arch)
    if build is None:
        raise TrainingError(f"the snapshot is of an unknown architecture {arch!r}")
    networks = []
    for name, cls in (("G", build[0]), ("D", build[1]), ("G_ema", build[0])):
        entry = content[name]
        try:
            module = cls(**entry["init_kwargs"])
            module.load_state_dict(entry["state_dict"], strict=True)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            first_line = str(error).strip().splitlines()[0]
            raise TrainingError(f"the snapshot's {name} does not fit its own settings: {first_line}") from None
        networks.append(module)
    return networks[0], networks[1], networks[2]

