"""Pure-PyTorch StyleGAN2 and StyleGAN3 (`stylegan3`): the generator networks, latent operations, and (in
`loaders`) weight files."""
from . import latents, stylegan3
from .loaders import LoadedGenerator, WeightsFormatError, convert, load, read_meta, save
from .networks import Generator, MappingNetwork, SynthesisNetwork
from .stylegan3 import Generator as StyleGAN3Generator

__all__ = ["Generator", "LoadedGenerator", "MappingNetwork", "StyleGAN3Generator", "SynthesisNetwork",
           "WeightsFormatError", "convert", "latents", "load", "read_meta", "save", "stylegan3"]
