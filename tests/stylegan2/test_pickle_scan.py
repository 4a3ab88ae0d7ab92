"""The opcode pre-scan: real weight files pass it, and each bound it keeps refuses the stream that breaks it.

The scan only reads opcodes (it never allocates what a stream declares), so these run in-process.
"""
import io
import pickle
import zipfile

import pytest
import torch

from stylegan2.loaders import pickle_scan
from stylegan2.loaders.pickle_scan import Global, PickleRefused, PickleTruncated, scan_pickle
from stylegan2.testing import make_random_generator
from tests.stylegan2 import hostile_files as hostile
from tests.stylegan2.hostile_files import Ops
from tests.stylegan2.weight_files import state_dict_of, write_nvlabs_pickle


@pytest.fixture(scope="module")
def small_generator_parts():
    generator = make_random_generator(resolution=16, seed=1)
    return generator.init_kwargs, state_dict_of(generator)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_nvidia_snapshot_passes_whole(tmp_path, small_generator_parts, protocol):
    data = write_nvlabs_pickle(tmp_path / "snapshot.pkl", *small_generator_parts, protocol=protocol).read_bytes()
    scan = scan_pickle(data)
    assert scan.end == len(data)
    assert ("torch_utils.persistence", "_reconstruct_persistent_obj") in scan.globals
    assert scan.max_depth < pickle_scan.MAX_DEPTH // 2


def test_torch_zip_pickle_passes_and_reports_its_storages():
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(2, 3), "bias": torch.zeros(3, dtype=torch.float64)}, buffer)
    with zipfile.ZipFile(buffer) as archive:
        data_pkl = archive.read(next(name for name in archive.namelist() if name.endswith("/data.pkl")))
    scan = scan_pickle(data_pkl)
    assert scan.persistent_ids == [("storage", Global("torch", "FloatStorage"), "0", "cpu", 6),
                                   ("storage", Global("torch", "DoubleStorage"), "1", "cpu", 3)]


def test_legacy_torch_file_is_a_chain_of_pickles_with_plain_results():
    buffer = io.BytesIO()
    torch.save(torch.zeros(5), buffer, _use_new_zipfile_serialization=False)
    data = buffer.getvalue()
    magic = scan_pickle(data)
    protocol = scan_pickle(data, magic.end)
    assert (magic.result, protocol.result) == (hostile.LEGACY_MAGIC, 1001)


def test_small_plain_values_come_back_as_values():
    assert scan_pickle(pickle.dumps([1, "a", (2.5, None, b"x"), [True]], protocol=3)).result == \
           [1, "a", (2.5, None, b"x"), [True]]


def test_a_list_grown_through_its_memo_references_keeps_its_depth():
    """A list stored once and appended to itself through the memo nests one level per append."""
    self_appends = b"]q\x00" + b"h\x00h\x00a0" * (pickle_scan.MAX_DEPTH + 1)
    with pytest.raises(PickleRefused, match="too deeply"):
        scan_pickle(hostile.pickle_file(self_appends))


