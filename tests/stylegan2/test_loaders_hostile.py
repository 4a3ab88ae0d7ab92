"""Untrusted weight files: hostile, truncated or wrong files end in a clear error and nothing of them runs.

Each hostile payload would create a marker file if it ran; the tests check the error names what the
file asked for, and that the marker does not exist.
"""
import io
import os
import pickle
import re
import subprocess
import zipfile

import pytest
import torch

import stylegan2
from tests.stylegan2.weight_files import nvidia_modules, write_nvlabs_pickle


class Call:
    """Pickles as the call `function(*args)`, as a hostile file would."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def refusal(path) -> str:
    """The WeightsFormatError message for loading `path`; it must name the file."""
    with pytest.raises(stylegan2.WeightsFormatError) as error:
        stylegan2.load(path)
    assert str(path) in str(error.value)
    return str(error.value)


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "payload_ran"
    yield path
    assert not path.exists(), "a payload from the weights file was executed"


@pytest.fixture
def golden_parts(nvlabs_golden):
    meta, state_dict, _ = nvlabs_golden
    return meta["init_kwargs"], state_dict


def test_literal_os_system_call_is_refused_by_name(tmp_path, marker):
    command = f"touch {marker}".encode()
    path = tmp_path / "hostile.pkl"
    path.write_bytes(b"\x80\x02cos\nsystem\nX" + len(command).to_bytes(4, "little") + command + b"\x85R.")
    assert "'os.system'" in refusal(path)


@pytest.mark.parametrize("function, argument, named", [
    (os.system, "touch {marker}", "posix.system"),
    (eval, "__import__('pathlib').Path({marker!r}).touch()", "builtins.eval"),
    (exec, "__import__('pathlib').Path({marker!r}).touch()", "builtins.exec"),
    (subprocess.getoutput, "touch {marker}", "subprocess.getoutput"),
])
def test_payload_inside_a_real_snapshot_is_refused_by_name(tmp_path, marker, golden_parts, function, argument,
                                                           named):
    payload = Call(function, argument.format(marker=str(marker)))
    path = write_nvlabs_pickle(tmp_path / "snapshot.pkl", *golden_parts, training_set_kwargs=payload)
    message = refusal(path)
    assert f"'{named}'" in message and "nothing from the file was run" in message


def test_popen_payload_is_refused_by_name(tmp_path, marker, golden_parts):
    path = write_nvlabs_pickle(tmp_path / "snapshot.pkl", *golden_parts,
                               augment_pipe=Call(subprocess.Popen, ["touch", str(marker)]))
    assert "'subprocess.Popen'" in refusal(path)


def test_hostile_payload_inside_a_tensor_storage_is_refused(tmp_path, marker, golden_parts):
    """Each storage is a nested torch.save archive: it is read with weights_only=True, never unpickled freely."""
    nested = io.BytesIO()
    torch.save(Call(os.system, f"touch {marker}"), nested, _use_new_zipfile_serialization=False)
    storage = Call(torch.storage._load_from_bytes, nested.getvalue())
    path = write_nvlabs_pickle(tmp_path / "snapshot.pkl", *golden_parts, G=storage)
    message = refusal(path)
    assert "tensor storage" in message and "posix.system" in message


def test_hostile_torch_zip_is_refused_by_name(tmp_path, marker):
    path = tmp_path / "checkpoint.pt"
    torch.save({"g_ema": Call(os.system, f"touch {marker}")}, path)
    assert "'posix.system'" in refusal(path)


def test_persistent_object_that_is_not_a_class_is_refused(tmp_path, marker):
    with nvidia_modules() as nvidia:
        payload = Call(nvidia.reconstruct, {"type": "module", "module_src": f"open({str(marker)!r}, 'w')"})
        (tmp_path / "g.pkl").write_bytes(pickle.dumps({"G_ema": payload}))
    assert "not a pickled class" in refusal(tmp_path / "g.pkl")


def test_tensorflow_pickle_gets_advice(tmp_path):
    path = tmp_path / "stylegan2-ffhq-config-f.pkl"
    path.write_bytes(b"\x80\x02cdnnlib.tflib.network\nNetwork\n)\x81.")
    assert "TensorFlow StyleGAN pickle" in refusal(path)


def test_pickle_with_persistent_ids_is_refused(tmp_path):
    path = tmp_path / "g.pkl"
    path.write_bytes(b"\x80\x02X\x01\x00\x00\x00xQ.")
    assert "persistent ids" in refusal(path)


@pytest.fixture
def files_of_every_format(tmp_path, golden_parts, shared_file):
    nvlabs = write_nvlabs_pickle(tmp_path / "nvlabs.pkl", *golden_parts)
    rosinality = shared_file("golden/rosinality_g64/ckpt.pt")
    legacy = tmp_path / "legacy.pt"
    torch.save(torch.load(rosinality, weights_only=True), legacy, _use_new_zipfile_serialization=False)
    native = tmp_path / "native.pt"
    stylegan2.convert(nvlabs, native)
    return {"nvlabs": nvlabs, "rosinality": rosinality, "legacy": legacy, "native": native}


@pytest.mark.parametrize("kind", ["nvlabs", "rosinality", "legacy", "native"])
@pytest.mark.parametrize("fraction", [0.5, 0.999])
def test_truncated_file_is_refused(tmp_path, files_of_every_format, kind, fraction):
    data = files_of_every_format[kind].read_bytes()
    path = tmp_path / f"truncated-{kind}"
    path.write_bytes(data[:int(len(data) * fraction)])
    assert re.search("truncated|damaged", refusal(path))


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.pkl"
    path.touch()
    assert "is empty" in refusal(path)


def test_random_bytes_are_refused(tmp_path):
    path = tmp_path / "random.pt"
    path.write_bytes(bytes(torch.randint(0, 256, [4096], generator=torch.Generator().manual_seed(0)).tolist()))
    assert "not a StyleGAN2 weights file" in refusal(path)


def test_zip_that_is_not_a_torch_file_is_refused(tmp_path):
    path = tmp_path / "weights.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a model")
    assert "a zip archive but not a PyTorch file" in refusal(path)


def test_web_page_saved_as_weights_is_explained(tmp_path):
    path = tmp_path / "ffhq.pkl"
    path.write_text("<!DOCTYPE html><html><body>403 Forbidden</body></html>")
    assert "failed download" in refusal(path)


def test_a_missing_file_is_explained(tmp_path):
    assert "cannot be read" in refusal(tmp_path / "absent.pkl")


def test_absurdly_deep_nesting_is_refused(tmp_path):
    with nvidia_modules() as nvidia:
        record = Call(nvidia.reconstruct, {"type": "class", "class_name": "Generator",
                                           "state": {"_init_kwargs": "PLACEHOLDER"}})
        data = pickle.dumps({"G_ema": record}, protocol=2)
    depth = 200_000  # {"x": {"x": ...}} spelled out in pickle opcodes: EMPTY_DICT, key, ..., SETITEM
    nested = b"}" + b"X\x01\x00\x00\x00x}" * depth + b"s" * depth
    path = tmp_path / "deep.pkl"
    path.write_bytes(data.replace(b"X\x0b\x00\x00\x00PLACEHOLDER", nested))
    assert "nests its data too deeply" in refusal(path)
