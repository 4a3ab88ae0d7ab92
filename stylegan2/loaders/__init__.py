"""Load the StyleGAN2 and StyleGAN3 weight files users have, whatever their format, into StyleCam's generators
(and, for fine-tuning, the discriminators NVIDIA pickles and rosinality checkpoints carry: load_discriminator).

The format is recognised by the file's first bytes, never by its name: a zip archive is a `torch.save`
file (a StyleCam file, a StyleCam training snapshot or a rosinality checkpoint, told apart by their
keys), a file starting with torch's legacy magic number is an old-style `torch.save` file, and any
other pickle stream is an NVIDIA pickle. Nothing in any file is ever executed (see nvlabs_pickle.py for
how NVIDIA's pickles are read), and every file is checked against the bytes it really has before it is
read (pickle_scan.py, torch_files.py), so a small hostile file cannot make the loader allocate
gigabytes, hang or crash.
"""
from __future__ import annotations

import argparse
import pickle
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import torch

from ..files import load_tensors
from .common import LoadedGenerator, PathLike, WeightsFormatError, describe_unpickling_refusal, shown
from .discriminators import discriminator_from_record, discriminator_from_rosinality
from .meta_only import meta_without_tensors
from .native import is_native, is_training_snapshot, load_native, load_training_snapshot, save
from .nvlabs import load_nvlabs
from .nvlabs_pickle import read_snapshot, snapshot_network
from .rosinality import is_rosinality_state_dict, load_rosinality
from .torch_files import check_loaded_tensors, check_torch_legacy, check_torch_zip

__all__ = ["LoadedGenerator", "WeightsFormatError", "convert", "detect_container", "load", "load_discriminator",
           "read_meta", "read_torch_file", "save"]

ZIP_MAGIC = b"PK\x03\x04"
# torch.save's pre-1.6 format begins with this number pickled as a LONG1 opcode (0x8a, 10 bytes).
LEGACY_TORCH_MAGIC = b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
PICKLE_PROTO = 0x80
HEAD_BYTES = 64

# rosinality's training checkpoints pickle their command-line arguments; reading them runs nothing
# (`files.load_tensors` allows the class for one load, on every torch).
TORCH_FILE_SAFE_GLOBALS = [argparse.Namespace]


def load(path: PathLike, device: Union[str, torch.device] = "cpu") -> LoadedGenerator:
    """Load a generator from a weights file, ready for inference.

    Returns `LoadedGenerator(generator, meta)`: the generator in eval mode with gradients off, on
    `device`; `meta` is a plain dict with at least `format` ("nvlabs-pickle", "rosinality" or
    "stylecam"), `path`, `architecture` ("stylegan2" or "stylegan3"), `init_kwargs`, `img_resolution`,
    `num_ws`, `z_dim`, `w_dim`, `c_dim`.
    Every problem with the file raises WeightsFormatError naming the file.
    """
    path = Path(path)
    container = detect_container(path)
    if container == "pickle":
        generator, meta = load_nvlabs(path)
    else:
        content = _read_torch_file(path, container)
        if is_native(content):
            generator, meta = load_native(content, path)
        elif is_training_snapshot(content):
            generator, meta = load_training_snapshot(content, path)
        elif isinstance(content, Mapping) and ("g_ema" in content or is_rosinality_state_dict(content)):
            generator, meta = load_rosinality(content, path)
        else:
            found = ", ".join(shown(key, 30) for key in list(content)[:8]) if isinstance(content, Mapping) \
                else shown(content)
            raise WeightsFormatError(path, f"is a PyTorch file but neither a StyleCam weights file nor a "
                                           f"rosinality checkpoint (it holds {found})")
    generator = generator.to(device).eval().requires_grad_(False)
    return LoadedGenerator(generator, meta)


def read_meta(path: PathLike) -> Dict[str, Any]:
    """The meta `load` reports, without reading the tensors where the format allows it (StyleCam's own files
    and training snapshots: meta_only.py), else by loading the file; for listings of many files. Every problem
    raises WeightsFormatError naming the file, as `load` does."""
    meta = meta_without_tensors(path)
    return meta if meta is not None else load(path).meta


