"""``python -m app doctor``: one screen of checks, each problem with its fix, and an exit code that says
whether StyleCam can run."""
from click.testing import CliRunner

from app.cli import doctor as doctor_command
from app.cli.main import cli
from tests.app.system.facts_helpers import ORIGINAL_NANO_JETPACK4, PC


def run_doctor(monkeypatch, facts):
    monkeypatch.setattr(doctor_command, "gather_facts", lambda models: facts)
    return CliRunner().invoke(cli, ["doctor"], catch_exceptions=False)


def test_a_machine_that_can_run_stylecam_gets_exit_code_0_and_every_check(monkeypatch):
    result = run_doctor(monkeypatch, PC)
    assert result.exit_code == 0
    for name in ("python", "torch", "gpu", "cpu", "opencv", "face detector", "gstreamer", "cameras",
                 "model ffhq-256", "disk", "rendering"):
        assert f" {name} " in result.output
    assert result.output.rstrip().endswith("0 warnings, 0 failures: StyleCam can run.")


def test_a_machine_that_cannot_gets_exit_code_1_and_the_fix_under_each_failure(monkeypatch):
    result = run_doctor(monkeypatch, ORIGINAL_NANO_JETPACK4)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    python = next(i for i, line in enumerate(lines) if line.split()[:2] == ["fail", "python"])
    assert lines[python + 1].strip().startswith("fix: JetPack 4.6 brings Python 3.6")
    assert "StyleCam cannot run here until the failures are fixed." in lines[-1]


def test_doctor_asks_for_the_generator_and_the_yunet_this_machine_runs(monkeypatch):
    asked = []
    monkeypatch.setattr(doctor_command, "gather_facts", lambda models: asked.append(models) or PC)
    CliRunner().invoke(cli, ["doctor", "--weights", "stylegan3-t-ffhqu-256"], catch_exceptions=False)
    assert asked[0][0] == ("stylegan3-t-ffhqu-256", True) and asked[0][-1] == ("vgg16", False)
