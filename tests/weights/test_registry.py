"""The model registry: fetching checks sha256, never leaves a partial file, and explains what to do."""
import hashlib

import pytest

import weights


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(folder))
    return folder


@pytest.fixture
def yunet_source(shared_file):
    """The official YuNet file from ../shared, served through a file:// URL (no network)."""
    return shared_file("weights/face_detection_yunet_2026may.onnx")


def test_every_entry_has_an_official_https_url():
    for model in weights.REGISTRY.values():
        assert model.url.startswith("https://"), model.name
        assert model.url.rsplit("/", 1)[-1] == model.filename, model.name


def test_fetch_stores_a_file_whose_checksum_matches(weights_dir, yunet_source):
    path = weights.fetch("yunet", url=yunet_source.as_uri())
    assert path == weights_dir / "face_detection_yunet_2026may.onnx"
    assert weights.verify("yunet") == weights.get("yunet").sha256


def test_fetch_reports_progress_up_to_the_full_size(weights_dir, yunet_source):
    calls = []
    weights.fetch("yunet", url=yunet_source.as_uri(), progress=lambda done, total: calls.append((done, total)))
    assert calls[-1][0] == yunet_source.stat().st_size


def test_checksum_mismatch_saves_nothing(weights_dir, tmp_path):
    impostor = tmp_path / "impostor.onnx"
    impostor.write_bytes(b"not the model")
    with pytest.raises(weights.WeightsError, match="expected ebafce4e"):
        weights.fetch("yunet", url=impostor.as_uri())
    assert not any(weights_dir.iterdir())


def test_unreachable_url_is_a_clear_error_and_saves_nothing(weights_dir, tmp_path):
    with pytest.raises(weights.WeightsError, match="could not download 'yunet'"):
        weights.fetch("yunet", url=(tmp_path / "absent.onnx").as_uri())
    assert not weights_dir.exists() or not any(weights_dir.iterdir())


def test_unpinned_model_records_the_checksum_seen_first(weights_dir, tmp_path):
    download = tmp_path / "ffhq.pkl"
    download.write_bytes(b"pretend generator bytes")
    weights.fetch("ffhq-256", url=download.as_uri())
    assert weights.expected_sha256("ffhq-256") == hashlib.sha256(b"pretend generator bytes").hexdigest()


def test_tampered_file_fails_verification(weights_dir, tmp_path):
    download = tmp_path / "ffhq.pkl"
    download.write_bytes(b"pretend generator bytes")
    path = weights.fetch("ffhq-256", url=download.as_uri())
    path.write_bytes(b"tampered")
    with pytest.raises(weights.WeightsError, match="delete it and fetch again"):
        weights.verify("ffhq-256")


def test_resolve_names_the_fetch_command_for_a_missing_model(weights_dir):
    with pytest.raises(weights.WeightsError, match="python -m app weights fetch vgg16"):
        weights.resolve("vgg16")


def test_resolve_accepts_an_existing_path(tmp_path):
    file = tmp_path / "model.pt"
    file.write_bytes(b"x")
    assert weights.resolve(str(file)) == file


def test_resolve_rejects_an_unknown_name(weights_dir):
    with pytest.raises(weights.WeightsError, match="neither an existing file nor a known model"):
        weights.resolve("no-such-model")


@pytest.mark.parametrize("name", ["stylegan3-t-ffhqu-256", "stylegan3-r-ffhqu-256"])
def test_stylegan3_ffhqu_models_come_from_nvidias_stylegan3_release(name):
    model = weights.get(name)
    assert model.url.startswith("https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/")
    assert model.kind == "generator" and model.sha256 is None  # NVIDIA publishes no checksum: trust on first use
