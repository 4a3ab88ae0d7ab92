"""Fixtures for the StyleGAN2 engine tests: the golden references, small random generators, and the isolated
loader the hostile-file tests measure with."""
import json
import sys

import numpy as np
import pytest
import torch

from stylegan2 import Generator
from stylegan2.stylegan3 import Generator as StyleGAN3Generator
from stylegan2.testing import make_random_generator
from tests.stylegan2.isolated_loading import IsolatedLoader


def _cpu_convolves_in_fp16() -> bool:
    half = torch.float16
    try:
        torch.nn.functional.conv2d(torch.zeros(1, 1, 3, 3, dtype=half), torch.zeros(1, 1, 1, 1, dtype=half))
        torch.nn.functional.conv_transpose2d(torch.zeros(1, 1, 3, 3, dtype=half), torch.zeros(1, 1, 3, 3, dtype=half),
                                             stride=2)
        return True
    except RuntimeError:
        return False


@pytest.fixture(scope="session")
def cpu_fp16():
    """Skips a test of the fp16 code path (CUDA's, run here on the CPU) where this torch has no fp16
    convolutions on the CPU (1.13 and 2.0 have none)."""
    if not _cpu_convolves_in_fp16():
        pytest.skip(f"torch {torch.__version__} has no fp16 convolutions on the CPU")


def read_golden(shared_file, name: str):
    """A golden folder of ../shared/golden: (meta.json as a dict, state dict, inputs/outputs as tensors)."""
    def tensors(file: str):
        with np.load(shared_file(f"golden/{name}/{file}")) as arrays:
            return {key: torch.from_numpy(value) for key, value in arrays.items()}

    meta = json.loads(shared_file(f"golden/{name}/meta.json").read_text())
    return meta, tensors("state_dict.npz"), tensors("io.npz")


@pytest.fixture(scope="session")
def nvlabs_golden(shared_file):
    """NVIDIA's StyleGAN2 generator reference: meta.json, state dict and inputs/outputs."""
    return read_golden(shared_file, "nvlabs_g64")


@pytest.fixture(scope="session")
def nvlabs_d_golden(shared_file):
    """NVIDIA's discriminator reference (pairs with nvlabs_g64): meta.json, state dict and inputs/logits."""
    return read_golden(shared_file, "nvlabs_d64")


@pytest.fixture(scope="module")
def isolated():
    """A loader in a forked child that reports how a file was refused and what it cost (Linux only)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the isolated loader forks and reads /proc (Linux only)")
    loader = IsolatedLoader()
    yield loader
    loader.close()


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
    return read_golden(shared_file, f"nvlabs_sg3_{config}64")


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
