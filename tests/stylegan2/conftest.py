"""Fixtures for the StyleGAN2 engine tests: the NVlabs golden reference and small random generators."""
import json

import numpy as np
import pytest
import torch

from stylegan2 import Generator
from stylegan2.stylegan3 import Generator as StyleGAN3Generator
from stylegan2.testing import make_random_generator


@pytest.fixture(scope="session")
def nvlabs_golden(shared_file):
    """The NVlabs reference: meta.json as a dict, state dict and inputs/outputs as tensors."""
    folder = shared_file("golden/nvlabs_g64")
    meta = json.loads((folder / "meta.json").read_text())
    with np.load(shared_file("golden/nvlabs_g64/state_dict.npz")) as arrays:
        state_dict = {key: torch.from_numpy(value) for key, value in arrays.items()}
    with np.load(shared_file("golden/nvlabs_g64/io.npz")) as arrays:
        io = {key: torch.from_numpy(value) for key, value in arrays.items()}
    return meta, state_dict, io


@pytest.fixture(scope="session")
def nvlabs_d_golden(shared_file):
    """NVIDIA's discriminator reference (pairs with nvlabs_g64): meta.json as a dict, state dict and
    inputs/logits as tensors."""
    folder = shared_file("golden/nvlabs_d64")
    meta = json.loads((folder / "meta.json").read_text())
    with np.load(shared_file("golden/nvlabs_d64/state_dict.npz")) as arrays:
        state_dict = {key: torch.from_numpy(value) for key, value in arrays.items()}
    with np.load(shared_file("golden/nvlabs_d64/io.npz")) as arrays:
        io = {key: torch.from_numpy(value) for key, value in arrays.items()}
    return meta, state_dict, io


@pytest.fixture
def golden_generator(nvlabs_golden) -> Generator:
    """A Generator built from the golden meta.json with the golden weights loaded (strict)."""
    meta, state_dict, _ = nvlabs_golden
    G = Generator(**meta["init_kwargs"]).eval()
    G.load_state_dict(state_dict, strict=True)
    return G


@pytest.fixture(scope="session")
def small_generator() -> Generator:
    """A 64x64 random-weight generator (10 ws); tests must not modify it."""
    return make_random_generator(resolution=64, seed=0)


def read_stylegan3_golden(shared_file, config: str):
    """NVIDIA's StyleGAN3 on random weights, config "t" or "r": (meta.json, state dict, inputs/outputs)."""
    folder = f"golden/nvlabs_sg3_{config}64"
    meta = json.loads(shared_file(f"{folder}/meta.json").read_text())
    with np.load(shared_file(f"{folder}/state_dict.npz")) as arrays:
        state_dict = {key: torch.from_numpy(value) for key, value in arrays.items()}
    with np.load(shared_file(f"{folder}/io.npz")) as arrays:
        io = {key: torch.from_numpy(value) for key, value in arrays.items()}
    return meta, state_dict, io


def golden_stylegan3_generator(golden) -> StyleGAN3Generator:
    """A StyleGAN3 Generator built from the golden meta.json with the golden weights loaded (strict)."""
    meta, state_dict, _ = golden
    G = StyleGAN3Generator(**meta["init_kwargs"]).eval()
    G.load_state_dict(state_dict, strict=True)
    return G


@pytest.fixture(scope="session", params=["t", "r"], ids=["sg3-t", "sg3-r"])
def stylegan3_golden(request, shared_file):
    """The StyleGAN3 goldens, config T then R."""
    return read_stylegan3_golden(shared_file, request.param)


@pytest.fixture
def stylegan3_generator(stylegan3_golden) -> StyleGAN3Generator:
    return golden_stylegan3_generator(stylegan3_golden)


@pytest.fixture(scope="session")
def stylegan3_r_golden(shared_file):
    """The config R golden alone (R is the rotation-equivariant one)."""
    return read_stylegan3_golden(shared_file, "r")


@pytest.fixture
def stylegan3_r_generator(stylegan3_r_golden) -> StyleGAN3Generator:
    return golden_stylegan3_generator(stylegan3_r_golden)
