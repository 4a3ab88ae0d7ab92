"""Projection jobs: one at a time, a bounded queue, cancellable, and a failed job leaves nothing saved.

Most tests use ``GatedProjector`` (jobs that run until the test releases them) so that every state can
be observed; one runs a real projection on a tiny generator with the stand-in perceptual network.
"""
import os

import cv2
import numpy as np
import pytest
import torch

from app.projection.jobs import (
    JobFinished,
    JobNotFound,
    JobOptions,
    OptionError,
    ProjectionJob,
    ProjectionJobs,
    ProjectorUnavailable,
    QueueFull,
)
from app.projection.projectors import NO_PERCEPTUAL_NETWORK, LocalProjector
from app.projection.store import ProjectionStore
from app.projection.targets import Target
from tests.app.projection_helpers import LOCAL_CPU, GatedProjector, wait_for_state


@pytest.fixture
def target(projection_generator):
    size = projection_generator.img_resolution
    return Target(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8), "camera")


@pytest.fixture
def store(tmp_path, projection_generator):
    return ProjectionStore(tmp_path / "projections", projection_generator)


@pytest.fixture
def projector(projection_generator):
    return GatedProjector(projection_generator)


@pytest.fixture
def make_jobs(store, projector):
    made = []

    def make(**options) -> ProjectionJobs:
        jobs = ProjectionJobs(projector, store, **options)
        jobs.start()
        made.append(jobs)
        return jobs

    yield make
    projector.release.set()
    for jobs in made:
        assert jobs.stop(10), "the projection worker did not stop"


