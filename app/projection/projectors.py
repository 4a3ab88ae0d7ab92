"""What runs a projection job: this device (``LocalProjector``) or another StyleCam (``RemoteProjector``).

A small device (a Jetson, a laptop) can hand its projections to a stronger machine running StyleCam
with the same generator, as the original project did: ``serve --projector-url http://desktop:5000``.
The remote one is driven over its ordinary API: the aligned face is uploaded (``aligned=1``, with the
local generator's fingerprint so that a different model is refused), the job is polled and its
progress relayed, and the finished projection's files are downloaded, checked like any saved
projection (images of the generator's size, checked from their headers before decoding, like uploads),
and then deleted from the remote machine (it was someone's face, not the remote's).

When the remote machine cannot do the job (unreachable, wrong token, another model, busy, timed out,
failed), the job falls back to this device if a local projector is given, and its ``note`` says why;
without one the job fails with that reason.
"""
from __future__ import annotations

import io
import json
import logging
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import cv2
import torch

from app import models
from app.images import to_engine
from app.projection.folders import LATENT_FILE, META_FILE, RESULT_FILE, TARGET_FILE, load_projection
from app.projection.jobs import ProjectionJob, ProjectorUnavailable
from app.projection.store import NAME_PATTERN
from app.projection.targets import TargetError, decode_image
from stylegan2.inference.precision import autocast_precision
from stylegan2.projection.perceptual import PerceptualNetwork
from stylegan2.projection.projector import ProjectionCancelled, ProjectionResult, project
from stylegan2.projection.schedule import ProjectionConfig

log = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 64 << 20    # Largest file accepted from a remote projector (a latent is a few KB).
NO_PERCEPTUAL_NETWORK = ("This StyleCam cannot make projections: the network that compares faces (vgg16) is not "
                         "installed on it. Whoever runs StyleCam can install it; its log says how.")


class LocalProjector:
    """Projects on this device with the app's generator and the perceptual network (loaded at first use)."""

    def __init__(self, generator: torch.nn.Module, perceptual: Union[str, Path] = "vgg16") -> None:
        self.generator = generator              # Shared with the live pipeline; the projector copies it.
        self.perceptual_name = perceptual       # Registry name ("vgg16") or a TorchScript file.
        self.device = next(generator.parameters()).device
        # bf16 on CPUs with native bf16: scripts/bench_projection.py (fast vs fast_bf16) checks that the final
        # LPIPS stays within 2 % of fp32's.
        self.precision = autocast_precision(self.device, architecture=generator.architecture)
        self._perceptual: Optional[PerceptualNetwork] = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"local ({self.device}, {self.precision})"

    def check_ready(self) -> None:
        try:
            models.model_path(self.perceptual_name, models.PERCEPTUAL)
        except models.ModelUnavailable as error:
            raise ProjectorUnavailable(f"projection needs the perceptual network: {error}",
                                       reason=NO_PERCEPTUAL_NETWORK) from None

    def project(self, job: ProjectionJob) -> ProjectionResult:
        job.use_backend(self.describe())
        return project(self.generator, to_engine(job.target.image, self.device), self.perceptual(),
                       job.options.config().replace(precision=self.precision),
                       progress=lambda step: job.report(step.step, step.num_steps, step.losses["total"],
                                                        step.preview, step.phase, step.phase_step,
                                                        step.phase_steps),
                       cancel=job.cancel_event)

    def perceptual(self) -> PerceptualNetwork:
        """The perceptual network, loaded (and its checksum verified) once."""
        with self._lock:
            if self._perceptual is None:
                self._perceptual = models.load_perceptual_network(self.perceptual_name, self.device)
            return self._perceptual


class RemoteProjectorError(RuntimeError):
    """The remote StyleCam could not do the job; the message says what happened and where."""


