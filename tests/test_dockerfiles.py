"""The images (Dockerfile for x86-64, Dockerfile.jetson per JetPack), checked as far as a machine without
Docker can: the documented build lines against the bases, the files they copy, the user and volumes, the
command they run, and the dependencies the Jetson image installs by hand. (hadolint lints both in
scripts/test.)"""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ("Dockerfile", "Dockerfile.jetson")
# The Jetson bases the documentation names, by the L4T release in their tag: JetPack 6, 5, and the Nano's 4.6.
JETSON_BASES = {"36": "dustynv/l4t-pytorch:r36.2.0", "35": "nvcr.io/nvidia/l4t-pytorch:r35.2.1-pth2.0-py3",
                "32": "nvcr.io/nvidia/l4t-base:r32.7.1"}


def instructions(name: str) -> list:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines = [line for line in (ROOT / name).read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in joined.splitlines() if line.strip()]


def arguments(name: str, instruction: str) -> list:
    return [args for key, args in instructions(name) if key == instruction]


def header(name: str) -> str:
    return "\n".join(line for line in (ROOT / name).read_text().splitlines() if line.startswith("#"))


def test_the_jetson_image_documents_one_build_line_per_jetpack_with_its_own_base():
    text = header("Dockerfile.jetson")
    for release, base in JETSON_BASES.items():
        assert re.search(rf":r{release}\.", base)
        if release != "35":                                       # the default needs no --build-arg
            assert f"--build-arg BASE_IMAGE={base}" in text
    assert "JetPack 6 (L4T r36" in text and "JetPack 5 (L4T r35" in text and "JetPack 4.6, L4T r32.7" in text


def test_the_default_jetson_base_is_jetpack_5s_pytorch_image():
    assert arguments("Dockerfile.jetson", "ARG")[0] == f"BASE_IMAGE={JETSON_BASES['35']}"


def test_the_nano_image_needs_its_python_3_8_torch_wheel_brought_into_the_build_context():
    text = (ROOT / "Dockerfile.jetson").read_text()
    assert "--build-arg NANO_TORCH_WHEEL=torch-1.13.0-cp38-cp38-linux_aarch64.whl" in text
    assert '"/tmp/wheels/${NANO_TORCH_WHEEL}"' in text and "python3.8 -m venv /opt/venv" in text
    assert (ROOT / "docker" / "README.md").is_file()
    assert "docker/*.whl" in (ROOT / ".gitignore").read_text()


def test_the_x86_image_is_cpu_by_default_and_cuda_by_build_argument():
    args = arguments("Dockerfile", "ARG")
    assert "TORCH_INDEX=https://download.pytorch.org/whl/cpu" in args
    assert re.search(r"--build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu\d+ ", header("Dockerfile"))


@pytest.mark.parametrize("name", IMAGES)
def test_every_file_an_image_copies_is_in_the_repository(name):
    for args in arguments(name, "COPY"):
        if args.startswith("--from"):
            continue
        for source in args.split()[:-1]:
            assert list(ROOT.glob(source.rstrip("/"))), f"{name}: COPY {source} matches nothing"


@pytest.mark.parametrize("name", IMAGES)
def test_an_image_runs_as_a_user_with_volumes_for_models_and_projections(name):
    assert arguments(name, "USER")[-1] == "1000"
    assert "useradd --create-home --uid 1000 --groups video stylecam" in " ".join(arguments(name, "RUN"))
    assert arguments(name, "VOLUME") == ['["/data/weights", "/data/projections"]']
    env = " ".join(arguments(name, "ENV"))
    assert "STYLECAM_WEIGHTS=/data/weights" in env and "STYLECAM_PROJECTIONS=/data/projections" in env


@pytest.mark.parametrize("name", IMAGES)
def test_an_images_command_line_is_one_stylecam_accepts(name):
    entrypoint = json.loads(arguments(name, "ENTRYPOINT")[0])     # exec form: a JSON list
    command = json.loads(arguments(name, "CMD")[0])
    assert entrypoint == ["python", "-m", "app"]
    result = subprocess.run([sys.executable, "-m", "app", *command, "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Run StyleCam" in result.stdout


def declared_dependencies() -> list:
    declared = re.search(r"^dependencies = \[(.*?)\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M).group(1)
    return [requirement for requirement in re.findall(r'"([^"]+)"', declared)
            if not requirement.startswith(("torch", "opencv-python-headless"))]


@pytest.mark.parametrize("name", ["Dockerfile.jetson", "scripts/install-jetson.sh"])
def test_the_jetson_installs_require_what_pyproject_declares_but_torch_and_opencv(name):
    """They install StyleCam with --no-deps (so pip keeps JetPack's torch and OpenCV) and its other dependencies
    by hand, with pyproject's lower bounds."""
    text = (ROOT / name).read_text()
    for requirement in declared_dependencies():
        if requirement.startswith("numpy") and name.endswith(".sh"):
            continue                       # the native install keeps the system's NumPy, built with its torch
        assert f'"{requirement}' in text, f"{name} does not install {requirement}"
    assert "--no-deps" in text


def test_the_build_context_leaves_out_environments_and_tests():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".git", ".venv*", "tests"} <= set(ignored)
