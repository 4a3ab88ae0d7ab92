"""Weight files as users get them, written by the tests themselves into tmp folders.

`write_nvlabs_pickle` produces a pickle in the layout of NVIDIA's stylegan2-ada-pytorch snapshots
(`dict(G, D, G_ema, augment_pipe, training_set_kwargs)`, every network pickled through
`torch_utils.persistence` with its `__dict__` as `state`, containers as `dnnlib.util.EasyDict`). The
pickler needs those NVIDIA globals to exist while it writes, so `nvidia_modules()` registers stand-ins
in `sys.modules` for the duration of a `with` block only; the loader under test never sees them.
`D` is a real discriminator (`discriminator_network`: StyleCam's has NVIDIA's module tree, class
names and tensor names), the one given or a small random one for the generator's images.
`rosinality_state_dict` is the `d` of a rosinality training checkpoint.

`stylegan3_network` builds `G_ema` of NVIDIA's StyleGAN3 from a golden folder's meta.json and state dict,
with the attributes NVIDIA's code computes in NVIDIA's types (sizes as NumPy int64 arrays, cutoffs as
NumPy floats); `write_stylegan3_pickle` pickles it as a stylegan3 snapshot, and `records` turns it into
what the restricted unpickler makes of it (`NetworkRecord`s), for testing the loader on its own.
"""
from __future__ import annotations

import contextlib
import pickle
import sys
import types
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

import numpy as np
import torch

from stylegan2.discriminator import Discriminator
from stylegan2.loaders.nvlabs_pickle import NetworkRecord

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

DiscriminatorParts = Tuple[Dict[str, Any], Dict[str, torch.Tensor]]   # (init_kwargs, state_dict)


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


def discriminator_network(init_kwargs: Dict[str, Any], state_dict: Dict[str, torch.Tensor],
                          easy_dict: type = dict) -> torch.nn.Module:
    """D as NVIDIA's snapshots hold it (a copy in eval mode without gradients): StyleCam's Discriminator has
    NVIDIA's module tree, class names and tensor names; every module records its constructor arguments as
    torch_utils.persistence does (the root its real ones, settings dicts as EasyDict)."""
    D = Discriminator(**init_kwargs).eval().requires_grad_(False)
    D.load_state_dict(state_dict, strict=True)
    for module in D.modules():
        module._init_args, module._init_kwargs = (), easy_dict()
    D._init_kwargs = easy_dict({key: easy_dict(value) if isinstance(value, dict) else value
                                for key, value in init_kwargs.items()})
    return D


def small_discriminator(init_kwargs: Dict[str, Any], seed: int = 0) -> DiscriminatorParts:
    """A random discriminator of 16 channels for the images of a generator with these settings."""
    resolution = int(init_kwargs["img_resolution"])   # NumPy numbers in some tests' settings
    settings = dict(c_dim=int(init_kwargs["c_dim"]), img_resolution=resolution,
                    img_channels=int(init_kwargs["img_channels"]), channel_base=16 * resolution, channel_max=16)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return settings, state_dict_of(Discriminator(**settings))


def write_nvlabs_pickle(path: Path, init_kwargs: Dict[str, Any], state_dict: Dict[str, torch.Tensor],
                        protocol: Optional[int] = None, module_src: str = NVIDIA_MODULE_SRC,
                        class_names: Optional[Dict[str, str]] = None,
                        attributes: Optional[Dict[str, Dict[str, Any]]] = None,
                        discriminator: Optional[DiscriminatorParts] = None, **entries: Any) -> Path:
    """Write a training snapshot in NVIDIA's layout; `discriminator` (init_kwargs, state_dict) is D (default: a
    small random one), `entries` replace or add top-level entries."""
    with nvidia_modules() as nvidia:
        g_ema = generator_network(init_kwargs, state_dict, nvidia.EasyDict, class_names, attributes)
        generator = generator_network(init_kwargs, state_dict, nvidia.EasyDict, class_names, attributes).train()
        d = discriminator_network(*(discriminator or small_discriminator(init_kwargs)), nvidia.EasyDict)
        snapshot = dict(
            training_set_kwargs=dict(class_name="training.dataset.ImageFolderDataset", path="ffhq.zip",
                                     use_labels=False, max_size=70000, xflip=True, resolution=64),
            G=generator, D=d, G_ema=g_ema, augment_pipe=None)
        snapshot.update(entries)
        with open(path, "wb") as file:
            NvidiaPickler(file, protocol, module_src, nvidia.reconstruct).dump(snapshot)
    return path


