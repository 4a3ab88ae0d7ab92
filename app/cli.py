"""The command line: ``python -m app serve`` runs StyleCam; ``python -m app weights ...`` manages models;
``project`` and ``stylize`` (``app.cli_projection``) work on photos.

User mistakes (a bad source, a missing or broken weights file, a port in use, ...) end in one line
that says what is wrong and what to do, and a non-zero exit code, never a traceback.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
from pathlib import Path
from types import FrameType
from typing import Callable, List, Optional
from urllib.parse import quote, urlsplit

import click

import weights
from app.auth import generate_token
from app.cli_common import (DEFAULT_DETECTOR_MODEL, DEFAULT_GENERATOR, fetch_model, human_size, models_to_fetch,
                            user_errors)
from app.cli_projection import COMMANDS
from app.config import (API_RESERVED_THREADS, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STEPS, MAX_STEPS, MIN_STEPS,
                        PERCEPTUAL_ENV, TOKEN_ENV, ServerConfig)
from stylegan2.cpu_memory import keep_freed_memory


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """StyleCam: your face, live, replaced by a StyleGAN2 face you edit with sliders."""


for command in COMMANDS:     # project, stylize
    cli.add_command(command)


# --- serve -------------------------------------------------------------------------------------------

@cli.command()
@click.option("--source", default="0", show_default=True,
              help="Camera index (0), device (/dev/video0), video or image file, rtsp:// or http:// URL, "
                   "GStreamer pipeline, or csi://N on a Jetson.")
@click.option("--weights", "weights_name", default=DEFAULT_GENERATOR, show_default=True,
              help="Generator: a registry name (see `weights list`) or a file (NVIDIA .pkl, rosinality .pt, "
                   "StyleCam's own).")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA if available), cpu, cuda or cuda:N.")
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Interface to listen on; 127.0.0.1 keeps StyleCam to this machine.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar=TOKEN_ENV, metavar="TOKEN",
              help=f"Access token to require (default: a new random one, printed). Also ${TOKEN_ENV}.")
@click.option("--no-token", is_flag=True, help="Require no token: anyone on the network can watch the camera.")
@click.option("--detector", default="auto", show_default=True, type=click.Choice(["auto", "yunet", "haar"]),
              help="Face detector; auto = YuNet, or the Haar cascade (with a warning) where YuNet cannot run.")
@click.option("--detector-model", metavar="PATH_OR_NAME", help="Detector model file (default: the registry's).")
@click.option("--detect-width", type=click.IntRange(32), help="Detect on frames shrunk to this width (e.g. 320).")
@click.option("--max-faces", type=click.IntRange(1), help="Replace at most this many faces, the largest.")
@click.option("--presets", "presets_path", type=click.Path(dir_okay=False), help="Slider presets file (JSON).")
@click.option("--jpeg-quality", default=80, show_default=True, type=click.IntRange(1, 100))
@click.option("--loop/--no-loop", default=True, show_default=True, help="Play a video file again at its end.")
@click.option("--threads", default=ServerConfig.threads, show_default=True,
              type=click.IntRange(API_RESERVED_THREADS + 1),
              help=f"Server threads; each watching browser holds one ({API_RESERVED_THREADS} stay free for the API).")
@click.option("--offline", is_flag=True, help="Never download: fail if a registry model is missing.")
@click.option("--projections", "projections_dir", type=click.Path(file_okay=False),
              help="Folder of saved projections (default: projections/ here, or $STYLECAM_PROJECTIONS).")
@click.option("--perceptual", default="vgg16", show_default=True, envvar=PERCEPTUAL_ENV,
              help="Perceptual network for projection: a registry name or a TorchScript file.")
@click.option("--projector-url", metavar="URL",
              help="Send projections to another StyleCam with the same model, e.g. http://desktop:5000.")
@click.option("--projector-token", envvar="STYLECAM_PROJECTOR_TOKEN", metavar="TOKEN",
              help="That StyleCam's access token. Also $STYLECAM_PROJECTOR_TOKEN.")
@click.option("--projector-fallback/--no-projector-fallback", default=True, show_default=True,
              help="Project on this device when the remote projector fails.")
@click.option("--projection-steps", default=DEFAULT_STEPS, show_default=True,
              type=click.IntRange(MIN_STEPS, MAX_STEPS),
              help="Optimisation steps of a projection (fewer: faster, less alike).")
def serve(source: str, weights_name: str, device: str, host: str, port: int, token: Optional[str],
          no_token: bool, detector: str, detector_model: Optional[str], detect_width: Optional[int],
          max_faces: Optional[int], presets_path: Optional[str], jpeg_quality: int, loop: bool, threads: int,
          offline: bool, projections_dir: Optional[str], perceptual: str, projector_url: Optional[str],
          projector_token: Optional[str], projector_fallback: bool, projection_steps: int) -> None:
    """Run StyleCam: open the camera, serve the page, print the address to open."""
    if token and no_token:
        raise click.UsageError("--token and --no-token contradict each other: give one")
    if projector_url and urlsplit(projector_url).scheme not in ("http", "https"):
        raise click.BadParameter(f"expected an address like http://desktop:5000, got {projector_url!r}",
                                 param_hint="--projector-url")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    for name in models_to_fetch(weights_name, detector, detector_model):
        if not offline:
            click.echo(f"{name} is not downloaded yet: fetching it now (once).")
            fetch_model(name)
        elif not (name == DEFAULT_DETECTOR_MODEL and detector == "auto"):   # auto falls back to Haar
            raise click.ClickException(f"model '{name}' is not downloaded and --offline forbids fetching it; "
                                       f"run: python -m app weights fetch {name}")

    from app.pipeline import Pipeline, PipelineConfig
    from app.server import StyleCamServer

    config = ServerConfig(host=host, port=port, token=None if no_token else token or generate_token(),
                          threads=threads)
    with user_errors():
        pipeline = Pipeline(PipelineConfig(source=source, weights=weights_name, device=device, detector=detector,
                                           detector_model=detector_model, detect_width=detect_width,
                                           max_faces=max_faces, jpeg_quality=jpeg_quality,
                                           presets_path=presets_path, loop=loop, projections_dir=projections_dir,
                                           perceptual=perceptual, projector_url=projector_url,
                                           projector_token=projector_token, projector_fallback=projector_fallback,
                                           projection_steps=projection_steps))
        try:
            server = StyleCamServer(config, pipeline)
        except OSError as error:
            raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}; is StyleCam already "
                                       f"running? Pick another --port") from None
        server.start()
    stop_signals = StopSignals(server.request_stop)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop_signals)
    announce(config, server.port, pipeline)
    server.serve_forever()
    click.echo("StyleCam stopped.")


class StopSignals:
    """The Ctrl-C and SIGTERM handler: the first signal stops StyleCam cleanly; another one while it is
    stopping (when, say, a camera driver hangs) quits at once, without waiting for anything."""

    def __init__(self, request_stop: Callable[[], None], quit_now: Callable[[int], None] = os._exit) -> None:
        self.request_stop = request_stop
        self.quit_now = quit_now
        self.stopping = False

    def __call__(self, signum: int, frame: Optional[FrameType] = None) -> None:
        if self.stopping:
            click.echo("Quitting at once.", err=True)
            self.quit_now(128 + signum)          # the shell's convention for "ended by this signal"
            return
        self.stopping = True
        click.echo("Stopping... (press Ctrl-C again to quit at once)", err=True)
        self.request_stop()


def announce(config: ServerConfig, port: int, pipeline) -> None:
    """Print where to open StyleCam, Jupyter-style: the full URL with the token."""
    query = f"/?token={quote(config.token, safe='')}" if config.token else "/"
    hosts = [config.host] if config.host not in ("0.0.0.0", "::", "") else [lan_address(), "127.0.0.1"]
    click.echo(f"\nStyleCam is running ({pipeline.source.describe()} on {pipeline.device}). Open in a browser:")
    for host in filter(None, hosts):
        shown = f"[{host}]" if ":" in host else host
        click.secho(f"    http://{shown}:{port}{query}", bold=True)
    if config.token is None:
        click.secho(f"warning: no access token (--no-token): anyone who can reach port {port} can watch "
                    f"the camera", fg="yellow", err=True)
    click.echo(f"Projections (\"Project my face\"): {pipeline.projection_jobs.projector.describe()}, saved in "
               f"{pipeline.projections.root}")
    try:
        pipeline.projection_jobs.projector.check_ready()
    except RuntimeError as error:
        click.secho(f"note: {error}", fg="yellow", err=True)
    click.echo("Press Ctrl-C to stop.\n")


def lan_address() -> Optional[str]:
    """This machine's address on its local network (what a phone should open), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))     # UDP connect sends nothing; it only picks a route
            return probe.getsockname()[0]
        except OSError:
            return None