REFUSED = {
    "deep tuples": (hostile.pickle_file(hostile.deep_tuple(1000)), "too deeply"),
    "deep lists": (hostile.pickle_file(hostile.deep_lists(1000)), "too deeply"),
    "deep dicts": (hostile.pickle_file(b"}" + b"K\x01}" * 1000 + b"s" * 1000), "too deeply"),
    "deep marks": (hostile.pickle_file(hostile.deep_marks(1000)), "too deeply"),
    "deep object state": (hostile.pickle_file(b"".join(
        Ops.call(Ops.glob("collections", "OrderedDict")) for _ in range(200)) + b"b" * 199), "too deeply"),
    "too many opcodes": (hostile.pickle_file(hostile.many_empty_lists(pickle_scan.MAX_OPCODES)), "opcodes"),
    "a container too large": (hostile.pickle_file(b"]" + b"(" + b"N" * (pickle_scan.MAX_CONTAINER_ITEMS + 1)
                                                  + b"e"), "more than 200000 items"),
    "a key too large to hash": (hostile.pickle_file(b"}" + hostile.shared_tuples(Ops(), 20) + b"Ns"),
                                "more than 10000 nested items"),
    "colliding keys": (hostile.pickle_file(hostile.colliding_int_keys(10_000)), "hashing its keys"),
    "colliding set items": (hostile.pickle_file(b"\x8f(" + b"".join(
        Ops.int(index * (2 ** 61 - 1)) for index in range(1, 10_000)) + b"\x90"), "hashing its keys"),
    "colliding pairs given to OrderedDict": (hostile.pickle_file(Ops.call(
        Ops.glob("collections", "OrderedDict"), Ops.list(*(Ops.tuple(Ops.int(index * (2 ** 61 - 1)), b"N")
                                                          for index in range(1, 10_000))))), "hashing its keys"),
    "memo index beyond the entries": (b"\x80\x02Nq\x05.", "memo entry 5 while only 0 exist"),
    "memo index 2**32 - 1": (b"\x80\x02Nr\xff\xff\xff\xff.", "memo entry 4294967295"),
    "text memo index": (b"\x80\x02Np99999999\n.", "memo entry 99999999"),
    "memo read never stored": (b"\x80\x02h\x00.", "never stored"),
    "an integer of 17 bytes": (b"\x80\x02\x8a\x11" + b"\x01" * 17 + b".", "has 17 bytes"),
    "a text integer of 1000 digits": (b"\x80\x02I" + b"9" * 1000 + b"\n.", "longer than 32 bytes"),
    "a global name of 1000 characters": (b"\x80\x02c" + b"m" * 1000 + b"\nname\n.", "longer than 256 bytes"),
    "a stack global named by a list": (b"\x80\x04]]\x93.", "STACK_GLOBAL"),
    "an extension code": (b"\x80\x02\x82\x01.", r"opcode b'\\x82'"),
    "an out-of-band buffer": (b"\x80\x05\x97.", r"opcode b'\\x97'"),
    "a protocol-0 instance": (b"\x80\x02(ios\nsystem\n.", r"opcode b'i'"),
    "protocol 6": (b"\x80\x06N.", "protocol 6"),
    "a pop from an empty stack": (b"\x80\x020.", "empty stack"),
    "an append to a number": (b"\x80\x02K\x01Na.", "not a container"),
    "a call with arguments that are not a tuple": (b"\x80\x02cbuiltins\nset\nNR.", "not a tuple"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_stream_breaking_a_bound_is_refused_with_the_reason(name):
    data, reason = REFUSED[name]
    with pytest.raises(PickleRefused, match=reason):
        scan_pickle(data)


TRUNCATED = {
    "bytes declaring 4 GB": b"\x80\x03B\xf0\xff\xff\xff.",
    "str declaring 2**40 bytes": b"\x80\x04\x8d" + (2 ** 40).to_bytes(8, "little") + b".",
    "a frame declaring 1 TB": b"\x80\x04\x95" + (2 ** 40).to_bytes(8, "little") + b"N.",
    "a stream without STOP": b"\x80\x02N",
    "an unterminated text argument": b"\x80\x02I12",
    "an argument cut short": b"\x80\x02J\x01\x02",
}


@pytest.mark.parametrize("name", TRUNCATED)
def test_stream_declaring_more_than_it_has_is_truncated(name):
    with pytest.raises(PickleTruncated):
        scan_pickle(TRUNCATED[name])


def test_scan_never_reads_more_than_the_data(small_generator_parts, tmp_path):
    data = write_nvlabs_pickle(tmp_path / "snapshot.pkl", *small_generator_parts).read_bytes()
    for cut in (len(data) // 3, len(data) - 2):
        with pytest.raises(PickleTruncated):
            scan_pickle(data[:cut])
