"""``python -m app serve``: run StyleCam (the live pipeline, projection and the web page) until stopped."""
from __future__ import annotations

import logging
import os
import signal
import socket
from types import FrameType
from typing import Callable, Optional, Tuple
from urllib.parse import quote, urlsplit

import click

import weights
from app.cli.common import fetch_model, model_options, models_to_fetch, user_errors
from app.composition import StyleCam, StyleCamConfig
from app.live.pipeline import MAX_DETECT_EVERY, LivePipeline
from app.models import DETECTOR, GENERATOR
from app.projection.jobs import DEFAULT_STEPS, MAX_STEPS, MIN_STEPS
from app.rendering import BACKEND_CHOICES
from app.web.auth import generate_token
from app.web.config import API_RESERVED_THREADS, DEFAULT_HOST, DEFAULT_PORT, TOKEN_ENV, ServerConfig
from app.web.server import StyleCamServer
from stylegan2.inference import PRECISIONS


@click.command()
@click.option("--source", default="0", show_default=True,
              help="Camera index (0), device (/dev/video0), video or image file, rtsp:// or http:// URL, "
                   "GStreamer pipeline, or csi://N on a Jetson.")
@model_options
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Interface to listen on; 127.0.0.1 keeps StyleCam to this machine.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar=TOKEN_ENV, metavar="TOKEN",
              help=f"Access token to require (default: a new random one, printed). Also ${TOKEN_ENV}.")
@click.option("--no-token", is_flag=True, help="Require no token: anyone on the network can watch the camera.")
@click.option("--detector", default="auto", show_default=True, type=click.Choice(["auto", "yunet", "haar"]),
              help="Face detector; auto = YuNet, or the Haar cascade (with a warning) where YuNet cannot run.")
@click.option("--detect-width", type=click.IntRange(32), help="Detect on frames shrunk to this width (e.g. 320).")
@click.option("--max-faces", type=click.IntRange(1), help="Replace at most this many faces, the largest.")
@click.option("--detect-every", default=1, show_default=True, type=click.IntRange(1, MAX_DETECT_EVERY), metavar="K",
              help="Detect faces on every K-th frame only; optical flow moves them with the heads in between "
                   "(a slow board spends its CPU on the rest).")
@click.option("--virtual-camera", metavar="DEVICE",
              help="Also write the stylized stream to this v4l2loopback device (e.g. /dev/video10), a webcam for "
                   "video calls; needs: sudo modprobe v4l2loopback devices=1 video_nr=10 card_label=StyleCam "
                   "exclusive_caps=1.")
@click.option("--presets", "presets_path", type=click.Path(dir_okay=False), help="Slider presets file (JSON).")
@click.option("--directions", "directions_paths", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="A directions file (python -m app directions ... --out FILE): each of its directions becomes a "
                   "slider (-3..+3 steps). Repeatable.")
@click.option("--jpeg-quality", default=80, show_default=True, type=click.IntRange(1, 100))
@click.option("--idle-after", default=10.0, show_default=True, type=click.FloatRange(0),
              help="Seconds without a viewer after which the live loop idles (camera closed, no CPU); 0 = never.")
@click.option("--loop/--no-loop", default=True, show_default=True, help="Play a video file again at its end.")
@click.option("--threads", default=ServerConfig.threads, show_default=True,
              type=click.IntRange(API_RESERVED_THREADS + 1),
              help=f"Server threads; each watching browser holds one ({API_RESERVED_THREADS} stay free for the API).")
@click.option("--offline", is_flag=True, help="Never download: fail if a registry model is missing.")
@click.option("--projector-url", metavar="URL",
              help="Send projections to another StyleCam with the same model, e.g. http://desktop:5000.")
@click.option("--projector-token", envvar="STYLECAM_PROJECTOR_TOKEN", metavar="TOKEN",
              help="That StyleCam's access token. Also $STYLECAM_PROJECTOR_TOKEN.")
@click.option("--projector-fallback/--no-projector-fallback", default=True, show_default=True,
              help="Project on this device when the remote projector fails.")
@click.option("--projection-steps", default=DEFAULT_STEPS, show_default=True,
              type=click.IntRange(MIN_STEPS, MAX_STEPS),
              help="Optimisation steps of a projection (fewer: faster, less alike).")
@click.option("--backend", default="auto", show_default=True, type=click.Choice(BACKEND_CHOICES),
              help="What renders the generator: torch; onnx (onnxruntime, exported once beside the model); "
                   "tensorrt (an engine built once with `python -m app export tensorrt`); auto = tensorrt where "
                   "an engine is built, else torch.")
@click.option("--precision", default="auto", show_default=True, type=click.Choice(PRECISIONS),
              help="auto = fp16 on CUDA, bf16 on CPUs with AVX512-BF16/AMX, else fp32; native = as the model "
                   "runs by itself.")
@click.option("--models-dir", type=click.Path(file_okay=False),
              help="Folder of generators to switch to from the page (blended ones too); default: $STYLECAM_MODELS "
                   "or ~/.local/share/stylecam/models. Downloaded registry generators are always listed.")