class RemoteProjector:
    """Sends jobs to another StyleCam's API; falls back to ``fallback`` (if given) when that fails."""

    def __init__(self, url: str, token: Optional[str], generator: torch.nn.Module, fingerprint: str,
                 fallback: Optional[LocalProjector] = None, timeout_s: float = 10.0, poll_s: float = 0.5,
                 max_wait_s: float = 1800.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.generator = generator              # To check the downloaded latent's shape.
        self.fingerprint = fingerprint          # The remote must run exactly these weights.
        self.fallback = fallback
        self.timeout_s = timeout_s              # Per HTTP request.
        self.poll_s = poll_s                    # Between progress polls.
        self.max_wait_s = max_wait_s            # For the whole remote job, queueing included.

    def describe(self) -> str:
        return f"remote {self.url}"

    def check_ready(self) -> None:
        """Whether the remote machine can help is only known by asking it, when a job runs."""

    def project(self, job: ProjectionJob) -> ProjectionResult:
        job.use_backend(self.describe())
        try:
            return self.project_remotely(job)
        except RemoteProjectorError as error:
            if self.fallback is None:
                raise
            log.warning("remote projector failed, projecting locally: %s", error)
            job.use_backend(self.fallback.describe(), note=f"{error}; projected on this device instead")
            try:
                self.fallback.check_ready()
            except ProjectorUnavailable as local_error:
                raise RuntimeError(f"{error}; and this device cannot project either: {local_error}") from None
            return self.fallback.project(job)

    def project_remotely(self, job: ProjectionJob) -> ProjectionResult:
        remote_id = self._submit(job)["id"]
        if not NAME_PATTERN.fullmatch(remote_id):
            raise RemoteProjectorError(f"{self.url} named its job {remote_id!r}, which is no projection name")
        try:
            self._wait(job, remote_id)
            return self._download(job, remote_id)
        finally:
            self._forget(remote_id)

    # --- the steps ---------------------------------------------------------------------------------

    def _submit(self, job: ProjectionJob) -> Dict:
        ok, png = cv2.imencode(".png", job.target.image)
        if not ok:
            raise RuntimeError("could not encode the aligned face as PNG")
        fields = {"aligned": "1", "model": self.fingerprint, "steps": str(job.options.steps),
                  "space": job.options.space}
        body, content_type = multipart_body(fields, ("image", "aligned.png", png.tobytes()))
        return self._json("POST", "/api/project", body, content_type)

    def _wait(self, job: ProjectionJob, remote_id: str) -> None:
        """Poll the remote job until it is done, relaying its progress; cancel it if ours is cancelled."""
        deadline = time.monotonic() + self.max_wait_s
        preview_step = None
        while True:
            if job.cancel_event.is_set():
                self._cancel(remote_id)
                raise ProjectionCancelled(job.step)
            state = self._json("GET", f"/api/project/{remote_id}")
            if state["state"] == "done":
                return
            if state["state"] in ("failed", "cancelled"):
                reason = state.get("error") or "cancelled there"
                raise RemoteProjectorError(f"the remote projector {self.url} {state['state']}: {reason}")
            phase = {"phase": state.get("phase") or "optimise", "phase_step": state.get("phase_step"),
                     "phase_steps": state.get("phase_steps")}
            if state.get("preview_step") not in (None, preview_step):
                preview_step = state["preview_step"]
                job.report(state["step"], state["num_steps"], state["loss"], self._preview(remote_id), **phase)
            elif state.get("loss") is not None:
                job.report(state["step"], state["num_steps"], state["loss"], **phase)
            if time.monotonic() > deadline:
                self._cancel(remote_id)
                raise RemoteProjectorError(f"the remote projector {self.url} did not finish within "
                                           f"{self.max_wait_s:.0f} s")
            job.cancel_event.wait(self.poll_s)

    def _preview(self, remote_id: str) -> Optional[torch.Tensor]:
        try:
            data = self._request("GET", f"/api/project/{remote_id}/preview.jpg")
            return to_engine(decode_image(data, max_pixels=self.generator.img_resolution ** 2))
        except (RemoteProjectorError, TargetError) as error:
            log.info("no preview from the remote projector: %s", error)
            return None

    def _download(self, job: ProjectionJob, remote_id: str) -> ProjectionResult:
        """Fetch the finished projection's files and check them exactly as a saved projection is checked."""
        with tempfile.TemporaryDirectory(prefix="stylecam-remote-") as folder:
            for filename in (META_FILE, LATENT_FILE, RESULT_FILE, TARGET_FILE):
                data = self._request("GET", f"/api/projections/{remote_id}/{filename}")
                (Path(folder) / filename).write_bytes(data)
            try:
                saved = load_projection(folder, self.generator)
                config = ProjectionConfig.from_dict(saved.meta["config"])
                meta = saved.meta
                return ProjectionResult(ws=saved.ws, noise=saved.noise, target=to_engine(job.target.image),
                                        image=to_engine(saved.image),
                                        losses=dict(meta["losses"]), steps=int(meta["steps"]),
                                        seconds=float(meta["seconds"]), stopped_early=bool(meta["stopped_early"]),
                                        config=config, perceptual=dict(meta.get("perceptual") or {}))
            except (RuntimeError, ValueError, KeyError, TypeError) as error:
                raise RemoteProjectorError(f"the remote projector {self.url} sent an unusable projection: "
                                           f"{error}") from None

    def _cancel(self, remote_id: str) -> None:
        try:
            self._request("DELETE", f"/api/project/{remote_id}")
        except RemoteProjectorError as error:
            log.info("could not cancel remote job %s: %s", remote_id, error)

    def _forget(self, remote_id: str) -> None:
        """Delete the remote copy of a finished projection (best effort: it may not exist)."""
        try:
            self._request("DELETE", f"/api/projections/{remote_id}")
        except RemoteProjectorError:
            pass

    # --- HTTP ----------------------------------------------------------------------------------------

    def _json(self, method: str, path: str, body: Optional[bytes] = None,
              content_type: Optional[str] = None) -> Dict:
        """An API call whose answer must be a StyleCam job (a JSON object with an id and a state)."""
        try:
            answer = json.loads(self._request(method, path, body, content_type))
            if isinstance(answer, dict) and isinstance(answer["id"], str) and isinstance(answer["state"], str):
                return answer
        except (ValueError, KeyError):
            pass
        raise RemoteProjectorError(f"{self.url} did not answer {method} {path} like a StyleCam; is it one?")

    def _request(self, method: str, path: str, body: Optional[bytes] = None,
                 content_type: Optional[str] = None) -> bytes:
        """One API call; every failure becomes a RemoteProjectorError that says what happened."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.url + path, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                data = response.read(MAX_DOWNLOAD_BYTES + 1)
        except urllib.error.HTTPError as error:
            raise RemoteProjectorError(self._http_error_message(error)) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise RemoteProjectorError(f"the remote projector {self.url} cannot be reached ({reason})") from None
        if len(data) > MAX_DOWNLOAD_BYTES:
            raise RemoteProjectorError(f"the remote projector {self.url} sent more than {MAX_DOWNLOAD_BYTES} "
                                       f"bytes for {path}")
        return data

    def _http_error_message(self, error: urllib.error.HTTPError) -> str:
        detail = _json_error(error)
        if error.code == 401:
            return (f"the remote projector {self.url} refused the access token (401); pass its token with "
                    f"--projector-token")
        return f"the remote projector {self.url} answered {error.code}: {detail}"


def _json_error(error: urllib.error.HTTPError) -> str:
    try:
        return json.loads(error.read(64 << 10))["error"]
    except (ValueError, KeyError, TypeError, OSError):
        return error.reason or "no details"


def multipart_body(fields: Dict[str, str], file: Tuple[str, str, bytes]) -> Tuple[bytes, str]:
    """A multipart/form-data body with text ``fields`` and one file (field name, file name, bytes)."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    field, filename, data = file
    out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
              f'Content-Type: application/octet-stream\r\n\r\n'.encode())
    out.write(data)
    out.write(f"\r\n--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def make_projector(generator: torch.nn.Module, fingerprint: str, perceptual: Union[str, Path] = "vgg16",
                   url: Optional[str] = None, token: Optional[str] = None,
                   fallback: bool = True) -> Union[LocalProjector, RemoteProjector]:
    """This device's projector, or a remote one (falling back to this device unless ``fallback`` is off)."""
    local = LocalProjector(generator, perceptual)
    if url is None:
        return local
    return RemoteProjector(url, token, generator, fingerprint, fallback=local if fallback else None)
