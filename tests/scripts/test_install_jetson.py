"""scripts/install-jetson.sh, in --dry-run on a stand-in system Python (fake torch and cv2 modules): what it
installs (never pip's OpenCV or torch), when it refuses, and the service it writes."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-jetson.sh"
PYTHON_3_6 = Path.home() / ".pyenv/versions/3.6.15/bin/python"


def system_python(tmp_path: Path, torch_version: str = "1.13.0", opencv_version: str = "4.8.0",
                  face_detector_yn: bool = True, numpy_version: str = "1.17.4") -> Path:
    """A python3 whose torch, cv2 and numpy are stand-ins of the given versions (the Nano's community image's)."""
    modules = tmp_path / "site"
    modules.mkdir()
    (modules / "numpy.py").write_text(f"__version__ = {numpy_version!r}\n")
    (modules / "torch.py").write_text(f"__version__ = {torch_version!r}\n"
                                      "class version:\n    cuda = '10.2'\n")
    (modules / "cv2.py").write_text(f"__version__ = {opencv_version!r}\n"
                                    + ("FaceDetectorYN = object\n" if face_detector_yn else ""))
    python = tmp_path / "python3"
    python.write_text(f"#!/bin/sh\nPYTHONPATH={modules} exec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    return python


def install(tmp_path: Path, python: Path, *options: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": str(python), "HOME": str(tmp_path / "home"),
           "STYLECAM_VENV": str(tmp_path / "venv")}
    return subprocess.run(["bash", str(SCRIPT), "--dry-run", *options], env=env, capture_output=True, text=True,
                          timeout=60)


def test_it_keeps_the_systems_torch_and_opencv_and_installs_only_pure_python_packages(tmp_path):
    result = install(tmp_path, system_python(tmp_path))
    assert result.returncode == 0, result.stderr
    commands = result.stdout.splitlines()
    assert any("-m venv --system-site-packages" in line for line in commands)
    pip_lines = [line for line in commands if "pip install" in line]
    assert any("--no-deps -e" in line for line in pip_lines)
    assert not any(word in line for line in pip_lines for word in ("opencv", "torch", "onnxruntime"))
    assert any(line.endswith("-m app doctor ") for line in commands)
    assert any("-m app weights fetch ffhq-256 yunet" in line for line in commands)


def test_an_opencv_too_old_for_yunets_current_model_gets_onnxruntime_without_numpy_2(tmp_path):
    """JetPack 5 and 6 have NumPy 1; pip's NumPy 2 beside their torch and OpenCV breaks both imports."""
    result = install(tmp_path, system_python(tmp_path, opencv_version="4.5.4"))
    assert result.returncode == 0, result.stderr
    assert any(line.rstrip().endswith("pip install --quiet onnxruntime numpy\\<2")
               for line in result.stdout.splitlines())
    assert "cannot run YuNet's current model: adding onnxruntime" in result.stderr


def test_a_system_with_numpy_2_gets_onnxruntime_with_any_numpy(tmp_path):
    result = install(tmp_path, system_python(tmp_path, opencv_version="4.5.4", numpy_version="2.1.0"))
    assert any(line.rstrip().endswith("pip install --quiet onnxruntime numpy")
               for line in result.stdout.splitlines())


def test_the_service_starts_stylecam_at_boot_on_the_csi_camera_with_a_fixed_token(tmp_path):
    result = install(tmp_path, system_python(tmp_path), "--port", "8080")
    home = tmp_path / "home"
    assert "After=network-online.target nvargus-daemon.service" in result.stdout
    assert (f"ExecStart=/bin/sh -c 'exec {tmp_path / 'venv'}/bin/python -m app serve --source csi://0 --port 8080 "
            f"--token \"$(cat {home}/.config/stylecam/token)\"'") in result.stdout
    assert "Restart=on-failure" in result.stdout and "WantedBy=multi-user.target" in result.stdout
    assert "sudo systemctl enable --now stylecam.service" in result.stdout


def test_no_service_installs_none(tmp_path):
    result = install(tmp_path, system_python(tmp_path), "--no-service", "--no-fetch")
    assert result.returncode == 0 and "systemctl" not in result.stdout and "weights fetch" not in result.stdout


def test_a_torch_older_than_1_13_is_refused_before_anything_is_installed(tmp_path):
    result = install(tmp_path, system_python(tmp_path, torch_version="1.10.0"))
    assert result.returncode == 1
    assert "has no PyTorch 1.13 or newer" in result.stderr and result.stdout == ""


@pytest.mark.skipif(not PYTHON_3_6.is_file(), reason="pyenv's Python 3.6 (JetPack 4's) is not installed")
def test_jetpack_4s_python_3_6_is_refused_with_the_ways_that_work(tmp_path):
    result = install(tmp_path, PYTHON_3_6)
    assert result.returncode == 1
    assert "StyleCam needs Python 3.8 or newer (on the original Nano: the Ubuntu 20.04 community image" in result.stderr


def test_an_unknown_option_is_refused(tmp_path):
    result = install(tmp_path, system_python(tmp_path), "--sorce", "0")
    assert result.returncode == 1 and "unknown option --sorce" in result.stderr
