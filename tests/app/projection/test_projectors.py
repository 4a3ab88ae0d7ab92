"""The remote projector: one StyleCam sends its projection jobs to another over the ordinary API.

Two real servers run in this process on random ports, both with the same tiny generator and the stand-in
perceptual network: "here" (``serve --projector-url``) and "there" (the stronger machine). The failure
cases (unreachable, wrong token, other weights, cancelled) also drive ``RemoteProjector`` directly.
"""
import json
import socket
import time
import urllib.request

import numpy as np
import pytest
import torch

from app.composition import StyleCam, StyleCamConfig
from app.images import to_engine
from app.projection.folders import RESULT_FILE, save_projection
from app.projection.jobs import JobOptions, ProjectionJob
from app.projection.projectors import LocalProjector, RemoteProjector, RemoteProjectorError, multipart_body
from app.projection.targets import Target
from app.web.config import ServerConfig
from app.web.server import StyleCamServer
from stylegan2.inference.precision import autocast_precision
from stylegan2.projection.perceptual import load_perceptual
from stylegan2.projection.projector import ProjectionCancelled, project
from tests.app.projection_helpers import LOCAL_CPU, fake_result, png_declaring, torch_threads

pytestmark = pytest.mark.slow

REMOTE_TOKEN = "remote-token-5678"
STEPS = 4


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def make_server(shared_file, projection_weights, standin_perceptual, yunet_file, tmp_path_factory):
    """Start a StyleCam server on the astronaut photo with the projection fixtures; stopped at the end."""
    servers = []

    def make(token, **projection_settings) -> StyleCamServer:
        config = StyleCamConfig(source=str(shared_file("media/images/astronaut.png")), weights=str(projection_weights),
                                device="cpu", detector="yunet", detector_model=str(yunet_file),
                                perceptual=str(standin_perceptual),
                                projections_dir=str(tmp_path_factory.mktemp("projections")), **projection_settings)
        server = StyleCamServer(ServerConfig(host="127.0.0.1", port=0, token=token), StyleCam(config))
        server.start_in_thread()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def there(make_server):
    return make_server(REMOTE_TOKEN)


@pytest.fixture(scope="module")
def here(make_server, there, token):
    return make_server(token, projector_url=f"http://127.0.0.1:{there.port}", projector_token=REMOTE_TOKEN)


