"""The ``stylecam`` command group: ``serve`` runs StyleCam; ``weights`` manages models; ``project`` and
``stylize`` work on photos; ``generate``, ``mix``, ``interpolate``, ``blend`` and ``directions`` are the
studio; ``dataset``, ``train`` and ``metrics`` make and measure your own models.

User mistakes (a bad source, a missing or broken weights file, a port in use, ...) end in one line
that says what is wrong and what to do, and a non-zero exit code, never a traceback.
"""
from __future__ import annotations

import click

from app.cli.dataset import dataset_command
from app.cli.directions import directions
from app.cli.metrics import metrics_group
from app.cli.models import weights_group
from app.cli.photos import project_command, stylize_command
from app.cli.serve import serve
from app.cli.studio import blend, generate, interpolate, mix
from app.cli.train import train_command
from stylegan2.cpu_memory import keep_freed_memory


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """StyleCam: your face, live, replaced by a StyleGAN face you edit with sliders."""


for command in (serve, weights_group, project_command, stylize_command, generate, mix, interpolate, blend,
                directions, dataset_command, train_command, metrics_group):
    cli.add_command(command)


def main() -> None:
    keep_freed_memory()   # generator runs reuse their activations' memory instead of page-faulting it in anew
    cli()