# --- weights -----------------------------------------------------------------------------------------

@cli.group("weights")
def weights_group() -> None:
    """List, download and convert model files (stored in weights/ or $STYLECAM_WEIGHTS)."""


@weights_group.command("list")
def weights_list() -> None:
    """Show every known model: file, whether it is present and passes its checksum, size, URL."""
    rows = [("NAME", "FILE", "PRESENT", "VERIFIED", "SIZE", "URL")]
    for name, model in weights.REGISTRY.items():
        path = weights.local_path(name)
        present = path.is_file()
        size = path.stat().st_size if present else model.size
        rows.append((name, model.filename, "yes" if present else "no", _verification(name) if present else "-",
                     human_size(size), model.url))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    click.echo(f"\nfolder: {weights.weights_dir()}")


@weights_group.command("fetch")
@click.argument("names", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Download again even if a verified copy is present.")
@click.option("--url", metavar="URL", help="Download from this address instead (a mirror); one NAME only.")
def weights_fetch(names: List[str], force: bool, url: Optional[str]) -> None:
    """Download models by NAME (see `weights list`) and check their sha256."""
    if url and len(names) > 1:
        raise click.UsageError("--url gives the address of one model: name exactly one")
    for name in names:
        fetch_model(name, force=force, url=url)


@weights_group.command("convert")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def weights_convert(source: Path, target: Path) -> None:
    """Convert an NVIDIA pickle or a rosinality checkpoint into StyleCam's own safe format."""
    import stylegan2

    try:
        meta = stylegan2.convert(source, target)
    except (stylegan2.WeightsFormatError, weights.WeightsError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {target} (from the {meta['source_format']} file {source.name})")


def _verification(name: str) -> str:
    try:
        weights.verify(name)
    except weights.WeightsError:
        return "MISMATCH"
    if weights.get(name).sha256:
        return "yes"
    return "first-use record" if weights.expected_sha256(name) else "no checksum"


def main() -> None:
    keep_freed_memory()   # generator runs reuse their activations' memory instead of page-faulting it in anew
    cli(prog_name="python -m app")
