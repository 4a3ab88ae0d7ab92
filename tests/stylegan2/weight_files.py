"""Weight files as users get them, written by the tests themselves into tmp folders.

`write_nvlabs_pickle` produces a pickle in the layout of NVIDIA's stylegan2-ada-pytorch snapshots
(`dict(G, D, G_ema, augment_pipe, training_set_kwargs)`, every network pickled through
`torch_utils.persistence` with its `__dict__` as `state`, containers as `dnnlib.util.EasyDict`). The
pickler needs those NVIDIA globals to exist while it writes, so `nvidia_modules()` registers stand-ins
in `sys.modules` for the duration of a `with` block only; the loader under test never sees them.
"""
from __future__ import annotations

import contextlib
import pickle
import sys
import types
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import numpy as np
import torch

PERSISTENCE_VERSION = 6
NVIDIA_MODULE_SRC = "# The source of NVIDIA's training/networks.py travels with every network.\n"

# NVIDIA class of the module at each position in the generator's state_dict key paths.
CLASS_BY_PATH = [
    (lambda parts: parts == [], "Generator"),
    (lambda parts: parts == ["mapping"], "MappingNetwork"),
    (lambda parts: parts == ["synthesis"], "SynthesisNetwork"),
    (lambda parts: len(parts) == 2 and parts[0] == "synthesis", "SynthesisBlock"),
    (lambda parts: parts[-1] in ("conv0", "conv1"), "SynthesisLayer"),
    (lambda parts: parts[-1] == "torgb", "ToRGBLayer"),
    (lambda parts: parts[-1] == "affine" or parts[-1].startswith(("fc", "embed")), "FullyConnectedLayer"),
]
BUFFER_NAMES = ("w_avg", "resample_filter", "noise_const")


def _never_called(meta):
    raise AssertionError("the loader called NVIDIA's _reconstruct_persistent_obj")


@contextlib.contextmanager
def nvidia_modules() -> Iterator[types.SimpleNamespace]:
    """Put `torch_utils.persistence` and `dnnlib.util` stand-ins into sys.modules while writing."""
    persistence = types.ModuleType("torch_utils.persistence")
    util = types.ModuleType("dnnlib.util")
    persistence._reconstruct_persistent_obj = _never_called
    _never_called.__module__, _never_called.__qualname__ = persistence.__name__, "_reconstruct_persistent_obj"
    util.EasyDict = type("EasyDict", (dict,), {"__module__": util.__name__})
    fake = {"torch_utils": types.ModuleType("torch_utils"), "torch_utils.persistence": persistence,
            "dnnlib": types.ModuleType("dnnlib"), "dnnlib.util": util}
    saved = {name: sys.modules.get(name) for name in fake}
    sys.modules.update(fake)
    try:
        yield types.SimpleNamespace(EasyDict=util.EasyDict, reconstruct=persistence._reconstruct_persistent_obj)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class NvidiaPickler(pickle.Pickler):
    """Pickles every torch.nn.Module the way torch_utils.persistence does."""

    def __init__(self, file, protocol: Optional[int], module_src: str, reconstruct):
        super().__init__(file, protocol=protocol)
        self.module_src = module_src
        self.reconstruct = reconstruct

    def reducer_override(self, obj: Any) -> Any:
        if not isinstance(obj, torch.nn.Module):
            return NotImplemented
        meta = dict(type="class", version=PERSISTENCE_VERSION, module_src=self.module_src,
                    class_name=type(obj).__name__, state=dict(obj.__dict__))
        return self.reconstruct, (meta,)


def network(class_name: str, **attributes: Any) -> torch.nn.Module:
    """An empty module whose class has NVIDIA's class name, carrying NVIDIA-like plain attributes."""
    module = type(class_name, (torch.nn.Module,), {})()
    module.__dict__.update(attributes)
    return module.eval()


def generator_network(init_kwargs: Dict[str, Any], state_dict: Dict[str, torch.Tensor],
                      easy_dict: type, class_names: Optional[Dict[str, str]] = None,
                      attributes: Optional[Dict[str, Dict[str, Any]]] = None) -> torch.nn.Module:
    """G_ema as NVIDIA's pickles hold it: a module tree with parameters and buffers at the NVlabs keys.

    `class_names` overrides the class of the module at a key prefix (e.g. {"synthesis": "Backdoor"});
    `attributes` adds plain attributes to the module at a prefix ("" is the root).
    """
    kwargs = {key: easy_dict(value) if isinstance(value, dict) else value for key, value in init_kwargs.items()}
    root = network("Generator", _init_args=(), _init_kwargs=kwargs,
                   **{key: value for key, value in init_kwargs.items() if not key.endswith("kwargs")})
    modules = {"": root}
    for key, tensor in state_dict.items():
        *parts, name = key.split(".")
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            if prefix not in modules:
                class_name = (class_names or {}).get(prefix) or _nvidia_class(parts[:depth])
                child = network(class_name, _init_args=(), _init_kwargs=easy_dict())
                if class_name == "FullyConnectedLayer":
                    child.weight_gain = np.float64(1 / np.sqrt(tensor.shape[-1]))  # NumPy scalars, as NVIDIA's
                modules[".".join(parts[:depth - 1])].add_module(parts[depth - 1], child)
                modules[prefix] = child
        owner = modules[".".join(parts)]
        value = torch.as_tensor(tensor).clone()
        if name in BUFFER_NAMES:
            owner.register_buffer(name, value)
        else:
            owner.register_parameter(name, torch.nn.Parameter(value, requires_grad=False))
    for prefix, values in (attributes or {}).items():
        modules[prefix].__dict__.update(values)
    return root


def _nvidia_class(parts) -> str:
    return next(name for matches, name in CLASS_BY_PATH if matches(parts))


def write_nvlabs_pickle(path: Path, init_kwargs: Dict[str, Any], state_dict: Dict[str, torch.Tensor],
                        protocol: Optional[int] = None, module_src: str = NVIDIA_MODULE_SRC,
                        class_names: Optional[Dict[str, str]] = None,
                        attributes: Optional[Dict[str, Dict[str, Any]]] = None, **entries: Any) -> Path:
    """Write a training snapshot in NVIDIA's layout; `entries` replace or add top-level entries."""
    with nvidia_modules() as nvidia:
        g_ema = generator_network(init_kwargs, state_dict, nvidia.EasyDict, class_names, attributes)
        generator = generator_network(init_kwargs, state_dict, nvidia.EasyDict, class_names, attributes).train()
        discriminator = network("Discriminator", _init_args=(), _init_kwargs=nvidia.EasyDict(c_dim=0))
        discriminator.add_module("b64", network("DiscriminatorBlock"))
        discriminator.b64.register_parameter("weight", torch.nn.Parameter(torch.randn(8, 3, 1, 1)))
        snapshot = dict(
            training_set_kwargs=dict(class_name="training.dataset.ImageFolderDataset", path="ffhq.zip",
                                     use_labels=False, max_size=70000, xflip=True, resolution=64),
            G=generator, D=discriminator, G_ema=g_ema, augment_pipe=None)
        snapshot.update(entries)
        with open(path, "wb") as file:
            NvidiaPickler(file, protocol, module_src, nvidia.reconstruct).dump(snapshot)
    return path


def state_dict_of(generator: torch.nn.Module) -> Dict[str, torch.Tensor]:
    return {key: tensor.detach().clone() for key, tensor in generator.state_dict().items()}