def call(server, token, method, path, body=None, content_type=None):
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", data=body, headers=headers,
                                     method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def project_photo(server, token, photo, timeout=120.0) -> dict:
    """Upload a photo to ``server`` and wait for its job to end; the job's final JSON."""
    body, content_type = multipart_body({"steps": str(STEPS)}, ("image", photo.name, photo.read_bytes()))
    job = call(server, token, "POST", "/api/project", body, content_type)
    deadline = time.monotonic() + timeout
    while job["state"] not in ("done", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"the job did not end: {job}"
        time.sleep(0.05)
        job = call(server, token, "GET", job["url"])
    return job


def test_a_job_is_projected_there_and_saved_here(here, there, token, shared_file):
    job = project_photo(here, token, shared_file("media/images/grace_hopper.jpg"))
    assert job["state"] == "done", job
    assert job["backend"] == f"remote http://127.0.0.1:{there.port}" and job["note"] is None
    assert [entry["name"] for entry in call(here, token, "GET", "/api/projections")] == [job["id"]]
    assert call(there, REMOTE_TOKEN, "GET", "/api/projections") == []      # the face does not stay there
    assert [remote["state"] for remote in call(there, REMOTE_TOKEN, "GET", "/api/project")] == ["done"]


def test_the_remote_result_is_what_this_device_would_have_computed(here, there, token, shared_file,
                                                                   standin_perceptual):
    job = project_photo(here, token, shared_file("media/images/grace_hopper.jpg"))
    target = to_engine(here.backend.projection.job(job["id"]).target.image)
    generator = here.backend.projection.store.generator
    with torch_threads(there.backend.projection.jobs.cpu_threads):   # bit-equal only on the same thread count
        local = project(generator, target, load_perceptual(standin_perceptual),
                        JobOptions(steps=STEPS).config().replace(precision=autocast_precision(torch.device("cpu"))))
    # bit-equal on torch 2; torch 1.13's oneDNN may pick another convolution algorithm later in a test session
    assert torch.allclose(here.backend.projection.store.load_ws(job["id"]), local.ws, rtol=0, atol=1e-5)


def test_when_the_remote_is_down_the_job_runs_here_and_says_why(make_server, token, shared_file):
    lonely = make_server(token, projector_url=f"http://127.0.0.1:{closed_port()}")
    job = project_photo(lonely, token, shared_file("media/images/grace_hopper.jpg"))
    assert job["state"] == "done", job
    assert job["backend"] == LOCAL_CPU
    assert "cannot be reached" in job["note"] and "projected on this device instead" in job["note"]


# --- RemoteProjector on its own ----------------------------------------------------------------------------

@pytest.fixture
def job(projection_generator):
    size = projection_generator.img_resolution
    image = np.random.default_rng(1).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return ProjectionJob("remote-test", Target(image, "camera"), JobOptions(steps=STEPS))


def remote(server, generator, token=REMOTE_TOKEN, fingerprint=None, fallback=None, port=None):
    port = port or server.port
    return RemoteProjector(f"http://127.0.0.1:{port}", token, generator,
                           fingerprint or server.backend.projection.fingerprint, fallback=fallback, poll_s=0.02)


def test_without_a_fallback_an_unreachable_remote_fails_the_job_clearly(there, job, projection_generator):
    with pytest.raises(RemoteProjectorError, match="cannot be reached"):
        remote(there, projection_generator, port=closed_port()).project(job)


def test_a_wrong_token_says_which_option_to_set(there, job, projection_generator):
    with pytest.raises(RemoteProjectorError, match="refused the access token.*--projector-token"):
        remote(there, projection_generator, token="wrong").project(job)


def test_a_remote_with_other_weights_is_refused(there, job, projection_generator):
    with pytest.raises(RemoteProjectorError, match="409.*other generator weights"):
        remote(there, projection_generator, fingerprint="0123456789abcdef").project(job)


def test_a_remote_failure_falls_back_to_this_device(there, job, projection_generator, standin_perceptual):
    local = LocalProjector(projection_generator, standin_perceptual)
    with torch_threads(1):
        result = remote(there, projection_generator, token="wrong", fallback=local).project(job)
    assert result.ws.shape == (1, projection_generator.num_ws, projection_generator.w_dim)
    assert job.to_json()["backend"] == LOCAL_CPU and "refused the access token" in job.to_json()["note"]


def test_cancelling_here_cancels_the_remote_job(there, projection_generator):
    size = projection_generator.img_resolution
    long_job = ProjectionJob("long", Target(np.zeros((size, size, 3), np.uint8), "camera"),
                             JobOptions(steps=2000))
    long_job.cancel_event.set()
    with pytest.raises(ProjectionCancelled):
        remote(there, projection_generator).project(long_job)
    newest = call(there, REMOTE_TOKEN, "GET", "/api/project")[0]
    assert newest["steps"] == 2000 and newest["cancel_requested"]


class ServedProjection(RemoteProjector):
    """A remote StyleCam reduced to its answers: the job is done at once, and the projection it sends is
    the folder ``files`` (which a test may spoil first)."""

    def __init__(self, generator, files) -> None:
        super().__init__("http://remote.invalid", None, generator, fingerprint="0123456789abcdef", poll_s=0)
        self.files = files

    def _request(self, method, path, body=None, content_type=None):
        if path.startswith("/api/projections/"):
            return (self.files / path.rsplit("/", 1)[1]).read_bytes() if method == "GET" else b""
        return json.dumps({"id": "remote-1", "state": "done" if method == "GET" else "queued"}).encode()


@pytest.fixture
def remote_files(tmp_path, projection_generator):
    return save_projection(fake_result(projection_generator), tmp_path / "remote-1", model={"fingerprint": "x"})


def test_a_well_formed_remote_projection_is_accepted(projection_generator, job, remote_files):
    result = ServedProjection(projection_generator, remote_files).project(job)
    assert result.image.shape == to_engine(job.target.image).shape


def test_a_remote_image_that_is_not_the_generators_size_is_refused_before_decoding(projection_generator, job,
                                                                                  remote_files):
    (remote_files / RESULT_FILE).write_bytes(png_declaring(8000, 8000))
    with pytest.raises(RemoteProjectorError, match="unusable projection.*8000x8000 pixels"):
        ServedProjection(projection_generator, remote_files).project(job)