def serve(source: str, weights_name: str, device: str, detector_model: Optional[str], perceptual: str,
          projections_dir: Optional[str], host: str, port: int, token: Optional[str], no_token: bool,
          detector: str, detect_width: Optional[int], max_faces: Optional[int], detect_every: int,
          virtual_camera: Optional[str], presets_path: Optional[str], directions_paths: Tuple[str, ...],
          jpeg_quality: int, idle_after: float, loop: bool, threads: int, offline: bool,
          projector_url: Optional[str], projector_token: Optional[str], projector_fallback: bool,
          projection_steps: int, backend: str, precision: str, models_dir: Optional[str]) -> None:
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
            try:
                fetch_model(name)
            except click.ClickException as error:
                raise click.ClickException(f"{error.message}. {without_download(name)}") from None
        elif not (weights.get(name).kind == "detector" and detector == "auto"):   # auto falls back to Haar
            raise click.ClickException(f"model '{name}' is not downloaded and --offline forbids fetching it; "
                                       f"run: python -m app weights fetch {name} where there is a connection, "
                                       f"or give the file with {model_option(name)} FILE")

    config = ServerConfig(host=host, port=port, token=None if no_token else token or generate_token(),
                          threads=threads)
    with user_errors():
        stylecam = StyleCam(StyleCamConfig(
            source=source, weights=weights_name, device=device, detector=detector, detector_model=detector_model,
            detect_width=detect_width, max_faces=max_faces, detect_every=detect_every, virtual_camera=virtual_camera,
            jpeg_quality=jpeg_quality,
            idle_after_s=idle_after or None, presets_path=presets_path, directions_paths=tuple(directions_paths),
            loop=loop, projections_dir=projections_dir,
            perceptual=perceptual, projector_url=projector_url, projector_token=projector_token,
            projector_fallback=projector_fallback, projection_steps=projection_steps, backend=backend,
            precision=precision, models_dir=models_dir))
        try:
            server = StyleCamServer(config, stylecam)
        except OSError as error:
            raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}; is StyleCam already "
                                       f"running? Pick another --port") from None
        server.start()
    stop_signals = StopSignals(server.request_stop)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop_signals)
    announce(config, server.port, stylecam)
    server.serve_forever()
    click.echo("StyleCam stopped.")


def model_option(name: str) -> str:
    """The option that gives the registry model ``name`` as a file instead."""
    return DETECTOR if weights.get(name).kind == "detector" else GENERATOR


def without_download(name: str) -> str:
    """What to do when a model cannot be downloaded: give the files StyleCam needs, and say it is offline."""
    return (f"Without a connection, give the model as a file: {model_option(name)} FILE (copy it from a machine "
            f"that has one, where `python -m app weights fetch {name}` saves it); give every model StyleCam needs "
            f"this way ({GENERATOR} FILE for the generator, {DETECTOR} FILE for the face detector) and add "
            f"--offline, so that it never tries to download")


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


def announce(config: ServerConfig, port: int, stylecam: StyleCam) -> None:
    """Print where to open StyleCam, Jupyter-style: the full URL with the token."""
    query = f"/?token={quote(config.token, safe='')}" if config.token else "/"
    hosts = [config.host] if config.host not in ("0.0.0.0", "::", "") else [lan_address(), "127.0.0.1"]
    click.echo(f"\nStyleCam is running ({stylecam.pipeline.source.describe()} on {stylecam.device}; rendering: "
               f"{stylecam.renderer.describe()}; faces: {describe_detector(stylecam.pipeline)}). Open in a browser:")
    for host in filter(None, hosts):
        shown = f"[{host}]" if ":" in host else host
        click.secho(f"    http://{shown}:{port}{query}", bold=True)
    if config.token is None:
        click.secho(f"warning: no access token (--no-token): anyone who can reach port {port} can watch "
                    f"the camera", fg="yellow", err=True)
    if stylecam.pipeline.virtual_camera is not None:
        click.echo(f"Virtual camera: {stylecam.pipeline.virtual_camera.path} (choose it as the camera in the video "
                   f"call; it shows the stylized stream)")
    projection = stylecam.projection
    click.echo(f"Projections (\"Project my face\"): {projection.jobs.projector.describe()}, saved in "
               f"{projection.store.root}")
    try:
        projection.check_ready()
    except RuntimeError as error:
        click.secho(f"note: {error}", fg="yellow", err=True)
    click.echo("Press Ctrl-C to stop.\n")


def describe_detector(pipeline: LivePipeline) -> str:
    """The live detector and what runs it (e.g. "YuNet (face_detection_yunet_2026may.onnx) in OpenCV 4.10.0")."""
    detector = pipeline.detector
    return getattr(detector, "description", detector.name)


def lan_address() -> Optional[str]:
    """This machine's address on its local network (what a phone should open), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))     # UDP connect sends nothing; it only picks a route
            return probe.getsockname()[0]
        except OSError:
            return None
