"""The discriminator against NVIDIA's (golden/nvlabs_d64): same weights, same logits to 1e-4."""
import json

import numpy as np
import pytest
import torch

from stylegan2.discriminator import Discriminator

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def d64(shared_file):
    folder = shared_file("golden/nvlabs_d64")
    meta = json.loads((folder / "meta.json").read_text())
    with np.load(folder / "state_dict.npz") as arrays:
        state_dict = {key: torch.from_numpy(value) for key, value in arrays.items()}
    with np.load(folder / "io.npz") as arrays:
        io = {key: torch.from_numpy(value) for key, value in arrays.items()}
    D = Discriminator(**meta["init_kwargs"]).eval()
    D.load_state_dict(state_dict, strict=True)
    return D, io


def logits(D, img):
    with torch.no_grad():
        return D(img, torch.empty([img.shape[0], 0]))


def max_difference(a, b):
    return (a - b).abs().max().item()


def test_state_dict_keys_are_nvidias(shared_file):
    with np.load(shared_file("golden/nvlabs_d64/state_dict.npz")) as arrays:
        expected = {key: arrays[key].shape for key in arrays.files}
    meta = json.loads((shared_file("golden/nvlabs_d64") / "meta.json").read_text())
    assert {key: tuple(t.shape) for key, t in Discriminator(**meta["init_kwargs"]).state_dict().items()} == expected


def test_logits_of_a_batch_of_eight_match(d64):
    D, io = d64
    assert max_difference(logits(D, io["img"]), io["logits"]) < TOLERANCE


@pytest.mark.parametrize("count", [2, 4])
def test_minibatch_std_groups_smaller_batches_like_nvidia(d64, count):
    D, io = d64
    assert max_difference(logits(D, io["img"][:count]), io[f"logits_first{count}"]) < TOLERANCE


@pytest.mark.parametrize("name", ["img_const", "img_none", "img_mixed_const"])
def test_generator_to_discriminator_chain_matches(d64, golden_generator, nvlabs_golden, name):
    D, io = d64
    _, _, g_io = nvlabs_golden
    ws = {"img_const": g_io["ws_psi07"], "img_none": g_io["ws_psi07"], "img_mixed_const": g_io["ws_mixed"]}[name]
    with torch.no_grad():
        img = golden_generator.synthesis(ws, noise_mode="none" if name == "img_none" else "const")
    assert max_difference(logits(D, img), io[f"g64_{name}_logits"]) < TOLERANCE
