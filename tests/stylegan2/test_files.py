"""stylegan2.files.load_tensors: tensors and plain data from a torch.save file, never code, on torch 1.13 and
2.0-2.3 (whose weights-only unpicklers cannot read a float or bytes) as on later torch. Both ways run on this
torch: the older torch's by hand."""
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


@pytest.fixture(params=["this torch's way", "older torch's way"])
def way(request, monkeypatch):
    if request.param == "older torch's way":
        monkeypatch.setattr(files, "WEIGHTS_ONLY_READS_PLAIN_DATA", False)
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


def test_older_torchs_way_allows_the_classes_it_is_given(monkeypatch):
    monkeypatch.setattr(files, "WEIGHTS_ONLY_READS_PLAIN_DATA", False)
    loaded = files.load_tensors(saved({"args": argparse.Namespace(size=64)}), [argparse.Namespace])
    assert loaded["args"].size == 64


def test_a_torch_that_cannot_allow_a_class_for_one_load_reads_it_the_older_way(monkeypatch):
    """torch 2.0-2.4 read plain data with weights_only but have no safe_globals for the classes given."""
    monkeypatch.delattr(torch.serialization, "safe_globals", raising=False)
    loaded = files.load_tensors(saved({"args": argparse.Namespace(size=64)}), [argparse.Namespace])
    assert loaded["args"].size == 64
