"""Hostile discriminators end in a one-line WeightsFormatError naming the file, without crash, hang or memory blow-up.

As test_loaders_bounded.py does for generators: each small file attacks one thing `load_discriminator`
accepts (an NVIDIA pickle's `D` record and its settings, a rosinality checkpoint's `d` and the shapes its
settings are inferred from), and is read in a forked child with its address space limited
(isolated_loading.py).
"""
import re
from pathlib import Path
from typing import Callable, NamedTuple

import pytest
import torch

from tests.stylegan2 import hostile_files as hostile
from tests.stylegan2.hostile_files import Ops
from tests.stylegan2.weight_files import rosinality_state_dict, write_nvlabs_pickle

EXTRA_MB = 100      # resident memory a refused file may cost beyond the loader's own


class Attack(NamedTuple):
    build: Callable[[Path], Path]   # writes the hostile file into a folder, returns its path
    reason: str                     # regex the refusal must match


def discriminator_kwargs(ops: Ops, **overrides: bytes) -> bytes:
    """Settings of a small discriminator (64 px, 64 channels at most), with `overrides` (already pickled)."""
    settings = dict(c_dim=ops.int(0), img_resolution=ops.int(64), img_channels=ops.int(3),
                    channel_base=ops.int(2048), channel_max=ops.int(64))
    settings.update(overrides)
    return ops.sdict(**settings)


def snapshot_with_d(record: Callable[[Ops], bytes]) -> Callable[[Path], Path]:
    """An NVIDIA snapshot holding only `D`, spelled by `record`."""
    def build(folder: Path) -> Path:
        path = folder / "network-snapshot.pkl"
        path.write_bytes(hostile.pickle_file(Ops.dict([(Ops.text("D"), record(Ops()))])))
        return path
    return build


def d_settings(**overrides: Callable[[Ops], bytes]) -> Callable[[Path], Path]:
    """A `D` whose settings have hostile values (each built by a function of Ops)."""
    def record(ops: Ops) -> bytes:
        kwargs = discriminator_kwargs(ops, **{key: make(ops) for key, make in overrides.items()})
        return ops.record("Discriminator", _init_args=Ops.tuple(), _init_kwargs=kwargs, _modules=ops.sdict())
    return snapshot_with_d(record)


def d_modules(**children: Callable[[Ops], bytes]) -> Callable[[Path], Path]:
    """A `D` with sound settings whose submodules are hostile (each built by a function of Ops)."""
    def record(ops: Ops) -> bytes:
        modules = ops.sdict(**{name: make(ops) for name, make in children.items()})
        return ops.record("Discriminator", _init_args=Ops.tuple(), _init_kwargs=discriminator_kwargs(ops),
                          _modules=modules)
    return snapshot_with_d(record)


def shared_blocks(levels: int, width: int) -> Callable[[Ops], bytes]:
    """Blocks each holding the block below `width` times: a tree walk would visit width**levels of them."""
    def build(ops: Ops) -> bytes:
        network = ops.record("Conv2dLayer", _modules=ops.sdict())
        for _ in range(levels):
            put, slot = ops.put()
            children = {f"b{index}": ops.get(slot) for index in range(width)}
            network += put + b"0" + ops.record("DiscriminatorBlock", _modules=ops.sdict(**children))
        return network
    return build


def d_containing_itself(ops: Ops) -> bytes:
    """A `D` whose `_modules` holds D itself: the dict is memoized, then D is added to it once it exists."""
    put_modules, modules = ops.put()
    record = ops.call(ops.glob(*hostile.PERSISTENCE), ops.sdict(
        type=ops.text("class"), version=ops.int(6), module_src=ops.text("# source"),
        class_name=ops.text("Discriminator"),
        state=ops.sdict(_init_args=Ops.tuple(), _init_kwargs=discriminator_kwargs(ops), _modules=b"}" + put_modules)))
    put_record, slot = ops.put()
    return record + put_record + ops.get(modules) + ops.text("b64") + ops.get(slot) + b"s0"


