"""File helpers the engine shares: the sha256 that identifies a weights or network file, and reading a
``torch.save`` file of tensors and plain data without running anything in it (`load_tensors`)."""
from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import pickle
from pathlib import Path
from types import SimpleNamespace
from typing import Any, BinaryIO, Sequence, Union

import torch
import torch._weights_only_unpickler as weights_only_unpickler
from torch import serialization

CHUNK_BYTES = 1 << 20


def file_sha256(path: Union[str, Path]) -> str:
    """The hex sha256 of a file's bytes, read in chunks (model files are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_tensors(file: Union[str, Path, BinaryIO], extra_globals: Sequence[type] = ()) -> Any:
    """``torch.load`` of tensors and plain data only, never code, in every torch StyleCam supports.

    Where torch's own ``weights_only=True`` can read it all, torch does. Older releases cannot: torch 1.13's
    weights-only unpickler fails on a float, 2.x releases up to at least 2.2 (JetPack 6's) on the bytes that
    protocol 2 pickles through ``_codecs.encode``, and before 2.5 no other class can be allowed for one load.
    There an unpickler that allows the same globals, that codec and ``extra_globals`` reads the file.
    ``extra_globals`` are classes the file may also hold (a rosinality checkpoint's argparse.Namespace). A
    refusal is a ``pickle.UnpicklingError`` naming the global the file asked for ("GLOBAL module.name").
    """
    if WEIGHTS_ONLY_READS_PLAIN_DATA and (not extra_globals or hasattr(torch.serialization, "safe_globals")):
        with _safe_globals(extra_globals):
            return torch.load(file, map_location="cpu", weights_only=True)
    # torch 1.x's torch.load replaces any pickle_module by pickle itself unless weights_only is set, so the
    # restricted unpickler goes to the loaders torch.load would call (private; only the releases named above,
    # which change no more, come here).
    module = _restricted_pickle(extra_globals)
    with serialization._open_file_like(file, "rb") as opened:
        if serialization._is_zipfile(opened):
            with serialization._open_zipfile_reader(opened) as archive:
                return serialization._load(archive, "cpu", module, encoding="utf-8")
        return serialization._legacy_load(opened, "cpu", module, encoding="utf-8")


def _weights_only_reads_plain_data() -> bool:
    """Whether this torch's ``weights_only=True`` reads floats and bytes."""
    plain = {"float": 0.5, "bytes": b"\x00\xff"}
    buffer = io.BytesIO()
    torch.save(plain, buffer)
    buffer.seek(0)
    try:
        return torch.load(buffer, weights_only=True) == plain
    except pickle.UnpicklingError:
        return False


WEIGHTS_ONLY_READS_PLAIN_DATA = _weights_only_reads_plain_data()


def _safe_globals(extra_globals: Sequence[type]) -> contextlib.AbstractContextManager:
    """Allow ``extra_globals`` for one weights_only load (torch >= 2.5)."""
    if extra_globals and hasattr(torch.serialization, "safe_globals"):
        return torch.serialization.safe_globals(list(extra_globals))
    return contextlib.nullcontext()


def _restricted_pickle(extra_globals: Sequence[type]) -> SimpleNamespace:
    """A pickle module for torch.load whose unpickler finds only torch's weights-only globals (tensors,
    storages, dtypes, OrderedDict), the bytes codec of protocol 2 and ``extra_globals``."""
    allowed = dict(weights_only_unpickler._get_allowed_globals())
    allowed["_codecs.encode"] = codecs.encode
    allowed.update({f"{cls.__module__}.{cls.__qualname__}": cls for cls in extra_globals})

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            found = allowed.get(f"{module}.{name}")
            if found is None:
                raise pickle.UnpicklingError(f"Weights only load failed: GLOBAL {module}.{name} is not allowed")
            return found

    return SimpleNamespace(Unpickler=Unpickler, load=lambda file, **kwargs: Unpickler(file, **kwargs).load(),
                           __name__="stylecam_restricted_pickle")
