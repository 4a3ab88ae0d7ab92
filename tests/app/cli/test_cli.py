"""The command line: model management from local file:// URLs (never the network), clear user errors,
and a server that prints where to open it and stops cleanly on Ctrl-C or SIGTERM."""
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import click
import pytest
import torch
from click.testing import CliRunner

import stylegan2
import weights
from app.cli.main import cli
from app.cli.serve import StopSignals
from stylegan2.files import load_tensors
from stylegan2.stylegan3 import Generator as StyleGAN3Generator
from tests.app.direction_helpers import write_directions
from tests.stylegan2.conftest import read_stylegan3_golden
from tests.stylegan2.weight_files import write_stylegan3_pickle

PROJECT_ROOT = Path(__file__).resolve().parents[3]


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


def test_weights_fetch_downloads_and_verifies_the_file(weights_dir, yunet_file):
    source = yunet_file
    result = run("weights", "fetch", "yunet", "--url", source.as_uri())
    assert result.exit_code == 0, result.output
    assert (weights_dir / source.name).read_bytes() == source.read_bytes()
    listing = run("weights", "list").output
    yunet_line = next(line for line in listing.splitlines() if line.startswith("yunet "))
    assert yunet_line.split()[2:4] == ["yes", "yes"]


def test_weights_fetch_keeps_a_verified_copy(weights_dir, yunet_file):
    run("weights", "fetch", "yunet", "--url", yunet_file.as_uri())
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


def test_weights_convert_writes_stylecams_own_format(shared_file, tmp_path):
    converted = tmp_path / "converted.pt"
    result = run("weights", "convert", str(shared_file("golden/rosinality_g64/ckpt.pt")), str(converted))
    assert result.exit_code == 0, result.output
    assert "rosinality" in result.output
    assert stylegan2.load(converted).meta["format"] == "stylecam"


@pytest.mark.parametrize("config", ["t", "r"])
def test_weights_convert_of_a_stylegan3_pickle_writes_stylecams_format_that_loads_back_identical(shared_file,
                                                                                                 tmp_path, config):
    meta, state_dict, io = read_stylegan3_golden(shared_file, config)
    source = write_stylegan3_pickle(tmp_path / "sg3.pkl", meta, state_dict)
    converted = tmp_path / "sg3.pt"
    result = run("weights", "convert", str(source), str(converted))
    assert result.exit_code == 0, result.output
    assert "nvlabs-pickle" in result.output
    content = load_tensors(converted)    # torch.load(weights_only=True), or torch 1's equivalent
    assert (content["format"], content["version"], content["architecture"]) == ("stylecam-stylegan2", 2, "stylegan3")
    original, loaded = stylegan2.load(source), stylegan2.load(converted)
    assert isinstance(loaded.generator, StyleGAN3Generator)
    assert loaded.meta["init_kwargs"] == original.meta["init_kwargs"]
    original_state, loaded_state = original.generator.state_dict(), loaded.generator.state_dict()
    assert list(loaded_state) == list(original_state)
    assert all(torch.equal(loaded_state[key], original_state[key]) for key in original_state)
    with torch.no_grad():
        assert torch.equal(loaded.generator(io["z"][:2], truncation_psi=0.7),
                           original.generator(io["z"][:2], truncation_psi=0.7))


def test_weights_convert_of_a_file_that_is_no_generator_fails_cleanly(tmp_path):
    not_weights = tmp_path / "notes.pkl"
    not_weights.write_text("just some text")
    result = run("weights", "convert", str(not_weights), str(tmp_path / "out.pt"))
    assert_clean_failure(result, "notes.pkl")
    assert not (tmp_path / "out.pt").exists()


# --- serve ---------------------------------------------------------------------------------------------

@pytest.fixture
def serve_args(selfie, random_weights, yunet_file):
    """A serve command line that works on this machine: the selfie clip, a random-weight test model."""
    return ["serve", "--source", str(selfie.video), "--weights", str(random_weights), "--device", "cpu",
            "--detector-model", str(yunet_file), "--host", "127.0.0.1", "--offline"]


