"""Pure-PyTorch StyleGAN2: the generator networks, latent operations, and (in `loaders`) weight files."""
from . import latents
from .networks import Generator, MappingNetwork, SynthesisNetwork

__all__ = ["Generator", "MappingNetwork", "SynthesisNetwork", "latents"]