def d_with_tensor(tensor: Callable[[Ops], bytes]) -> Callable[[Path], Path]:
    def record(ops: Ops) -> bytes:
        parameters = ops.call(ops.glob("collections", "OrderedDict")) + b"(" + ops.text("weight") + tensor(ops) + b"u"
        return ops.record("Discriminator", _init_args=Ops.tuple(), _init_kwargs=discriminator_kwargs(ops),
                          _modules=ops.sdict(), _parameters=parameters)
    return snapshot_with_d(record)


def rosinality_d(**tensors: torch.Tensor) -> Callable[[Path], Path]:
    """A rosinality training checkpoint whose `d` is a real 16 px discriminator's, with `tensors` replaced or added."""
    def build(folder: Path) -> Path:
        return hostile.saved_torch_file(folder / "checkpoint.pt", {"d": dict(rosinality_state_dict(), **tensors)})
    return build


def rosinality_d_claiming_width(width: int, blocks: int) -> Callable[[Path], Path]:
    """A `d` of `blocks` residual blocks whose convolutions claim `width` outputs, every tensor a narrow view
    of one small storage: only a convolution's output count tells a width, and nothing else is stored."""
    def build(folder: Path) -> Path:
        storage = torch.zeros(width * 3)
        narrow = storage[:width].view(width, 1, 1, 1)
        d = {"convs.0.0.weight": storage.view(width, 3, 1, 1), "final_conv.0.weight": narrow}
        for block in range(1, blocks + 1):
            d.update({f"convs.{block}.conv1.0.weight": narrow, f"convs.{block}.conv2.1.weight": narrow})
        return hostile.saved_torch_file(folder / "checkpoint.pt", {"d": d})
    return build


def shared_lists(ops: Ops) -> bytes:
    return hostile.shared_lists(ops, 4, width=100)