def with_option(args, option, value):
    """``args`` with ``option`` set to ``value`` (replaced where it is already given)."""
    if option in args:
        args = args[:args.index(option)] + args[args.index(option) + 2:]
    return args + [option, value]


def test_serve_with_a_missing_source_file_fails_cleanly(serve_args, tmp_path):
    result = run(*with_option(serve_args, "--source", str(tmp_path / "gone.mp4")))
    assert_clean_failure(result, "gone.mp4")


def test_serve_with_a_missing_weights_file_fails_cleanly(serve_args, tmp_path):
    result = run(*with_option(serve_args, "--weights", str(tmp_path / "gone.pt")))
    assert_clean_failure(result, "gone.pt")


def test_serve_with_a_broken_weights_file_fails_cleanly(serve_args, tmp_path):
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(b"\x80\x04 this is not a generator")
    assert_clean_failure(run(*with_option(serve_args, "--weights", str(broken))), "broken.pkl")


def test_serve_with_a_broken_presets_file_fails_cleanly(serve_args, tmp_path):
    presets = tmp_path / "presets.json"
    presets.write_text('{"presets": "smile"}')
    assert_clean_failure(run(*serve_args, "--presets", str(presets)), "presets.json")


def test_serve_on_a_port_in_use_fails_cleanly(serve_args):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert_clean_failure(run(*serve_args, "--port", port), f"cannot listen on 127.0.0.1:{port}", "--port")


def test_serve_on_a_cuda_device_the_machine_lacks_fails_cleanly(serve_args, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 1)
    result = run(*with_option(serve_args, "--device", "cuda:3"))
    assert_clean_failure(result, "'cuda:3'", "has 1 CUDA device (cuda:0)")


def test_serve_offline_without_the_default_model_says_how_to_fetch_it_or_give_the_file(serve_args, weights_dir):
    result = run(*with_option(serve_args, "--weights", "ffhq-256"))
    assert_clean_failure(result, "--offline", "python -m app weights fetch ffhq-256", "--weights FILE")


def test_serve_that_cannot_download_says_how_to_give_the_files_and_run_offline(weights_dir, monkeypatch):
    def fetch_model(name):
        raise click.ClickException(f"cannot download {name}: network unreachable")

    monkeypatch.setattr("app.cli.serve.fetch_model", fetch_model)
    result = run("serve", "--source", "missing.mp4")
    assert_clean_failure(result, "cannot download ffhq-256", "--weights FILE", "--detector-model FILE", "--offline")


def test_serve_fetches_missing_registry_models_before_anything_else(weights_dir, monkeypatch):
    fetched = []

    def fetch_model(name):
        fetched.append(name)
        raise click.ClickException("no network in tests")

    monkeypatch.setattr("app.cli.serve.fetch_model", fetch_model)
    result = run("serve", "--source", "missing.mp4")
    assert_clean_failure(result, "no network in tests")
    assert fetched == ["ffhq-256"]
    assert "fetching it now" in result.output


def test_serve_with_a_virtual_camera_that_is_not_there_says_how_to_load_the_module(serve_args):
    if Path("/sys/module/v4l2loopback").exists():
        pytest.skip("v4l2loopback is loaded here")
    result = run(*serve_args, "--virtual-camera", "/dev/video10")
    assert_clean_failure(result, "/dev/video10", "sudo modprobe v4l2loopback devices=1 video_nr=10")


def test_serve_refuses_a_token_and_no_token_together(serve_args):
    result = run(*serve_args, "--token", "abc", "--no-token")
    assert result.exit_code == 2
    assert "contradict" in result.output


class ServerThatReturnsAtOnce:
    """Stands in for StyleCamServer: keeps the settings it was given, serves nothing, returns at once."""

    started = []

    def __init__(self, config, backend):
        self.config = config
        self.backend = backend
        self.port = 5123
        ServerThatReturnsAtOnce.started.append(self)

    def start(self):
        pass

    def request_stop(self):
        pass

    def serve_forever(self):
        pass


