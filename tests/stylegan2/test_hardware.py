"""Choosing the torch device ("auto", "cpu", "cuda", "cuda:N", each checked against this machine)."""
import pytest
import torch

from stylegan2.hardware import DeviceError, resolve_device


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_auto_device_is_the_cpu_without_cuda():
    assert resolve_device("auto").type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_cuda_says_what_to_do():
    with pytest.raises(DeviceError, match="or run on the cpu device"):
        resolve_device("cuda")


@pytest.fixture
def two_gpus(monkeypatch):
    """torch.cuda as on a machine with two CUDA devices."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_a_cuda_device_number_that_exists_is_accepted(two_gpus):
    assert resolve_device("cuda:1") == torch.device("cuda:1")


def test_a_cuda_device_number_beyond_the_machines_devices_says_which_exist(two_gpus):
    with pytest.raises(DeviceError, match=r"has 2 CUDA devices \(cuda:0 to cuda:1\)"):
        resolve_device("cuda:2")


def test_an_unknown_device_is_refused():
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("quantum")
