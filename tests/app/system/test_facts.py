"""Gathering the facts: memory, models and their checksums, free disk, and this machine as a whole."""
import hashlib
from dataclasses import replace

import weights
from app.system.facts import free_disk_bytes, gather_facts, memory_bytes, model_facts


def test_total_memory_is_read_from_meminfo(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        4059200 kB\nMemFree:          102400 kB\n")
    assert memory_bytes(meminfo) == 4059200 * 1024
    assert memory_bytes(tmp_path / "absent") is None


def test_a_model_is_absent_verified_or_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(tmp_path))
    model = weights.get("haarcascade")
    assert model_facts("haarcascade", True).present is False
    path = tmp_path / model.filename
    path.write_bytes(b"not the cascade")
    assert model_facts("haarcascade", True).checksum == "mismatch"
    monkeypatch.setitem(weights.REGISTRY, "haarcascade", replace(model, sha256=hashlib.sha256(b"x").hexdigest()))
    path.write_bytes(b"x")
    assert model_facts("haarcascade", True).checksum == "verified"


def test_free_disk_is_measured_on_the_nearest_folder_that_exists(tmp_path):
    assert free_disk_bytes(tmp_path / "not" / "yet" / "made") > 0


def test_this_machine_has_facts_for_every_field(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(tmp_path))
    facts = gather_facts([("yunet", True)])
    assert facts.python.startswith("3.") and facts.opencv and facts.cpu
    assert [model.name for model in facts.models] == ["yunet"] and not facts.models[0].present
    assert facts.weights_dir == str(tmp_path)
