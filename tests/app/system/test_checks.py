"""The doctor's checks on made-up machines: what each finds, what it calls a failure, and the fix it gives."""
from dataclasses import replace

import pytest

from app.system.checks import (
    FAIL,
    OK,
    WARN,
    can_run,
    check_cameras,
    check_disk,
    check_gpu,
    check_gstreamer,
    check_jetson,
    check_memory,
    check_models,
    check_python,
    check_torch,
    check_yunet,
    rendering_choice,
    run_checks,
)
from app.system.facts import ModelFacts
from app.system.jetson import L4tRelease
from tests.app.system.facts_helpers import NANO_UBUNTU_20_04, ORIGINAL_NANO_JETPACK4, ORIN_JETPACK5, PC


def by_name(checks):
    return {check.name: check for check in checks}


def test_a_pc_with_its_models_runs_with_no_warning_and_renders_bf16_on_its_cpu():
    checks = run_checks(PC)
    assert can_run(checks) and all(check.status == OK for check in checks)
    assert by_name(checks)["rendering"].detail == ("--backend auto --precision auto: torch, bf16 (the CPU "
                                                   "computes bf16 natively)")


def test_jetpack_4_on_the_original_nano_cannot_run_and_is_told_the_two_ways_that_can():
    checks = by_name(run_checks(ORIGINAL_NANO_JETPACK4))
    assert checks["python"].status == FAIL and checks["torch"].status == FAIL
    assert "Nano image (Dockerfile.jetson with the r32 base)" in checks["python"].fix
    assert "scripts/install-jetson.sh on the Ubuntu 20.04 community image" in checks["python"].fix
    assert checks["jetson"].detail.startswith("L4T r32.7.1 (JetPack 4.6), NVIDIA Jetson Nano Developer Kit")
    assert not can_run(list(checks.values()))


def test_the_nano_on_the_ubuntu_20_04_image_runs_and_finds_yunet_and_the_csi_camera():
    checks = by_name(run_checks(NANO_UBUNTU_20_04))
    assert can_run(list(checks.values()))
    assert checks["face detector"].detail == "YuNet 'yunet' in OpenCV"
    assert checks["cameras"].detail == "CSI through Argus (csi://0)"
    assert checks["gpu"].detail == "NVIDIA Tegra X1, 4.0 GB, compute 5.3; fp16 yes, bf16 no"
    assert checks["memory"].status == WARN and "--max-faces 1 --detect-width 320" in checks["memory"].fix


def test_jetpack_5s_opencv_runs_the_old_yunet_and_says_why():
    check = check_yunet(ORIN_JETPACK5)
    assert check.status == OK
    assert check.detail.startswith("YuNet 'yunet-2022mar' in OpenCV (OpenCV 4.5.4 cannot read YuNet's current model")


def test_without_face_detector_yn_onnxruntime_runs_yunet_and_without_either_haar_stands_in():
    with_onnxruntime = replace(ORIGINAL_NANO_JETPACK4, onnxruntime="1.16.0")
    assert check_yunet(with_onnxruntime).detail.startswith("YuNet 'yunet' in onnxruntime 1.16.0 (OpenCV 4.1.1 has "
                                                           "no cv2.FaceDetectorYN")
    haar = check_yunet(ORIGINAL_NANO_JETPACK4)
    assert (haar.status, haar.fix) == (WARN, "pip install onnxruntime (runs YuNet on any OpenCV)")
    nothing = check_yunet(replace(ORIGINAL_NANO_JETPACK4, haar=False))
    assert nothing.status == FAIL


def test_a_jetson_whose_torch_cannot_use_the_gpu_is_warned_with_the_wheel_and_docker_flag():
    check = check_gpu(replace(ORIN_JETPACK5, cuda_available=False, gpu=None, torch_cuda=None))
    assert check.status == WARN and "this PyTorch is a CPU build" in check.detail
    assert "NVIDIA's PyTorch for JetPack 5" in check.fix and "--runtime nvidia" in check.fix


def test_old_python_and_torch_fail_elsewhere_too_with_a_plain_fix():
    assert check_python(replace(PC, python="3.7.16")).fix == "install Python 3.8 or newer"
    check = check_torch(replace(PC, torch="1.12.1"))
    assert check.status == FAIL and check.fix == "pip install 'torch>=1.13'"
    assert check_torch(replace(PC, torch="1.13.1")).status == OK


def test_csi_cameras_without_any_gstreamer_on_a_jetson_are_a_warning_with_the_packages():
    check = check_gstreamer(replace(ORIN_JETPACK5, opencv_gstreamer=False, gst_launch=None))
    assert check.status == WARN and "apt install gstreamer1.0-tools" in check.fix
    assert check_gstreamer(replace(ORIN_JETPACK5, opencv_gstreamer=False)).detail == (
        "not in OpenCV: csi:// cameras are read through /usr/bin/gst-launch-1.0")


def test_no_camera_is_a_warning_with_the_docker_flags_on_a_jetson():
    check = check_cameras(replace(ORIN_JETPACK5, argus_socket=False))
    assert check.status == WARN
    assert "--device /dev/video0" in check.fix and "-v /tmp/argus_socket:/tmp/argus_socket" in check.fix


def test_a_damaged_model_fails_and_a_missing_one_is_fetched_at_the_first_start():
    models = (ModelFacts("ffhq-256", "/m/ffhq.pkl", True, "mismatch", True),
              ModelFacts("yunet", "/m/yunet.onnx", False, "", True))
    damaged, missing = check_models(replace(PC, models=models))
    assert damaged.status == FAIL and damaged.fix.endswith("python -m app weights fetch ffhq-256 --force")
    assert missing.status == WARN and "serve fetches it at its first start" in missing.fix


def test_too_little_disk_for_the_models_still_to_download_fails():
    models = (ModelFacts("ffhq-256", "/m/ffhq.pkl", False, "", True),)
    assert check_disk(replace(PC, models=models, free_disk_bytes=200 << 20)).status == FAIL
    assert check_disk(replace(PC, free_disk_bytes=200 << 20)).status == OK    # everything is downloaded


def test_a_small_board_is_told_the_low_memory_settings():
    assert check_memory(replace(PC, memory_bytes=4 << 30)).status == WARN
    assert check_memory(PC).status == OK


def test_an_unknown_l4t_release_is_a_warning():
    assert check_jetson(replace(ORIN_JETPACK5, l4t=L4tRelease(38, "1", ""))).status == WARN


@pytest.mark.parametrize("facts, engine, expected", [
    (ORIN_JETPACK5, False, ("torch", "fp16")),
    (ORIN_JETPACK5, True, ("tensorrt", "fp16")),
    (replace(PC, cpu_flags=frozenset({"avx2"})), False, ("torch", "fp32")),
    (PC, False, ("torch", "bf16")),
])
def test_auto_rendering_picks_tensorrt_only_with_a_cached_engine_and_bf16_only_on_native_cpus(facts, engine,
                                                                                          expected):
    choice = rendering_choice(facts, engine)
    assert (choice.backend, choice.precision) == expected
