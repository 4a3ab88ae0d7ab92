"""The projection service's rules, on the real params store and projections store."""
import sys
import threading

import pytest

from app.live.params import ParamsError
from app.live.params_store import ParamsStore
from app.live.presets import load_presets
from app.projection.jobs import ProjectionJobs
from app.projection.service import ProjectionInUse, ProjectionService
from app.projection.store import ProjectionStore
from tests.app.projection_helpers import GatedProjector, fake_result

ROUNDS = 40


@pytest.fixture
def service(tmp_path, projection_generator, face_finder):
    store = ProjectionStore(tmp_path / "projections", projection_generator)
    params = ParamsStore(load_presets(), check_projection=store.check)
    jobs = ProjectionJobs(GatedProjector(projection_generator), store)
    return ProjectionService(store, jobs, face_finder, params, camera_faces=lambda: None)


def test_a_selected_projection_cannot_be_deleted(service, projection_generator):
    service.store.save(fake_result(projection_generator), "me", source="test")
    service.params.update({"style_projection": "me"})
    with pytest.raises(ProjectionInUse, match="selected as the style source"):
        service.delete("me")
    assert service.store.exists("me")


def test_a_selection_and_a_deletion_racing_never_both_succeed(service, projection_generator):
    """Each round starts a real update that selects a projection and a real deletion of it at the same
    moment: one of them must win, and the params never select a projection that is gone."""
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)           # switch threads as often as possible: many interleavings
    try:
        for round_ in range(ROUNDS):
            name = f"p{round_}"
            service.store.save(fake_result(projection_generator, seed=round_), name, source="test")
            start = threading.Barrier(2)
            won = {}

            def select():
                start.wait()
                try:
                    service.params.update({"mode": "me", "projection": name})
                    won["select"] = True
                except ParamsError:
                    won["select"] = False

            def delete():
                start.wait()
                try:
                    service.delete(name)
                    won["delete"] = True
                except ProjectionInUse:
                    won["delete"] = False

            threads = [threading.Thread(target=select), threading.Thread(target=delete)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(10)
            assert won["select"] != won["delete"], f"round {round_}: {won}"
            selected = service.params.current().params.projection
            assert selected is None or service.store.exists(selected)
            service.params.update({"mode": "seed", "projection": None})
    finally:
        sys.setswitchinterval(switch_interval)
