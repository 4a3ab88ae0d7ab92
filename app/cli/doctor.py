"""``python -m app doctor``: one screen on whether and how StyleCam runs here, each problem with its fix.

It checks Python, PyTorch and its CUDA, the GPU (memory, fp16/bf16), the CPU, OpenCV (FaceDetectorYN,
GStreamer), which YuNet can run, cameras (and CSI through Argus on a Jetson), the models and their sha256,
free disk, the Jetson's L4T/JetPack release, and what ``serve --backend auto --precision auto`` picks.
It exits with 1 where StyleCam cannot run, so scripts (and the Jetson installer) can stop there.
"""
from __future__ import annotations

import sys

import click
import torch

import weights
from app import models
from app.rendering import cached_engine, model_digest
from app.system.checks import FAIL, OK, WARN, Check, can_run, rendering_choice, run_checks
from app.system.facts import SystemFacts, gather_facts
from detectors import this_machines_plan

COLOURS = {OK: "green", WARN: "yellow", FAIL: "red"}


@click.command()
@click.option("--weights", "weights_name", default=models.DEFAULT_GENERATOR, show_default=True,
              help="The generator serve will run (a registry name is checked against its sha256).")
def doctor(weights_name: str) -> None:
    """Check this machine for StyleCam: what works, what is missing, and how to fix it."""
    plan = this_machines_plan()
    wanted = [(weights_name, True)] if weights_name in weights.REGISTRY else []
    wanted += [(plan.model if plan else models.DEFAULT_DETECTOR, True), (models.DEFAULT_PERCEPTUAL, False)]
    facts = gather_facts(wanted)
    checks = run_checks(facts, engine_cached=engine_is_cached(facts, weights_name))
    click.echo("StyleCam doctor")
    for check in checks:
        show(check)
    warnings, failures = (sum(check.status == status for check in checks) for status in (WARN, FAIL))
    verdict = "StyleCam can run" if can_run(checks) else "StyleCam cannot run here until the failures are fixed"
    click.secho(f"{warnings} warning{'s' * (warnings != 1)}, {failures} failure{'s' * (failures != 1)}: {verdict}.",
                bold=True, fg=None if can_run(checks) else "red")
    sys.exit(0 if can_run(checks) else 1)


def show(check: Check) -> None:
    click.echo("  " + click.style(f"{check.status:<5}", fg=COLOURS[check.status]) + f" {check.name:<16} {check.detail}")
    if check.fix:
        click.echo(f"{'':25}fix: {check.fix}")


def engine_is_cached(facts: SystemFacts, weights_name: str) -> bool:
    """Whether a TensorRT engine for this model and GPU is cached (what makes auto pick tensorrt)."""
    if not (facts.cuda_available and facts.tensorrt and weights_name in weights.REGISTRY
            and weights.is_available(weights_name)):
        return False
    path = weights.local_path(weights_name)
    precision = rendering_choice(facts).precision
    return cached_engine(path, model_digest(path, weights_name), precision, torch.device("cuda")) is not None
