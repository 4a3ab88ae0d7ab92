"""What the page and the API may do with projections, and the rules that go with it.

Make a projection of the camera's face or of a photo (a background job), follow and cancel jobs, list,
download, rename and delete saved projections. The rules are kept here, not in the views: a photo is
decoded only in a free photo slot; a pre-aligned face must come for this generator's weights; a projection
that the live params select (as the face, the style source, or a face's own) cannot be deleted, checked
and done while no params update can come in between; renaming one the params select renames it there too,
in the same step, and a name a pending job will save under is taken.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from app.live.params_store import ParamsStore
from app.projection.jobs import JobOptions, ProjectionJob, ProjectionJobs, Projector, ProjectorUnavailable
from app.projection.store import ProjectionStore, ProjectionUnavailable, check_name
from app.projection.targets import (
    PHOTO_SLOTS,
    FaceFinder,
    NoFaceFound,
    Target,
    aligned_target,
    decode_image,
    prealigned_target,
)
from detectors import Face

CameraFaces = Callable[[], Optional[Tuple[np.ndarray, List[Face]]]]   # The newest frame and its faces.


class ProjectionInUse(ProjectionUnavailable):
    """The projection is selected in the live params (as the face or as the style source)."""


class OtherModel(ValueError):
    """A pre-aligned face made for other generator weights: its projection would not fit."""


class ProjectionService:
    """The projections of one StyleCam: its store, its job queue, its face finder, its params."""

    def __init__(self, store: ProjectionStore, jobs: ProjectionJobs, finder: FaceFinder, params: ParamsStore,
                 camera_faces: CameraFaces) -> None:
        self.store = store
        self.jobs = jobs
        self.finder = finder
        self.params = params
        self.camera_faces = camera_faces

    def use_model(self, store: ProjectionStore, projector: Projector, resolution: int, reason: str) -> None:
        """Projections of another generator from now on (a model switch): its store (its projections are
        the ones that can be selected), its projector, faces aligned at its resolution; the jobs of the old
        generator are cancelled with ``reason``."""
        self.jobs.use_projector(projector, store, reason)
        self.finder = self.finder.at_resolution(resolution)
        self.store = store

    @property
    def fingerprint(self) -> str:
        """The generator weights' fingerprint: a remote StyleCam must run the same to project for it."""
        return self.store.fingerprint

    @property
    def default_options(self) -> JobOptions:
        return self.jobs.default_options

    def status(self) -> Dict[str, Any]:
        """Where projections run, and whether they can: ``projection_unavailable`` is the reason a viewer
        is given when they cannot (the page disables its projection buttons and shows it)."""
        try:
            self.check_ready()
        except ProjectorUnavailable as error:
            reason: Optional[str] = error.reason
        else:
            reason = None
        return {"projector": self.jobs.projector.describe(), "projection_ready": reason is None,
                "projection_unavailable": reason}

    def check_ready(self) -> None:
        """ProjectorUnavailable, saying what to do, when no projection can run here at all."""
        self.jobs.projector.check_ready()

    # --- making projections ---------------------------------------------------------------------------

    def submit_camera(self, options: JobOptions, name: Optional[str] = None) -> ProjectionJob:
        """A job for the largest face in the newest camera frame (NoFaceFound if there is none)."""
        self.check_ready()
        return self.jobs.submit(self.camera_target(), options, name)

    def submit_photo(self, data: bytes, source: str, options: JobOptions, name: Optional[str] = None,
                     aligned: bool = False, model: Optional[str] = None) -> ProjectionJob:
        """A job for an uploaded photo's largest face, or for a face already aligned for ``model``'s weights.

        PhotosBusy while every photo slot is taken, TargetError for a photo that cannot be used.
        """
        self.check_ready()
        with PHOTO_SLOTS.hold():
            image = decode_image(data)
            if aligned:
                if model is not None and model != self.fingerprint:
                    raise OtherModel(f"this StyleCam runs other generator weights (fingerprint {self.fingerprint},"
                                     f" asked for {model}): the projection would not fit")
                target = prealigned_target(image, self.finder.resolution, source)
            else:
                target = self.finder.target(image, source)
        return self.jobs.submit(target, options, name)

    def camera_target(self) -> Target:
        """The largest face of the newest camera frame, aligned for projection."""
        newest = self.camera_faces()
        if newest is None or not newest[1]:
            raise NoFaceFound("no face in view of the camera right now: look into the camera and try again")
        frame, faces = newest
        return aligned_target(frame, faces[0].landmarks, self.finder.resolution, "camera")

    def job(self, job_id: str) -> ProjectionJob:
        return self.jobs.get(job_id)

    def recent_jobs(self) -> List[ProjectionJob]:
        return self.jobs.jobs()

    def cancel(self, job_id: str) -> ProjectionJob:
        return self.jobs.cancel(job_id)

    # --- saved projections ----------------------------------------------------------------------------

    def projections(self) -> List[Dict[str, Any]]:
        return self.store.list()

    def projection(self, name: str) -> Dict[str, Any]:
        return self.store.get(name)

    def file(self, name: str, filename: str) -> Path:
        return self.store.file(name, filename)

    def delete(self, name: str) -> None:
        """Delete a saved projection, unless the live params select it (ProjectionInUse)."""
        with self.params.locked() as params:
            role = params.projections_in_use().get(name)
            if role is not None:
                raise ProjectionInUse(f"projection '{name}' is selected as {role}; select another one first")
            self.store.delete(name)

    def rename(self, name: str, new_name: str) -> Dict[str, Any]:
        """Give a saved projection another name, and the params that select it the new name with it.

        ValueError for a name that breaks the rule, FileExistsError if it is taken (by a saved projection
        or a job still running), ProjectionNotFound if there is no ``name``. Returns its new summary.
        """
        check_name(new_name)
        self.store.get(name)
        self.params.rename_projection(name, new_name, lambda: self.jobs.while_name_free(
            new_name, lambda: self.store.rename(name, new_name)))
        return self.store.get(new_name)
