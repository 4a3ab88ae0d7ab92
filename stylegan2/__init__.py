"""Pure-PyTorch StyleGAN2: the generator networks, latent operations, and (in `loaders`) weight files."""
from . import latents
from .loaders import LoadedGenerator, WeightsFormatError, convert, load, save
from .networks import Generator, MappingNetwork, SynthesisNetwork

__all__ = ["Generator", "LoadedGenerator", "MappingNetwork", "SynthesisNetwork", "WeightsFormatError", "convert",
           "latents", "load", "save"]