def load_discriminator(path: PathLike) -> Optional[torch.nn.Module]:
    """The discriminator a weights file carries (for fine-tuning), in eval mode on the CPU, or None.

    NVIDIA pickles keep it under 'D', rosinality training checkpoints under 'd'; generator-only files
    (NVIDIA pickles without a 'D', StyleCam weights files) give None. It is read and checked as
    generators are (discriminators.py): every problem raises WeightsFormatError naming the file.
    """
    path = Path(path)
    container = detect_container(path)
    if container == "pickle":
        snapshot = read_snapshot(path)
        if snapshot.get("D") is None:
            return None
        return discriminator_from_record(snapshot_network(snapshot, "D", path, kind="discriminator"), path)
    content = _read_torch_file(path, container)
    state_dict = content.get("d") if isinstance(content, Mapping) else None
    return discriminator_from_rosinality(state_dict, path) if state_dict is not None else None


def convert(src: PathLike, dst: PathLike) -> Dict[str, Any]:
    """Load `src` (any supported format) and write it to `dst` in StyleCam's format; returns dst's meta."""
    source = load(src)
    carried = {key: source.meta[key] for key in ("w_avg", "ignored_kwargs") if key in source.meta}
    save(source.generator, dst, {
        "source_format": source.meta.get("source_format", source.meta["format"]),
        "source_file": source.meta.get("source_file", Path(source.meta["path"]).name),
        **carried,
    })
    return load(dst).meta


def detect_container(path: PathLike) -> str:
    """'torch-zip', 'torch-legacy' or 'pickle', from the file's first bytes; else WeightsFormatError."""
    try:
        with open(path, "rb") as file:
            head = file.read(HEAD_BYTES)
    except OSError as error:
        raise WeightsFormatError(path, f"cannot be read: {error}") from error
    if not head:
        raise WeightsFormatError(path, "is empty")
    if head.startswith(ZIP_MAGIC):
        return "torch-zip"
    if head[0] == PICKLE_PROTO and LEGACY_TORCH_MAGIC in head[:32]:
        return "torch-legacy"
    if head[0] == PICKLE_PROTO and len(head) > 1 and 2 <= head[1] <= pickle.HIGHEST_PROTOCOL:
        return "pickle"
    raise WeightsFormatError(path, f"is not a StyleGAN2 weights file: {_describe_unknown(head)}")


def _describe_unknown(head: bytes) -> str:
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml")):
        return "it is a web page or XML document (a failed download?)"
    if text.startswith(b"version https://git-lfs"):
        return "it is a Git LFS pointer, not the file it points to"
    if head.startswith(b"PK"):
        return "it is a damaged or unusual zip archive"
    return f"neither a PyTorch file nor a pickle (it starts with {head[:8]!r})"


def read_torch_file(path: PathLike) -> Any:
    """A torch.save file's content read as `load` reads one (sizes and pickle checked first, tensors after),
    for the other files of tensors a StyleCam writes (training snapshots); WeightsFormatError otherwise."""
    path = Path(path)
    container = detect_container(path)
    if container == "pickle":
        raise WeightsFormatError(path, "is a pickle, not a PyTorch file")
    return _read_torch_file(path, container)


def _read_torch_file(path: Path, container: str) -> Any:
    """torch.load with weights_only=True (tensors and plain containers only, never code), after checking
    the file's declared sizes and pickle (torch_files.py), and its tensors after."""
    if container == "torch-zip":
        check_torch_zip(path)
    else:
        check_torch_legacy(path)
    try:
        content = load_tensors(path, TORCH_FILE_SAFE_GLOBALS)
    except pickle.UnpicklingError as error:
        if "weights only" in str(error).lower():
            reason = describe_unpickling_refusal(error)
            raise WeightsFormatError(path, f"refused to load: {reason}; nothing from the file was run") from None
        raise WeightsFormatError(path, f"is damaged or truncated: {error}") from None
    except Exception as error:  # torch raises RuntimeError, EOFError, ... for damaged archives.
        first_sentence = describe_unpickling_refusal(error).split(". ")[0]
        raise WeightsFormatError(path, f"is a damaged or truncated PyTorch file: {first_sentence}") from None
    check_loaded_tensors(content, path)
    return content
