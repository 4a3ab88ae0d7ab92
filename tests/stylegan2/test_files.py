"""stylegan2.files.load_tensors: tensors and plain data from a torch.save file, never code, on torch 1.13 (whose
weights-only unpickler cannot read a float) as on torch 2. Both ways run on this torch: torch 1's by hand."""
import argparse
import io
import os
import pickle

import pytest
import torch

from stylegan2 import files


class RunsACommand:
    def __reduce__(self):
        return os.system, ("echo this must never run",)


@pytest.fixture(params=["this torch's way", "torch 1's way"])
def way(request, monkeypatch):
    if request.param == "torch 1's way":
        monkeypatch.setattr(files, "WEIGHTS_ONLY_READS_FLOATS", False)
    return request.param


def saved(content, zipped: bool = True) -> io.BytesIO:
    buffer = io.BytesIO()
    torch.save(content, buffer, _use_new_zipfile_serialization=zipped)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_tensors_and_plain_data_with_floats_and_bytes_load(way, zipped):
    content = {"weight": torch.arange(6.0).view(2, 3), "meta": {"psi": 0.7, "name": "x", "raw": b"\x00\xff",
                                                               "sizes": [4, 8], "none": None, "pair": (1, 2.5)}}
    loaded = files.load_tensors(saved(content, zipped))
    assert torch.equal(loaded["weight"], content["weight"]) and loaded["meta"] == content["meta"]


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_a_file_that_would_run_a_command_is_refused_naming_what_it_asked_for(way, zipped, capfd):
    with pytest.raises(pickle.UnpicklingError, match=r"GLOBAL posix\.system"):
        files.load_tensors(saved({"payload": RunsACommand()}, zipped))
    assert "must never run" not in capfd.readouterr().out


def test_torch_1s_way_allows_the_classes_it_is_given(monkeypatch):
    monkeypatch.setattr(files, "WEIGHTS_ONLY_READS_FLOATS", False)
    loaded = files.load_tensors(saved({"args": argparse.Namespace(size=64)}), [argparse.Namespace])
    assert loaded["args"].size == 64