def files_under(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")) if folder.exists() else []


def test_a_job_goes_from_queued_to_running_to_done_and_is_saved(make_jobs, projector, target, store):
    jobs = make_jobs()
    job = jobs.submit(target, JobOptions(steps=4))
    assert job.to_json()["state"] in ("queued", "running")
    running = wait_for_state(job, "running")
    assert running["step"] == 1 and running["loss"] == 0.5 and running["projection"] is None
    projector.release.set()
    done = wait_for_state(job, "done")
    assert done["projection"] == job.id and done["error"] is None
    assert [entry["name"] for entry in store.list()] == [job.id]


def test_a_running_job_has_a_jpeg_preview(make_jobs, target):
    job = make_jobs().submit(target, JobOptions())
    wait_for_state(job, "running")
    preview = cv2.imdecode(np.frombuffer(job.preview, np.uint8), cv2.IMREAD_COLOR)
    assert preview.shape == target.image.shape
    assert job.to_json()["preview_step"] == 1


def test_jobs_run_one_at_a_time_in_order(make_jobs, projector, target):
    jobs = make_jobs()
    first, second = jobs.submit(target, JobOptions()), jobs.submit(target, JobOptions())
    wait_for_state(first, "running")
    assert second.state == "queued"
    projector.release.set()
    wait_for_state(second, "done")
    assert projector.started == [first.id, second.id]
    assert projector.most_running == 1


def test_a_full_queue_refuses_more_jobs(make_jobs, target):
    jobs = make_jobs(max_queued=2)
    running = jobs.submit(target, JobOptions())
    wait_for_state(running, "running")
    jobs.submit(target, JobOptions())
    jobs.submit(target, JobOptions())
    with pytest.raises(QueueFull, match="at most 2"):
        jobs.submit(target, JobOptions())


def test_a_queued_job_is_cancelled_at_once_and_never_runs(make_jobs, projector, target):
    jobs = make_jobs()
    running = jobs.submit(target, JobOptions())
    waiting = jobs.submit(target, JobOptions())
    wait_for_state(running, "running")
    assert jobs.cancel(waiting.id).state == "cancelled"
    projector.release.set()
    wait_for_state(running, "done")
    assert waiting.id not in projector.started


def test_a_running_job_is_cancelled_and_nothing_is_saved(make_jobs, target, store):
    jobs = make_jobs()
    job = jobs.submit(target, JobOptions())
    wait_for_state(job, "running")
    assert jobs.cancel(job.id).to_json()["cancel_requested"]
    assert wait_for_state(job, "cancelled")["projection"] is None
    assert files_under(store.root) == []


def test_a_finished_job_cannot_be_cancelled(make_jobs, projector, target):
    jobs = make_jobs()
    job = jobs.submit(target, JobOptions())
    projector.release.set()
    wait_for_state(job, "done")
    with pytest.raises(JobFinished):
        jobs.cancel(job.id)


class CancelledAsItReturns(GatedProjector):
    """A projector whose job is cancelled (as by a DELETE) just after the projection finished, before the save."""

    jobs = None

    def project(self, job):
        result = super().project(job)
        self.jobs.cancel(job.id)
        return result


def test_a_cancel_after_the_projection_but_before_the_save_still_cancels(store, projection_generator, target):
    projector = CancelledAsItReturns(projection_generator)
    projector.release.set()
    jobs = projector.jobs = ProjectionJobs(projector, store)
    jobs.start()
    try:
        job = jobs.submit(target, JobOptions())
        assert wait_for_state(job, "done", "cancelled", "failed")["state"] == "cancelled"
    finally:
        jobs.stop()
    assert files_under(store.root) == []


def test_a_cancel_once_the_save_has_begun_is_refused_as_too_late(make_jobs, projector, target, store,
                                                                 monkeypatch):
    jobs = make_jobs()
    refusals = []
    real_save = store.save

    def cancel_then_save(result, name, source):
        try:
            jobs.cancel(name)
        except JobFinished as error:
            refusals.append(str(error))
        return real_save(result, name, source)

    monkeypatch.setattr(store, "save", cancel_then_save)
    projector.release.set()
    job = jobs.submit(target, JobOptions())
    assert wait_for_state(job, "done", "cancelled", "failed")["state"] == "done"
    assert len(refusals) == 1 and "too late" in refusals[0]
    assert store.exists(job.id)


def test_a_failed_projection_reports_why_and_leaves_nothing(make_jobs, projector, target, store):
    projector.fail_with = "the device ran out of memory"
    projector.release.set()
    job = make_jobs().submit(target, JobOptions())
    failed = wait_for_state(job, "failed")
    assert failed["error"] == "the device ran out of memory"
    assert files_under(store.root) == []


def test_a_failed_save_fails_the_job_and_leaves_nothing(make_jobs, projector, target, store, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    projector.release.set()
    job = make_jobs().submit(target, JobOptions())
    assert "No space left" in wait_for_state(job, "failed")["error"]
    assert files_under(store.root) == []


def test_a_name_that_is_taken_or_pending_is_refused(make_jobs, projector, target):
    jobs = make_jobs()
    jobs.submit(target, JobOptions(), name="me")
    with pytest.raises(FileExistsError, match="'me'"):
        jobs.submit(target, JobOptions(), name="me")
    projector.release.set()
    wait_for_state(jobs.get("me"), "done")
    with pytest.raises(FileExistsError):
        jobs.submit(target, JobOptions(), name="me")


def test_a_bad_name_is_refused(make_jobs, target):
    with pytest.raises(ValueError, match="projection name"):
        make_jobs().submit(target, JobOptions(), name="../etc")


@pytest.mark.parametrize("options, field", [(dict(steps=1), "steps"), (dict(steps="9"), "steps"),
                                            (dict(steps=True), "steps"), (dict(space="z"), "space")])
def test_bad_options_name_their_field(options, field):
    with pytest.raises(OptionError) as caught:
        JobOptions(**options)
    assert caught.value.field == field


@pytest.mark.parametrize("space", ["w", "w+"])
def test_the_apps_projections_keep_the_generators_noise_so_the_latent_alone_shows_them(space):
    assert JobOptions(space=space).config().optimize_noise is False


def test_an_unknown_job_is_not_found(make_jobs):
    with pytest.raises(JobNotFound):
        make_jobs().get("nothing")


def test_only_the_newest_finished_jobs_are_remembered(make_jobs, projector, target):
    projector.release.set()
    jobs = make_jobs(keep_finished=2)
    submitted = []
    for _ in range(4):
        submitted.append(jobs.submit(target, JobOptions()))
        wait_for_state(submitted[-1], "done")
    jobs.submit(target, JobOptions())
    with pytest.raises(JobNotFound):
        jobs.get(submitted[0].id)
    assert jobs.get(submitted[-1].id).state == "done"


def test_stopping_cancels_the_running_and_the_waiting_jobs(store, projector, target):
    jobs = ProjectionJobs(projector, store)
    jobs.start()
    running, waiting = jobs.submit(target, JobOptions()), jobs.submit(target, JobOptions())
    wait_for_state(running, "running")
    assert jobs.stop(10)
    assert (running.state, waiting.state) == ("cancelled", "cancelled")
    assert files_under(store.root) == []


def test_the_worker_thread_uses_fewer_threads_and_a_lower_priority(make_jobs, projector, target):
    ours = torch.get_num_threads()
    projector.release.set()
    job = make_jobs(cpu_threads=1, nice=5).submit(target, JobOptions())
    wait_for_state(job, "done")
    [(threads, niceness)] = projector.thread_settings
    assert threads == 1
    assert niceness == os.getpriority(os.PRIO_PROCESS, 0) + 5
    assert torch.get_num_threads() == ours       # the other threads (the live stream's) keep theirs


def test_a_real_projection_is_saved_with_the_latent_that_shows_the_result(projection_generator, standin_perceptual,
                                                                          store):
    jobs = ProjectionJobs(LocalProjector(projection_generator, standin_perceptual), store)
    jobs.start()
    try:
        size = projection_generator.img_resolution
        target = Target(np.full((size, size, 3), 120, np.uint8), "upload:grey.png")
        job = jobs.submit(target, JobOptions(steps=4, space="w"))
        done = wait_for_state(job, "done", "failed", timeout=120)
    finally:
        jobs.stop()
    assert done["state"] == "done", done["error"]
    assert done["backend"] == LOCAL_CPU and done["step"] >= 1
    ws = store.load_ws(job.id)
    assert ws.shape == (1, projection_generator.num_ws, projection_generator.w_dim)
    assert torch.equal(ws, ws[:, :1].expand_as(ws))     # space "w": one vector for every layer
    [entry] = store.list()
    assert entry["source"] == "upload:grey.png" and entry["steps"] == done["step"]


def test_without_the_perceptual_network_projection_says_how_to_fetch_it(projection_generator, tmp_path,
                                                                         monkeypatch, store):
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(tmp_path / "empty"))
    jobs = ProjectionJobs(LocalProjector(projection_generator, "vgg16"), store)
    with pytest.raises(ProjectorUnavailable, match="python -m app weights fetch vgg16") as caught:
        jobs.submit(Target(np.zeros((32, 32, 3), np.uint8), "camera"), JobOptions())
    assert caught.value.reason == NO_PERCEPTUAL_NETWORK, "a viewer is told without paths and commands"


class RecordingJob(ProjectionJob):
    def __init__(self, *args):
        super().__init__(*args)
        self.phases = []

    def report(self, step, num_steps, loss, preview=None, phase="optimise", phase_step=None, phase_steps=None):
        self.phases.append((phase, phase_step, phase_steps))
        super().report(step, num_steps, loss, preview, phase, phase_step, phase_steps)


def test_a_local_projection_reports_the_start_search_before_its_steps(projection_generator, standin_perceptual):
    size = projection_generator.img_resolution
    job = RecordingJob("phases", Target(np.full((size, size, 3), 120, np.uint8), "camera"), JobOptions(steps=2))
    LocalProjector(projection_generator, standin_perceptual).project(job)
    starts = [entry for entry in job.phases if entry[0] == "start"]
    assert starts and job.phases[:len(starts)] == starts and starts[-1][1] == starts[-1][2] == 16
    assert job.phases[len(starts):] == [("optimise", 1, 2), ("optimise", 2, 2)]


def test_a_job_says_which_phase_it_is_in():
    job = ProjectionJob("phases", Target(np.zeros((32, 32, 3), np.uint8), "camera"), JobOptions(steps=30))
    job.start()
    assert job.to_json()["phase"] == "waiting"
    job.report(0, 30, 0.9, phase="start", phase_step=4, phase_steps=16)
    assert {key: job.to_json()[key] for key in ("phase", "phase_step", "phase_steps", "step")} == {
        "phase": "start", "phase_step": 4, "phase_steps": 16, "step": 0}
    job.report(3, 30, 0.5)
    assert (job.to_json()["phase"], job.to_json()["phase_step"], job.to_json()["phase_steps"]) == ("optimise", 3, 30)
    job.finish("done")
    assert job.to_json()["phase"] is None


# --- a model switch -------------------------------------------------------------------------------------

def test_a_model_switch_cancels_the_old_models_jobs_saying_why(make_jobs, target, tmp_path, projection_generator):
    jobs = make_jobs()
    running, waiting = jobs.submit(target, JobOptions()), jobs.submit(target, JobOptions())
    wait_for_state(running, "running")
    jobs.use_projector(GatedProjector(projection_generator), ProjectionStore(tmp_path / "other", projection_generator),
                       "cancelled: the model was switched")
    for job in (running, waiting):
        assert wait_for_state(job, "cancelled")["note"] == "cancelled: the model was switched"
    assert waiting.id not in jobs.projector.started


def test_after_a_model_switch_jobs_run_on_the_new_projector_and_save_in_the_new_store(make_jobs, target, tmp_path,
                                                                                       projection_generator):
    jobs = make_jobs()
    projector, store = GatedProjector(projection_generator), ProjectionStore(tmp_path / "other", projection_generator)
    jobs.use_projector(projector, store, "switched")
    projector.release.set()
    job = jobs.submit(target, JobOptions())
    wait_for_state(job, "done")
    assert projector.started == [job.id]
    assert [entry["name"] for entry in store.list()] == [job.id]
