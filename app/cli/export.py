"""``python -m app export``: the generator's synthesis network as an ONNX file, and a TensorRT engine built
from it, cached beside the model for ``serve --backend onnx`` and ``serve --backend tensorrt``.

    python -m app export onnx                        # <model>.synthesis-<digest>-v1.onnx, checked against PyTorch
    python -m app export tensorrt --precision fp16   # runs trtexec once (minutes on a Jetson)
    python -m app export tensorrt --dry-run          # prints the trtexec command instead
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional

import click
import torch

import weights
from app import models
from app.cli.common import fetch_model, user_errors
from app.rendering import ENGINE_MAX_BATCH, RenderingUnavailable, engine_build_command, ensure_onnx, model_digest
from stylegan2.hardware import resolve_device
from stylegan2.inference import InferenceGenerator, resolve_precision
from stylegan2.inference.export import export_onnx
from stylegan2.inference.onnx_backend import onnxruntime
from stylegan2.inference.quality import compare

weights_option = click.option("--weights", "weights_name", default=models.DEFAULT_GENERATOR, show_default=True,
                              help="Generator: a registry name (fetched if missing) or a file.")


@click.group("export")
def export_group() -> None:
    """Export the generator for the onnx and tensorrt backends (cached beside the model)."""


@export_group.command("onnx")
@weights_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here instead of the cache beside the model (serve does not look there).")
def export_onnx_command(weights_name: str, out: Optional[Path]) -> None:
    """Export the synthesis network to ONNX and check it against PyTorch in fp32."""
    with user_errors():
        generator, model_path = load(weights_name, torch.device("cpu"))
        if out is not None:
            path = export_onnx(generator.synthesis, out)
        else:
            path = ensure_onnx(generator, model_path, model_digest(model_path, registry_name(weights_name)))
    click.echo(f"ONNX: {path}")
    if onnxruntime is None:
        click.echo("(onnxruntime is not installed: not checked; pip install onnxruntime)")
        return
    ws = generator.mapping(torch.randn(2, generator.z_dim, generator=torch.Generator().manual_seed(0)),
                           truncation_psi=0.7).detach()
    with torch.no_grad():
        reference = generator.synthesis(ws, force_fp32=True)
    exported = InferenceGenerator(generator, backend="onnx", exported_file=path).synthesis(ws)
    quality = compare(exported, reference)
    click.echo(f"onnxruntime against PyTorch fp32: max abs difference {quality['max_abs_diff']:.2e}, "
               f"PSNR {quality['psnr_db']:.1f} dB")


@export_group.command("tensorrt")
@weights_option
@click.option("--precision", default="auto", show_default=True, type=click.Choice(["auto", "fp32", "fp16"]),
              help="The engine's precision; auto = fp16 for models with fp16 resolutions (NVIDIA's).")
@click.option("--max-batch", default=ENGINE_MAX_BATCH, show_default=True, type=click.IntRange(1),
              help="Largest batch the engine takes (the live app renders 1).")
@click.option("--dry-run", is_flag=True, help="Print the trtexec command instead of running it.")
def export_tensorrt_command(weights_name: str, precision: str, max_batch: int, dry_run: bool) -> None:
    """Build the TensorRT engine serve --backend tensorrt loads (trtexec; minutes on a Jetson)."""
    with user_errors():
        device = resolve_device("cuda")
        generator, model_path = load(weights_name, device)
        try:
            concrete = resolve_precision(precision, generator, device, backend="tensorrt")
        except ValueError as error:
            raise RenderingUnavailable(str(error)) from None
        command = engine_build_command(generator, model_path, model_digest(model_path, registry_name(weights_name)),
                                       concrete, device, max_batch)
    click.echo(" ".join(command))
    if dry_run:
        return
    if subprocess.run(command).returncode != 0:
        raise click.ClickException("trtexec failed (its output is above); no engine was saved")
    click.echo(f"engine: {command[2].split('=', 1)[1]}")


def load(weights_name: str, device: torch.device):
    """The generator (fetched first if it is a registry model not yet downloaded) and its file."""
    if weights_name in weights.REGISTRY and not weights.is_available(weights_name):
        fetch_model(weights_name)
    path = models.model_path(weights_name, models.GENERATOR)
    return models.load_generator(weights_name, device).generator, path


def registry_name(weights_name: str) -> Optional[str]:
    return weights_name if weights_name in weights.REGISTRY else None