ATTACKS = {
    # NVIDIA pickles: settings that would build a huge or unknown network.
    "nvidia-d-resolution-2**40": Attack(d_settings(img_resolution=lambda ops: ops.int(2 ** 40)),
                                        r"img_resolution should be a power of two from 8 to 2048"),
    "nvidia-d-width-2**20": Attack(d_settings(channel_max=lambda ops: ops.int(2 ** 20)),
                                   r"channel_max should be an integer from 1 to 4096, not 1048576"),
    "nvidia-d-labels-of-2**20": Attack(d_settings(c_dim=lambda ops: ops.int(2 ** 20)),
                                       r"c_dim should be an integer from 0 to 4096"),
    "nvidia-d-million-mbstd-channels": Attack(d_settings(epilogue_kwargs=lambda ops: ops.sdict(
        mbstd_num_channels=ops.int(10 ** 6))), r"mbstd_num_channels should be an integer from 0 to 64"),
    "nvidia-d-1000-label-mapping-layers": Attack(d_settings(c_dim=lambda ops: ops.int(4), mapping_kwargs=lambda ops: (
        ops.sdict(num_layers=ops.int(1000), layer_features=ops.int(4096)))), r"num_layers should be an integer"),
    "nvidia-d-settings-far-bigger-than-its-weights": Attack(d_settings(
        img_resolution=lambda ops: ops.int(2048), channel_base=lambda ops: ops.int(2 ** 23),
        channel_max=lambda ops: ops.int(4096)), r"describe a discriminator of \d+ numbers, but it stores only 0$"),
    "nvidia-d-unknown-setting": Attack(d_settings(backdoor=lambda ops: ops.text("x" * 4000)),
                                       r"cannot build: has an unknown setting 'backdoor'$"),
    "nvidia-d-unknown-block-setting": Attack(d_settings(block_kwargs=lambda ops: ops.sdict(use_fp16=b"\x88")),
                                             r"block_kwargs has an unknown setting 'use_fp16'"),
    "nvidia-d-setting-named-by-a-long-text": Attack(d_settings(**{"x" * 5000: lambda ops: ops.int(1)}),
                                                    r"constructor argument not named by a short string"),
    "nvidia-d-shared-lists-as-settings": Attack(d_settings(channel_base=shared_lists),
                                                r"part of more than 10000 values"),
    # NVIDIA pickles: records that are not a discriminator's tree of modules.
    "nvidia-d-shared-blocks": Attack(d_modules(b64=shared_blocks(10, width=10)), r"appears twice in 'D'"),
    "nvidia-d-containing-itself": Attack(snapshot_with_d(d_containing_itself), r"'D.b64' appears twice in 'D'"),
    "nvidia-d-foreign-module": Attack(d_modules(b64=lambda ops: ops.record("Backdoor", _modules=ops.sdict())),
                                      r"'D.b64' is a Backdoor, not part of NVIDIA's StyleGAN2 discriminator"),
    "nvidia-d-module-that-is-not-a-network": Attack(d_modules(b64=lambda ops: ops.text("b64")),
                                                    r"'D.b64' is not a pickled network"),
    "nvidia-d-that-is-a-list": Attack(snapshot_with_d(lambda ops: ops.list(ops.int(1))),
                                      r"'D' is a list, not a pickled network"),
    "nvidia-d-tensor-repeating-one-number-2**40-times": Attack(d_with_tensor(
        lambda ops: hostile.storage_tensor(ops, hostile.legacy_storage_archive(1, bytes(4)), (2 ** 20, 2 ** 20),
                                           (0, 0))), r"claims 1099511627776 elements but stores 1"),
    # rosinality checkpoints: shapes claiming what is not stored.
    "rosinality-d-widths-of-4096-sharing-one-small-storage": Attack(rosinality_d_claiming_width(4096, blocks=9),
        r"describe a discriminator of \d+ numbers, but it stores only 12288$"),
    "rosinality-d-widths-of-2**16": Attack(rosinality_d_claiming_width(2 ** 16, blocks=2),
                                           r"channel_max should be an integer from 1 to 4096, not 65536"),
    "rosinality-d-1000-blocks": Attack(rosinality_d_claiming_width(4, blocks=1000),
                                       r"img_resolution should be a power of two from 8 to 2048"),
    "rosinality-d-weights-repeating-one-number": Attack(rosinality_d(**{
        "convs.1.conv1.0.weight": torch.zeros(1).expand(4096, 4096, 3, 3)}),
        r"claims 150994944 elements but stores 1"),
    "rosinality-d-convolution-of-no-dimensions": Attack(rosinality_d(**{"convs.0.0.weight": torch.tensor(1.0)}),
                                                        r"'convs.0.0.weight' has shape \[\], not that of a convolution"),
    "rosinality-d-that-is-a-list": Attack(lambda folder: hostile.saved_torch_file(
        folder / "checkpoint.pt", {"d": [torch.zeros(1)]}), r"'d' is not a rosinality discriminator"),
}


@pytest.mark.parametrize("name", ATTACKS)
def test_hostile_discriminator_is_refused_in_one_line_without_crash_hang_or_memory_blowup(name, isolated, tmp_path):
    attack = ATTACKS[name]
    path = attack.build(tmp_path)
    outcome = isolated.load(path, loader="load_discriminator")
    assert outcome.kind == "refused", outcome.describe()
    assert re.search(attack.reason, outcome.detail), outcome.describe()
    assert outcome.detail.startswith(f"{path}: ") and "\n" not in outcome.detail
    assert outcome.extra_mb < EXTRA_MB, outcome.describe()


def test_real_discriminators_load_in_the_isolated_loader(isolated, tmp_path, nvlabs_golden, nvlabs_d_golden):
    """The isolation itself refuses nothing: NVIDIA's and rosinality's discriminators load under the same limits."""
    meta, state_dict, _ = nvlabs_golden
    d_meta, d_state_dict, _ = nvlabs_d_golden
    nvlabs = write_nvlabs_pickle(tmp_path / "nvlabs.pkl", meta["init_kwargs"], state_dict,
                                 discriminator=(d_meta["init_kwargs"], d_state_dict))
    rosinality = hostile.saved_torch_file(tmp_path / "checkpoint.pt", {"d": rosinality_state_dict()})
    for path in (nvlabs, rosinality):
        outcome = isolated.load(path, loader="load_discriminator")
        assert outcome.kind == "loaded", outcome.describe()