@pytest.fixture
def serve_without_serving(serve_args, monkeypatch):
    """Run ``serve`` up to the printed link, with the real StyleCam (not started) and no server or signals."""
    monkeypatch.delenv("STYLECAM_TOKEN", raising=False)
    monkeypatch.setattr("app.cli.serve.StyleCamServer", ServerThatReturnsAtOnce)
    monkeypatch.setattr("app.cli.serve.signal.signal", lambda *_: None)      # leave pytest's own Ctrl-C alone
    ServerThatReturnsAtOnce.started.clear()

    def serve(*options):
        result = run(*serve_args, *options)
        assert result.exit_code == 0, result.output
        return result, ServerThatReturnsAtOnce.started[-1].config

    return serve


def test_serve_without_a_token_makes_a_random_one_and_prints_it_in_the_link(serve_without_serving):
    result, config = serve_without_serving()
    printed = re.search(r"http://127\.0\.0\.1:5123/\?token=([A-Za-z0-9_-]+)", result.output)
    assert printed and printed[1] == config.token and len(config.token) >= 40
    assert serve_without_serving()[1].token != config.token          # a new one every start


def test_serve_passes_detect_every_to_the_pipeline(serve_without_serving):
    serve_without_serving("--detect-every", "3")
    assert ServerThatReturnsAtOnce.started[-1].backend.pipeline.detection.detect_every == 3


def test_serve_directions_makes_a_slider_of_each_direction_of_each_file(serve_without_serving, random_weights,
                                                                         tmp_path):
    traits = write_directions(tmp_path, stylegan2.load(random_weights).generator)
    serve_without_serving("--directions", str(traits))
    stylecam = ServerThatReturnsAtOnce.started[-1].backend
    assert [p.name for p in stylecam.params.presets if p.kind == "direction"] == ["traits_smile", "traits_age"]
    assert stylecam.live.direction_previews is not None


def test_serve_directions_of_another_model_fails_cleanly_saying_what_differs(serve_args, random_weights, tmp_path):
    traits = write_directions(tmp_path, stylegan2.load(random_weights).generator, w_dim=64)
    assert_clean_failure(run(*serve_args, "--directions", str(traits)), "traits.pt was made for a model with w_dim 64")


def test_serve_with_no_token_warns_that_anyone_can_watch(serve_without_serving):
    result, config = serve_without_serving("--no-token")
    assert config.token is None
    assert "http://127.0.0.1:5123/\n" in result.output and "?token=" not in result.output
    errors = result.stderr if result.stderr_bytes is not None else result.output   # click < 8.2 mixes them
    assert "warning: no access token (--no-token): anyone who can reach port 5123 can watch" in errors


def test_the_first_ctrl_c_stops_cleanly_and_a_second_one_quits_at_once():
    requests, exits = [], []
    handler = StopSignals(lambda: requests.append("stop"), quit_now=exits.append)
    handler(signal.SIGINT)
    assert (requests, exits) == (["stop"], [])
    handler(signal.SIGINT)                          # while the shutdown is still under way
    assert (requests, exits) == (["stop"], [128 + signal.SIGINT])


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_prints_the_url_with_the_token_and_stops_cleanly_on_a_signal(serve_args, stop_signal):
    server = subprocess.Popen([sys.executable, "-m", "app", *with_option(serve_args, "--port", "0")],
                              cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "STYLECAM_TOKEN": "secret-token-42"})
    try:
        printed = ""
        while "?token=" not in printed:
            line = server.stdout.readline()
            assert line, f"serve ended before printing its URL:\n{printed}"
            printed += line
        address = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=secret-token-42", printed)
        assert address, printed
        stream = urllib.request.urlopen(f"http://127.0.0.1:{address[1]}/stream.mjpg?token=secret-token-42",
                                        timeout=30)
        assert stream.read(100).startswith(b"--")
        server.send_signal(stop_signal)
        stream.read()                               # the server ends the open stream, then exits
        remaining = server.communicate(timeout=30)[0]
        assert server.returncode == 0, remaining
        assert "StyleCam stopped." in remaining and "Traceback" not in remaining
    finally:
        server.kill()
        server.wait()
