"""The Jetson's L4T release and JetPack, read from /etc/nv_tegra_release and the device tree."""
from app.system.jetson import board_model, l4t_release, parse_nv_tegra_release

NANO = "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, DATE: Sat Feb 19 17:05:08 UTC 2022"
ORIN = "# R35 (release), REVISION: 2.1, GCID: 32413640, BOARD: t186ref, EABI: aarch64, DATE: Tue Jan 24 23:38:33 UTC 2023"


def test_the_original_nanos_release_is_jetpack_4_6():
    release = parse_nv_tegra_release(NANO)
    assert (release.major, release.revision, release.board, release.jetpack) == (32, "7.1", "t210ref", "4.6")
    assert str(release) == "L4T r32.7.1"


def test_l4t_r35_is_jetpack_5_and_a_file_of_something_else_is_no_release():
    assert parse_nv_tegra_release(ORIN).jetpack == "5"
    assert parse_nv_tegra_release("Ubuntu 22.04") is None


def test_a_machine_without_the_files_is_not_a_jetson(tmp_path):
    assert l4t_release(tmp_path / "nv_tegra_release") is None
    assert board_model(tmp_path / "model") is None


def test_the_board_name_loses_the_device_trees_trailing_nul(tmp_path):
    model = tmp_path / "model"
    model.write_bytes(b"NVIDIA Jetson Nano Developer Kit\0")
    assert board_model(model) == "NVIDIA Jetson Nano Developer Kit"
    release = tmp_path / "nv_tegra_release"
    release.write_text(NANO + "\n")
    assert l4t_release(release).jetpack == "4.6"