def state_dict_of(generator: torch.nn.Module) -> Dict[str, torch.Tensor]:
    return {key: tensor.detach().clone() for key, tensor in generator.state_dict().items()}


def rosinality_state_dict(resolution: int = 16, widths: Optional[Dict[int, int]] = None,
                          seed: int = 0) -> Dict[str, torch.Tensor]:
    """A rosinality training checkpoint's `d`: random tensors named and shaped as rosinality's
    Discriminator(size) holds them, its blur kernels the [1, 3, 3, 1] filter."""
    widths = widths or {16: 16, 8: 32, 4: 32}
    generator = torch.Generator().manual_seed(seed)
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    blur = torch.outer(taps, taps) / 64

    def rand(*shape, scale=1.0):
        return torch.randn(shape, generator=generator) * scale

    sd = {"convs.0.0.weight": rand(widths[resolution], 3, 1, 1), "convs.0.1.bias": rand(widths[resolution], scale=0.1)}
    res, block = resolution, 1
    while res > 4:
        cin, cout = widths[res], widths[res // 2]
        p = f"convs.{block}"
        sd.update({f"{p}.conv1.0.weight": rand(cin, cin, 3, 3), f"{p}.conv1.1.bias": rand(cin, scale=0.1),
                   f"{p}.conv2.0.kernel": blur.clone(), f"{p}.conv2.1.weight": rand(cout, cin, 3, 3),
                   f"{p}.conv2.2.bias": rand(cout, scale=0.1), f"{p}.skip.0.kernel": blur.clone(),
                   f"{p}.skip.1.weight": rand(cout, cin, 1, 1)})
        res, block = res // 2, block + 1
    c4 = widths[4]
    sd.update({"final_conv.0.weight": rand(c4, c4 + 1, 3, 3), "final_conv.1.bias": rand(c4, scale=0.1),
               "final_linear.0.weight": rand(c4, c4 * 16), "final_linear.0.bias": rand(c4, scale=0.1),
               "final_linear.1.weight": rand(1, c4), "final_linear.1.bias": rand(1, scale=0.1)})
    return sd


STYLEGAN3_BUFFER_NAMES = ("w_avg", "transform", "freqs", "phases", "magnitude_ema", "up_filter", "down_filter")


def stylegan3_network(meta: Dict[str, Any], state_dict: Dict[str, torch.Tensor], easy_dict: type = dict
                      ) -> torch.nn.Module:
    """G_ema of NVIDIA's StyleGAN3 as its pickles hold it, from a golden folder's meta.json and state dict.

    Identity filters, absent from the state dict, are None buffers as in NVIDIA's layers.
    """
    init_kwargs = meta["init_kwargs"]
    kwargs = easy_dict({key: easy_dict(value) if isinstance(value, dict) else value
                        for key, value in init_kwargs.items()})
    dims = {key: init_kwargs[key] for key in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")}
    root = network("Generator", _init_args=(), _init_kwargs=kwargs, num_ws=meta["num_ws"], **dims)
    mapping = network("MappingNetwork", _init_args=(), _init_kwargs=easy_dict(), num_ws=meta["num_ws"],
                      num_layers=init_kwargs["mapping_kwargs"]["num_layers"], w_avg_beta=0.998,
                      **{key: dims[key] for key in ("z_dim", "c_dim", "w_dim")})
    synthesis = network("SynthesisNetwork", _init_args=(), _init_kwargs=easy_dict(), w_dim=dims["w_dim"],
                        num_ws=meta["num_ws"], img_resolution=dims["img_resolution"], num_critical=2,
                        num_layers=len(meta["layers"]) - 1, margin_size=10, output_scale=0.25, num_fp16_res=4,
                        layer_names=[layer["name"] for layer in meta["layers"]])
    root.add_module("synthesis", synthesis)
    root.add_module("mapping", mapping)
    spec = meta["input"]
    synthesis.add_module("input", network(
        "SynthesisInput", _init_args=(), _init_kwargs=easy_dict(), w_dim=dims["w_dim"], channels=spec["channels"],
        size=np.asarray(spec["size"], dtype=np.int64), sampling_rate=np.float64(spec["sampling_rate"]),
        bandwidth=np.float64(spec["bandwidth"])))
    for layer in meta["layers"]:
        rates = (int(layer["in_sampling_rate"]), int(layer["out_sampling_rate"]))
        attributes = dict(
            w_dim=dims["w_dim"], is_torgb=layer["is_torgb"], is_critically_sampled=layer["is_critically_sampled"],
            use_fp16=np.bool_(layer["use_fp16"]), in_channels=layer["in_channels"],
            out_channels=layer["out_channels"], in_size=np.full(2, layer["in_size"], dtype=np.int64),
            out_size=np.full(2, layer["out_size"], dtype=np.int64),
            in_sampling_rate=rates[0], out_sampling_rate=rates[1],
            tmp_sampling_rate=max(rates) * (1 if layer["is_torgb"] else 2),
            conv_kernel=layer["conv_kernel"], conv_clamp=256, magnitude_ema_beta=init_kwargs["magnitude_ema_beta"],
            up_factor=layer["up_factor"], up_taps=layer["up_taps"], down_factor=layer["down_factor"],
            down_taps=layer["down_taps"], down_radial=layer["down_radial"], padding=list(layer["padding"]),
            **{key: np.float64(layer[key]) for key in ("in_cutoff", "out_cutoff", "in_half_width", "out_half_width")})
        synthesis.add_module(layer["name"], network("SynthesisLayer", _init_args=(), _init_kwargs=easy_dict(),
                                                    **attributes))
    for key, tensor in state_dict.items():
        *parts, name = key.split(".")
        module = _module_or_fully_connected(root, parts, tensor, easy_dict)
        value = torch.as_tensor(tensor).clone()
        if name in STYLEGAN3_BUFFER_NAMES:
            module.register_buffer(name, value)
        else:
            module.register_parameter(name, torch.nn.Parameter(value, requires_grad=False))
    for layer in meta["layers"]:
        module = synthesis.get_submodule(layer["name"])
        for name in ("up_filter", "down_filter"):
            if name not in module._buffers:
                module.register_buffer(name, None)
    return root


def _module_or_fully_connected(root: torch.nn.Module, parts: list, tensor: torch.Tensor, easy_dict: type
                               ) -> torch.nn.Module:
    """The module at the key path `parts`, or a new NVIDIA FullyConnectedLayer there (the only kind not built yet)."""
    try:
        return root.get_submodule(".".join(parts))
    except AttributeError:
        layer = network("FullyConnectedLayer", _init_args=(), _init_kwargs=easy_dict(),
                        weight_gain=np.float64(1 / np.sqrt(tensor.shape[-1])))
        root.get_submodule(".".join(parts[:-1])).add_module(parts[-1], layer)
        return layer


def records(module: torch.nn.Module) -> NetworkRecord:
    """What the restricted unpickler makes of a pickled network: its class name and `__dict__`, children alike."""
    state = dict(module.__dict__)
    state["_modules"] = {name: records(child) for name, child in module._modules.items()}
    return NetworkRecord(type(module).__name__, state)


def write_stylegan3_pickle(path: Path, meta: Dict[str, Any], state_dict: Dict[str, torch.Tensor],
                           edit=None, **entries: Any) -> Path:
    """Write a stylegan3 training snapshot; `edit(g_ema)` may change G_ema first, `entries` the top level.

    `G` holds other weights than `G_ema` (every parameter moved), as a loader must pick `G_ema`.
    """
    with nvidia_modules() as nvidia:
        g_ema = stylegan3_network(meta, state_dict, nvidia.EasyDict)
        if edit is not None:
            edit(g_ema)
        generator = stylegan3_network(meta, {key: tensor + 1 for key, tensor in state_dict.items()},
                                      nvidia.EasyDict).train()
        d = discriminator_network(*small_discriminator(meta["init_kwargs"]), nvidia.EasyDict)
        snapshot = dict(G=generator, D=d, G_ema=g_ema, augment_pipe=None,
                        training_set_kwargs=dict(class_name="training.dataset.ImageFolderDataset", path="ffhqu.zip",
                                                 use_labels=False, max_size=70000, xflip=True, resolution=64))
        snapshot.update(entries)
        with open(path, "wb") as file:
            NvidiaPickler(file, None, NVIDIA_MODULE_SRC, nvidia.reconstruct).dump(snapshot)
    return path
