"""The command line: model management from local file:// URLs (never the network) and clear user errors."""
import pytest
from click.testing import CliRunner

import weights
from app.cli import cli

YUNET = "weights/face_detection_yunet_2026may.onnx"


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(folder))
    return folder


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def assert_clean_failure(result, *phrases):
    """A user mistake: non-zero exit, one error line naming the problem, no traceback."""
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(error_lines) == 1, result.output
    for phrase in phrases:
        assert phrase in error_lines[0]


def test_weights_list_shows_every_registry_model_as_missing_in_an_empty_folder(weights_dir):
    result = run("weights", "list")
    assert result.exit_code == 0
    for name, model in weights.REGISTRY.items():
        line = next(line for line in result.output.splitlines() if line.startswith(name + " "))
        assert model.filename in line and model.url in line and " no " in line


def test_weights_fetch_downloads_and_verifies_the_file(weights_dir, shared_file):
    source = shared_file(YUNET)
    result = run("weights", "fetch", "yunet", "--url", source.as_uri())
    assert result.exit_code == 0, result.output
    assert (weights_dir / source.name).read_bytes() == source.read_bytes()
    listing = run("weights", "list").output
    yunet_line = next(line for line in listing.splitlines() if line.startswith("yunet "))
    assert yunet_line.split()[2:4] == ["yes", "yes"]


def test_weights_fetch_keeps_a_verified_copy(weights_dir, shared_file):
    run("weights", "fetch", "yunet", "--url", shared_file(YUNET).as_uri())
    result = run("weights", "fetch", "yunet", "--url", "file:///nonexistent")
    assert result.exit_code == 0
    assert "already present and verified" in result.output


def test_weights_fetch_with_a_wrong_checksum_leaves_nothing(weights_dir, tmp_path):
    impostor = tmp_path / "impostor.onnx"
    impostor.write_bytes(b"not the YuNet model")
    result = run("weights", "fetch", "yunet", "--url", impostor.as_uri())
    assert_clean_failure(result, "sha256", "nothing was saved")
    assert not weights_dir.exists() or list(weights_dir.iterdir()) == []


def test_weights_fetch_without_a_pinned_checksum_records_it_and_warns(weights_dir, tmp_path):
    download = tmp_path / "generator.pkl"
    download.write_bytes(b"some generator bytes")
    result = run("weights", "fetch", "ffhq-256", "--url", download.as_uri())
    assert result.exit_code == 0, result.output
    assert "trust on first use" in result.output
    assert weights.expected_sha256("ffhq-256") == weights.file_sha256(download)


def test_weights_fetch_of_an_unknown_model_names_the_known_ones(weights_dir):
    assert_clean_failure(run("weights", "fetch", "ffhq-9000"), "unknown model 'ffhq-9000'", "yunet")


def test_weights_fetch_from_an_unreachable_url_fails_cleanly(weights_dir, tmp_path):
    result = run("weights", "fetch", "yunet", "--url", (tmp_path / "absent.onnx").as_uri())
    assert_clean_failure(result, "could not download 'yunet'")


def test_weights_fetch_refuses_one_url_for_several_models(weights_dir):
    result = run("weights", "fetch", "yunet", "haarcascade", "--url", "file:///x")
    assert result.exit_code == 2
    assert "name exactly one" in result.output
