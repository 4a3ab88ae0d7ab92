"""Hostile files crafted to crash, exhaust or hang the loader end in a one-line WeightsFormatError instead.

Every file here is small; each attacks one opcode, global or size the readers accept (NVIDIA pickles,
torch.save zips as rosinality and StyleCam write them, legacy torch.save files). They are loaded in a
forked child (isolated_loading.py) with its address space limited, so a regression shows up as a
failed test ("signal SIGSEGV", "timeout", "raised MemoryError", too much memory), not as a dead pytest.
"""
import re
import zipfile
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import pytest
import torch

import stylegan2
from stylegan2 import stylegan3
from stylegan2.testing import make_random_generator
from tests.stylegan2 import hostile_files as hostile
from tests.stylegan2.hostile_files import Ops
from tests.stylegan2.weight_files import state_dict_of, write_nvlabs_pickle, write_stylegan3_pickle

EXTRA_MB = 100      # resident memory a refused file may cost beyond the loader's own


class Attack(NamedTuple):
    build: Callable[[Path], Path]   # writes the hostile file into a folder, returns its path
    reason: str                     # regex the refusal must match


def raw(data_of: Callable[[], bytes]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / "hostile.pkl"
        path.write_bytes(data_of())
        return path
    return build


def generator_snapshot(**kwargs_overrides: Callable[[Ops], bytes]) -> Callable[[Path], Path]:
    """An NVIDIA snapshot whose G_ema settings have hostile values (each built by a function of Ops)."""
    def data() -> bytes:
        ops = Ops()
        overrides = {key: make(ops) for key, make in kwargs_overrides.items()}
        return hostile.snapshot(hostile.generator_record(ops, hostile.generator_kwargs(ops, **overrides)))
    return raw(data)


def stylegan3_snapshot(**kwargs_overrides: Callable[[Ops], bytes]) -> Callable[[Path], Path]:
    """An NVIDIA StyleGAN3 snapshot whose G_ema settings have hostile values (each built by a function of Ops)."""
    def data() -> bytes:
        ops = Ops()
        overrides = {key: make(ops) for key, make in kwargs_overrides.items()}
        return hostile.snapshot(hostile.stylegan3_generator_record(ops, hostile.stylegan3_kwargs(ops, **overrides)))
    return raw(data)


def stylegan3_input_size(size: Callable[[], bytes]) -> Callable[[Path], Path]:
    """An NVIDIA StyleGAN3 snapshot whose Fourier input's `size` (a NumPy array in NVIDIA's files) is hostile."""
    def data() -> bytes:
        ops = Ops()
        return hostile.snapshot(hostile.stylegan3_generator_record(ops, hostile.stylegan3_kwargs(ops), size=size()))
    return raw(data)


def generator_with_tensor(tensor: Callable[[Ops], bytes]) -> Callable[[Path], Path]:
    def data() -> bytes:
        ops = Ops()
        parameters = ops.call(ops.glob("collections", "OrderedDict")) + b"(" + ops.text("weight") + tensor(ops) + b"u"
        return hostile.snapshot(hostile.generator_record(ops, hostile.generator_kwargs(ops), _parameters=parameters))
    return raw(data)


def tensor_resized_by_its_state(ops: Ops) -> bytes:
    """A small tensor, then BUILD with (storage, 0, size, stride): Tensor.__setstate__ calls set_() with it."""
    archive = hostile.legacy_storage_archive(1, bytes(4))
    put, slot = ops.put()
    storage = ops.call(ops.glob("torch.storage", "_load_from_bytes"), ops.bytes(archive)) + put
    tensor = ops.call(ops.glob("torch._utils", "_rebuild_tensor_v2"), storage, ops.int(0), ops.tuple(ops.int(1)),
                      ops.tuple(ops.int(1)), b"\x89", ops.call(ops.glob("collections", "OrderedDict")))
    state = ops.tuple(ops.get(slot), ops.int(0), ops.tuple(ops.int(2 ** 20), ops.int(2 ** 20)),
                      ops.tuple(ops.int(0), ops.int(0)))
    return tensor + state + b"b"


def shared_submodules(levels: int, width: int) -> bytes:
    """G_ema whose every module holds the module below `width` times: a tree walk visits width**levels."""
    ops = Ops()
    network = ops.record("Leaf", _modules=ops.sdict())
    for _ in range(levels):
        put, slot = ops.put()
        children = {f"child{index}": ops.get(slot) for index in range(width)}
        network += put + b"0" + ops.record("Network", _modules=ops.sdict(**children))
    return hostile.snapshot(network)


def torch_zip_of(data_pkl: Callable[[], bytes], **records: bytes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        return hostile.torch_zip(folder / "checkpoint.pt", data_pkl(), records)
    return build


def zip_record_declaring(size: int, compression: int) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        ops = Ops()
        data_pkl = hostile.pickle_file(ops.sdict(x=hostile.tensor_ops(ops, "0", 4, (4,), (1,))))
        path = hostile.torch_zip(folder / "checkpoint.pt", data_pkl, {"0": bytes(16)}, compression)
        hostile.declare_zip_sizes(path, "archive/data/0", size)
        return path
    return build


def central_directory_declaring(size: int) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = hostile.saved_torch_file(folder / "checkpoint.pt", {"x": torch.zeros(4)})
        hostile.declare_central_directory_size(path, size)
        return path
    return build


def duplicate_zip_records(folder: Path) -> Path:
    ops = Ops()
    data_pkl = hostile.pickle_file(ops.sdict(x=hostile.tensor_ops(ops, "0", 4, (4,), (1,))))
    path = folder / "checkpoint.pt"
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/data/0", bytes(16))
        archive.writestr("archive/data/0", bytes(2 ** 16))
    return path


def native_file(meta: Optional[Callable[[], dict]] = None, **settings) -> Callable[[Path], Path]:
    """A StyleCam file holding a real 16 px generator's tensors, with its settings replaced by `settings`."""
    def build(folder: Path) -> Path:
        generator = make_random_generator(resolution=16, seed=0)
        init_kwargs = dict(generator.init_kwargs, **settings)
        content = {"format": "stylecam-stylegan2", "version": 1, "init_kwargs": init_kwargs,
                   "state_dict": state_dict_of(generator), "meta": meta() if meta else {}}
        return hostile.saved_torch_file(folder / "model.pt", content)
    return build


STYLEGAN3_SMALL = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
                       mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=16, num_layers=4)


def native_stylegan3_file(**settings) -> Callable[[Path], Path]:
    """A StyleCam file holding a real small StyleGAN3 generator's tensors, with its settings replaced by `settings`."""
    def build(folder: Path) -> Path:
        torch.manual_seed(0)
        generator = stylegan3.Generator(**STYLEGAN3_SMALL)
        content = {"format": "stylecam-stylegan2", "version": 2, "architecture": "stylegan3",
                   "init_kwargs": dict(generator.init_kwargs, **settings), "state_dict": state_dict_of(generator),
                   "meta": {}}
        return hostile.saved_torch_file(folder / "model.pt", content)
    return build


def shared_lists(levels: int, width: int = 8) -> list:
    """A list holding the same list `width` times, `levels` deep: pickled small, copied width**levels times."""
    shared: list = [0.5]
    for _ in range(levels):
        shared = [shared] * width
    return shared


def rosinality_with(**tensors: torch.Tensor) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        g_ema = {"input.input": torch.zeros(1, 8, 4, 4), "style.1.weight": torch.zeros(8, 8),
                 "to_rgb1.conv.weight": torch.zeros(1, 3, 8, 1, 1), **tensors}
        return hostile.saved_torch_file(folder / "checkpoint.pt", {"g_ema": g_ema})
    return build


def rosinality_blocks(count: int) -> Callable[[Path], Path]:
    """A rosinality checkpoint with `count` upsampling blocks: a 2**(count + 2) px generator."""
    tiny = torch.zeros(1, 1, 1, 1, 1)
    blocks = {f"to_rgbs.{block}.conv.weight": tiny for block in range(count)}
    blocks.update({f"convs.{2 * block}.conv.weight": tiny for block in range(count)})
    return rosinality_with(**blocks)


def legacy_file(data_of: Callable[[], bytes]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / "legacy.pt"
        path.write_bytes(data_of())
        return path
    return build


BILLION = 60
DEEP = 1_000_000
ATTACKS = {
    # NVIDIA pickles: NumPy globals.
    "nvidia-dtype-with-hidden-object-field": Attack(generator_snapshot(z_dim=lambda ops: hostile.numpy_scalar(
        "V8", hostile.fields_dtype_state(hostile.numpy_dtype("O8")), b"A" * 8)), r"NumPy dtype is 'V8'"),
    "nvidia-dtype-state-with-fields": Attack(generator_snapshot(z_dim=lambda ops: hostile.numpy_scalar(
        "f8", hostile.fields_dtype_state(ops.text("x")), b"A" * 8)), r"dtype's state declares fields"),
    "nvidia-dtype-of-objects": Attack(generator_snapshot(z_dim=lambda ops: hostile.numpy_scalar(
        "O8", hostile.plain_dtype_state("|"), b"A" * 8)), r"NumPy dtype is 'O8'"),
    "nvidia-scalar-with-wrong-byte-count": Attack(generator_snapshot(z_dim=lambda ops: hostile.numpy_scalar(
        "f8", hostile.plain_dtype_state(), b"A" * 3)), r"not a plain number stored in its own bytes"),
    "nvidia-array-of-objects": Attack(raw(lambda: hostile.pickle_file(hostile.numpy_array("O8", (2,), b""))),
                                      r"NumPy dtype is 'O8'"),
    "nvidia-array-of-2**40-elements": Attack(raw(lambda: hostile.pickle_file(
        hostile.numpy_array("i8", (2 ** 40,), bytes(16)))), r"has 1099511627776 elements"),
    "nvidia-array-shorter-than-its-shape": Attack(raw(lambda: hostile.pickle_file(
        hostile.numpy_array("i8", (2,), bytes(8)))), r"not exactly the bytes its shape needs"),
    "nvidia-ndarray-called-directly": Attack(raw(lambda: hostile.pickle_file(Ops.call(
        Ops.glob("numpy", "ndarray"), Ops.tuple(Ops.int(2 ** 40))))), r"calls numpy.ndarray itself"),
    # NVIDIA pickles: nesting, memo, declared sizes, hashing.
    "nvidia-deep-tuple-as-dict-key": Attack(raw(lambda: hostile.pickle_file(
        b"}" + hostile.deep_tuple(DEEP) + b"Ns")), r"nests its data too deeply"),
    "nvidia-deep-tuple-in-a-set": Attack(raw(lambda: hostile.pickle_file(Ops.call(
        Ops.glob("builtins", "set"), Ops.list(hostile.deep_tuple(DEEP))))), r"nests its data too deeply"),
    "nvidia-deep-lists": Attack(raw(lambda: hostile.pickle_file(hostile.deep_lists(10_000))),
                                r"nests its data too deeply"),
    "nvidia-deep-marks": Attack(raw(lambda: hostile.pickle_file(hostile.deep_marks(DEEP))),
                                r"nests its data too deeply"),
    "nvidia-memo-index-2**32": Attack(raw(lambda: b"\x80\x02Nr\xff\xff\xff\xff."), r"memo entry 4294967295"),
    "nvidia-memo-read-never-stored": Attack(raw(lambda: b"\x80\x02j\xff\xff\xff\x00."), r"never stored"),
    "nvidia-bytes-declaring-4-gb": Attack(raw(lambda: b"\x80\x03B\xf0\xff\xff\xff."),
                                          r"declares 4294967280 bytes but only 1 remain"),
    "nvidia-frame-declaring-1-tb": Attack(raw(lambda: b"\x80\x04\x95" + (2 ** 40).to_bytes(8, "little") + b"N."),
                                          r"declares 1099511627776 bytes"),
    "nvidia-shared-tuples-as-dict-key": Attack(raw(lambda: hostile.pickle_file(
        b"}" + hostile.shared_tuples(Ops(), BILLION) + b"Ns")), r"hashing it would take too long"),
    "nvidia-shared-lists-as-settings": Attack(generator_snapshot(
        z_dim=lambda ops: hostile.shared_lists(ops, 4, width=100)), r"part of more than 10000 values"),
    "nvidia-colliding-integer-keys": Attack(raw(lambda: hostile.pickle_file(hostile.colliding_int_keys(30_000))),
                                            r"hashing its keys would take too long"),
    "nvidia-600000-objects": Attack(raw(lambda: hostile.pickle_file(hostile.many_empty_lists(600_000))),
                                    r"more than 500000 pickle opcodes"),
    "nvidia-integer-of-a-megabyte": Attack(generator_snapshot(
        z_dim=lambda ops: b"\x8b" + (2 ** 20).to_bytes(4, "little") + b"\x01" * 2 ** 20), r"an integer .* bytes"),
    "nvidia-extension-opcode": Attack(raw(lambda: b"\x80\x02\x82\x01."), r"opcode b'\\x82'"),
    "nvidia-shared-submodules": Attack(raw(lambda: shared_submodules(10, width=10)), r"appears twice"),
    # NVIDIA pickles: tensors and their nested legacy archives.
    "nvidia-tensor-repeating-one-number-2**40-times": Attack(generator_with_tensor(
        lambda ops: hostile.storage_tensor(ops, hostile.legacy_storage_archive(1, bytes(4)), (2 ** 20, 2 ** 20),
                                           (0, 0))), r"claims 1099511627776 elements but stores 1"),
    "nvidia-tensor-resized-by-its-pickled-state": Attack(generator_with_tensor(tensor_resized_by_its_state),
                                                         r"changes what 'torch._utils._rebuild_tensor_v2' rebuilt"),
    "nvidia-tensor-whose-size-overflows-int64": Attack(generator_with_tensor(
        lambda ops: hostile.storage_tensor(ops, hostile.legacy_storage_archive(1, bytes(4)), (2 ** 62, 4), (1, 0))),
        r"declares 18446744073709551616 elements"),
    "nvidia-storage-archive-allocating-2-gb": Attack(generator_with_tensor(
        lambda ops: hostile.storage_tensor(ops, hostile.legacy_archive(
            Ops.call(Ops.glob("builtins", "bytearray"), Ops.int(2 ** 31))), (1,), (1,))),
        r"asks for 'builtins.bytearray'"),
    "nvidia-storage-declaring-2**40-elements": Attack(generator_with_tensor(
        lambda ops: hostile.storage_tensor(ops, hostile.legacy_storage_archive(2 ** 40, bytes(4), 1), (1,), (1,))),
        r"stores 1 elements but its pickle declares 1099511627776"),
    "nvidia-storage-never-stored": Attack(generator_with_tensor(
        lambda ops: hostile.storage_tensor(ops, hostile.legacy_storage_archive(2 ** 33, b"", 0, keys=()), (1,),
                                           (1,))), r"does not match the storages its pickle uses"),
    # NVIDIA pickles: settings that would build a huge network.
    "nvidia-w-dim-2**20": Attack(generator_snapshot(w_dim=lambda ops: ops.int(2 ** 20)),
                                 r"w_dim should be an integer from 1 to 4096, not 1048576"),
    "nvidia-1000-mapping-layers-of-8192": Attack(generator_snapshot(mapping_kwargs=lambda ops: ops.sdict(
        num_layers=ops.int(1000), layer_features=ops.int(8192))), r"num_layers should be an integer from 1 to 32"),
    "nvidia-resolution-32768": Attack(generator_snapshot(img_resolution=lambda ops: ops.int(32768)),
                                      r"img_resolution should be a power of two from 4 to 2048"),
    "nvidia-resolution-2**40": Attack(generator_snapshot(img_resolution=lambda ops: ops.int(2 ** 40)),
                                      r"img_resolution should be a power of two from 4 to 2048"),
    "nvidia-settings-far-bigger-than-its-weights": Attack(generator_snapshot(
        img_resolution=lambda ops: ops.int(1024), synthesis_kwargs=lambda ops: ops.sdict(
            channel_base=ops.int(2 ** 22), channel_max=ops.int(4096))),
        r"describe a generator of \d+ numbers, but it stores only 0"),
    # NVIDIA StyleGAN3 pickles: settings that would build a huge or broken network, unknown settings.
    "nvidia-stylegan3-resolution-2**40": Attack(stylegan3_snapshot(img_resolution=lambda ops: ops.int(2 ** 40)),
                                                r"img_resolution should be a power of two from 4 to 2048"),
    "nvidia-stylegan3-10000-layers": Attack(stylegan3_snapshot(num_layers=lambda ops: ops.int(10_000)),
                                            r"num_layers should be an integer from 1 to 32, not 10000"),
    "nvidia-stylegan3-as-many-critical-layers-as-layers": Attack(stylegan3_snapshot(
        num_layers=lambda ops: ops.int(4), num_critical=lambda ops: ops.int(4)), r"num_layers \(4\) must exceed"),
    "nvidia-stylegan3-infinite-cutoff": Attack(stylegan3_snapshot(first_cutoff=lambda ops: ops.float(float("inf"))),
                                               r"first_cutoff should be a number from 0.5 to 1024, not inf"),
    "nvidia-stylegan3-nan-stopband": Attack(stylegan3_snapshot(first_stopband=lambda ops: ops.float(float("nan"))),
                                            r"first_stopband should be a number from 1 to 2048, not nan"),
    "nvidia-stylegan3-filter-of-a-million-taps": Attack(stylegan3_snapshot(filter_size=lambda ops: ops.int(10 ** 6)),
                                                        r"filter_size should be an integer from 1 to 16"),
    "nvidia-stylegan3-margin-of-2**40-pixels": Attack(stylegan3_snapshot(margin_size=lambda ops: ops.int(2 ** 40)),
                                                      r"margin_size should be an integer from 0 to 256"),
    "nvidia-stylegan3-settings-far-bigger-than-its-weights": Attack(stylegan3_snapshot(
        img_resolution=lambda ops: ops.int(1024), channel_base=lambda ops: ops.int(2 ** 22),
        channel_max=lambda ops: ops.int(4096), num_layers=lambda ops: ops.int(32)),
        r"describe a generator of \d+ numbers, but it stores only 0"),
    "nvidia-stylegan3-unknown-settings": Attack(stylegan3_snapshot(
        use_noise=lambda ops: b"\x88", backdoor=lambda ops: ops.text("x" * 4000)),
        r"StyleGAN3 does not have: backdoor='x{10,80}\.\.\., use_noise=True$"),
    "nvidia-stylegan3-unknown-mapping-setting": Attack(stylegan3_snapshot(mapping_kwargs=lambda ops: ops.sdict(
        num_layers=ops.int(2), layer_features=ops.int(8192))), r"does not have: mapping_kwargs.layer_features=8192"),
    "nvidia-stylegan3-setting-named-by-a-long-text": Attack(stylegan3_snapshot(**{"x" * 5000: lambda ops: ops.int(1)}),
                                                            r"constructor argument not named by a short string"),
    "nvidia-stylegan3-shared-lists-as-settings": Attack(stylegan3_snapshot(
        first_cutoff=lambda ops: hostile.shared_lists(ops, 4, width=100)), r"part of more than 10000 values"),
    # NVIDIA StyleGAN3 pickles: NumPy arrays (the layout attributes) claiming huge sizes.
    "nvidia-stylegan3-array-of-2**40-elements": Attack(stylegan3_input_size(lambda: hostile.numpy_array(
        "i8", (2 ** 40,), bytes(16))), r"a NumPy array has 1099511627776 elements"),
    "nvidia-stylegan3-array-whose-shape-overflows-int64": Attack(stylegan3_input_size(lambda: hostile.numpy_array(
        "i8", (2 ** 32, 2 ** 32), bytes(16))), r"a NumPy array has 18446744073709551616 elements"),
    "nvidia-stylegan3-numpy-1-array-of-2**40-elements": Attack(stylegan3_input_size(lambda: hostile.numpy_array(
        "i8", (2 ** 40,), bytes(16), core="core")), r"a NumPy array has 1099511627776 elements"),
    "nvidia-stylegan3-protocol-5-array-of-2**40-elements": Attack(stylegan3_input_size(
        lambda: hostile.numpy_array_from_buffer("i8", (2 ** 40,), bytes(16))), r"a NumPy array has 1099511627776"),
    "nvidia-stylegan3-array-of-objects": Attack(stylegan3_input_size(lambda: hostile.numpy_array("O8", (2,), b"")),
                                                r"NumPy dtype is 'O8'"),
    # torch.save zip archives (rosinality checkpoints, StyleCam files).
    "zip-deep-tuple-as-dict-key": Attack(torch_zip_of(lambda: hostile.pickle_file(
        b"}" + hostile.deep_tuple(DEEP) + b"Ns")), r"nests its data too deeply"),
    "zip-shared-tuples-as-dict-key": Attack(torch_zip_of(lambda: hostile.pickle_file(
        b"}" + hostile.shared_tuples(Ops(), BILLION) + b"Ns")), r"hashing it would take too long"),
    "zip-colliding-integer-keys": Attack(torch_zip_of(lambda: hostile.pickle_file(
        hostile.colliding_int_keys(30_000))), r"hashing its keys would take too long"),
    "zip-memo-index-2**32": Attack(torch_zip_of(lambda: b"\x80\x02Nr\xff\xff\xff\xff."), r"memo entry 4294967295"),
    "zip-deflated-record-of-1-gb": Attack(zip_record_declaring(2 ** 30, zipfile.ZIP_DEFLATED),
                                          r"would inflate to more than"),
    "zip-stored-record-declaring-1-gb": Attack(zip_record_declaring(2 ** 30, zipfile.ZIP_STORED),
                                               r"damaged or truncated zip archive.*two different sizes"),
    "zip-storage-longer-than-its-record": Attack(torch_zip_of(lambda: hostile.pickle_file(Ops().sdict(
        x=hostile.tensor_ops(Ops(), "0", 2 ** 20, (2 ** 20,), (1,)))), **{"0": bytes(16)}),
        r"declares 4194304 bytes but its record holds 16"),
    "zip-tensor-repeating-one-number-2**40-times": Attack(torch_zip_of(lambda: hostile.pickle_file(Ops().sdict(
        x=hostile.tensor_ops(Ops(), "0", 1, (2 ** 20, 2 ** 20), (0, 0)))), **{"0": bytes(4)}),
        r"claims 1099511627776 elements but stores 1"),
    "zip-bytearray-of-2-gb": Attack(torch_zip_of(lambda: hostile.pickle_file(Ops().sdict(x=Ops.call(
        Ops.glob("builtins", "bytearray"), Ops.int(2 ** 31))))), r"asks for 'builtins.bytearray'"),
    "zip-uninitialized-tensor-of-2-gb": Attack(torch_zip_of(lambda: hostile.pickle_file(Ops().sdict(x=Ops.call(
        Ops.glob("torch", "Tensor"), Ops.int(2 ** 29))))), r"asks for 'torch.Tensor'"),
    "zip-storage-class-called": Attack(torch_zip_of(lambda: hostile.pickle_file(Ops().sdict(x=Ops.call(
        Ops.glob("torch", "FloatStorage"), Ops.int(2 ** 33))))), r"calls the storage class 'torch.FloatStorage'"),
    "zip-tensor-whose-size-overflows-int64": Attack(torch_zip_of(lambda: hostile.pickle_file(Ops().sdict(
        x=hostile.tensor_ops(Ops(), "0", 1, (2 ** 62, 4), (1, 0)))), **{"0": bytes(4)}),
        r"declares 18446744073709551616 elements"),
    "zip-tensor-resized-by-its-pickled-state": Attack(torch_zip_of(lambda: hostile.pickle_file(Ops().sdict(
        x=hostile.tensor_ops(Ops(), "0", 1, (1,), (1,)) + Ops.tuple(Ops.int(0)) + b"b")), **{"0": bytes(4)}),
        r"changes what 'torch._utils._rebuild_tensor_v2' rebuilt"),
    "zip-index-declaring-2-gb": Attack(central_directory_declaring(2 ** 31), r"damaged|zip index declares"),
    "zip-duplicate-record-names": Attack(duplicate_zip_records, r"two records named 'archive/data/0'"),
    "native-meta-of-shared-lists": Attack(native_file(meta=lambda: {"w_avg": shared_lists(4, width=100)}),
                                          r"'meta'\['w_avg'\]\[0\].* is part of more than 10000 values"),
    "native-w-dim-2**20": Attack(native_file(w_dim=2 ** 20), r"w_dim should be an integer from 1 to 4096"),
    "native-1000-mapping-layers-of-8192": Attack(native_file(mapping_kwargs=dict(num_layers=1000,
                                                                                 layer_features=8192)),
                                                 r"num_layers should be an integer from 1 to 32"),
    "native-resolution-32768": Attack(native_file(img_resolution=32768), r"img_resolution should be a power of two"),
    "native-settings-far-bigger-than-its-weights": Attack(native_file(
        img_resolution=1024, synthesis_kwargs=dict(channel_base=2 ** 22, channel_max=4096)),
        r"describe a generator of \d+ numbers, but it stores only \d+"),
    # The worst case left: settings describing 7.5M numbers more than the file stores (within the 8M slack
    # that lets a file missing a few tensors be told which) build that network before the tensors are compared.
    "native-settings-just-under-the-size-slack": Attack(native_file(
        z_dim=256, w_dim=256, img_resolution=256, mapping_kwargs=dict(num_layers=8),
        synthesis_kwargs=dict(channel_base=16384, channel_max=256)), r"\d+ tensors missing"),
    "native-stylegan3-resolution-2**40": Attack(native_stylegan3_file(img_resolution=2 ** 40),
                                                r"img_resolution should be a power of two from 4 to 2048"),
    "native-stylegan3-unknown-setting": Attack(native_stylegan3_file(use_noise=True),
                                               r"has an unknown setting 'use_noise'"),
    "native-stylegan3-infinite-output-scale": Attack(native_stylegan3_file(output_scale=float("inf")),
                                                     r"output_scale should be a number from 0 to 1000, not inf"),
    "native-stylegan3-settings-far-bigger-than-its-weights": Attack(native_stylegan3_file(
        img_resolution=1024, channel_base=2 ** 22, channel_max=4096, num_layers=32),
        r"describe a generator of \d+ numbers, but it stores only \d+"),
    "rosinality-style-weights-repeating-one-number": Attack(rosinality_with(**{
        "style.1.weight": torch.zeros(1).expand(2 ** 16, 2 ** 16)}), r"claims 4294967296 elements but stores 1"),
    "rosinality-1000-upsampling-blocks": Attack(rosinality_blocks(1000),
                                                r"img_resolution should be a power of two from 4 to 2048"),
    # Legacy torch.save files.
    "legacy-storage-declaring-2**40-elements": Attack(legacy_file(lambda: hostile.legacy_storage_archive(
        2 ** 40, bytes(4), 1)), r"stores 1 elements but its pickle declares 1099511627776"),
    "legacy-deep-tuple-as-dict-key": Attack(legacy_file(lambda: hostile.legacy_archive(
        b"}" + hostile.deep_tuple(DEEP) + b"Ns")), r"nests its data too deeply"),
}


@pytest.mark.parametrize("name", ATTACKS)
def test_hostile_file_is_refused_in_one_line_without_crash_hang_or_memory_blowup(name, isolated, tmp_path):
    attack = ATTACKS[name]
    path = attack.build(tmp_path)
    outcome = isolated.load(path)
    assert outcome.kind == "refused", outcome.describe()
    assert re.search(attack.reason, outcome.detail), outcome.describe()
    assert outcome.detail.startswith(f"{path}: ") and "\n" not in outcome.detail
    assert outcome.extra_mb < EXTRA_MB, outcome.describe()


def test_rosinality_checkpoint_whose_mapping_repeats_one_number_is_refused(isolated, tmp_path, shared_file):
    """A real checkpoint with style.2 claiming 65536 outputs: inferring w_dim from it once built a 16 GB layer."""
    checkpoint = torch.load(shared_file("golden/rosinality_g64/ckpt.pt"), weights_only=True)
    g_ema = dict(checkpoint["g_ema"], **{"style.2.weight": torch.zeros(1).expand(2 ** 16, 32),
                                         "style.2.bias": torch.zeros(1).expand(2 ** 16)})
    path = hostile.saved_torch_file(tmp_path / "checkpoint.pt", {"g_ema": g_ema})
    outcome = isolated.load(path)
    assert outcome.kind == "refused" and "claims 65536 elements but stores 1" in outcome.detail, outcome.describe()
    assert outcome.extra_mb < EXTRA_MB, outcome.describe()


def test_real_files_load_in_the_isolated_loader(isolated, tmp_path, nvlabs_golden, shared_file):
    """The isolation itself refuses nothing: real files of every format load under the same limits."""
    meta, state_dict, _ = nvlabs_golden
    nvlabs = write_nvlabs_pickle(tmp_path / "nvlabs.pkl", meta["init_kwargs"], state_dict)
    rosinality = shared_file("golden/rosinality_g64/ckpt.pt")
    legacy = hostile.saved_torch_file(tmp_path / "legacy.pt", torch.load(rosinality, weights_only=True), legacy=True)
    for path in (nvlabs, rosinality, legacy):
        outcome = isolated.load(path)
        assert outcome.kind == "loaded", outcome.describe()


def test_real_stylegan3_files_load_in_the_isolated_loader(isolated, tmp_path, stylegan3_golden):
    """StyleGAN3 pickles (NumPy arrays and all) and the StyleCam files made from them load under the same limits."""
    meta, state_dict, _ = stylegan3_golden
    pickled = write_stylegan3_pickle(tmp_path / "sg3.pkl", meta, state_dict)
    converted = tmp_path / "sg3.pt"
    stylegan2.convert(pickled, converted)
    for path in (pickled, converted):
        outcome = isolated.load(path)
        assert outcome.kind == "loaded", outcome.describe()


def test_stylegan3_layout_attribute_of_shared_lists_is_refused(isolated, tmp_path, stylegan3_r_golden):
    """A layout attribute (compared after building) that shares one list 100 times at each of 4 levels."""
    meta, state_dict, _ = stylegan3_r_golden
    path = write_stylegan3_pickle(tmp_path / "sg3.pkl", meta, state_dict,
                                  edit=lambda g: setattr(g.synthesis.input, "size", shared_lists(4, width=100)))
    outcome = isolated.load(path)
    assert outcome.kind == "refused" and "part of more than 10000 values" in outcome.detail, outcome.describe()
    assert outcome.extra_mb < EXTRA_MB, outcome.describe()
