"""Who watches what: the loop runs while anyone watches any view (and for a while after the last one
left), each view is wanted only while someone watches it (or looked at it a moment ago), and the count of
viewers is kept per view."""
import threading

import pytest

from app.live.viewers import DEFAULT_VIEW, Viewers
from tests.app.clock_helpers import FakeClock


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def viewers(clock):
    viewers = Viewers(idle_after_s=10.0, clock=clock)
    clock.now += 11.0                 # past the start-up visit: nobody watches
    return viewers


def test_a_new_pipeline_runs_until_nobody_has_come_for_the_idle_time(clock):
    viewers = Viewers(idle_after_s=10, clock=clock)
    clock.now += 9.9
    assert viewers.wanted()
    clock.now += 0.2
    assert not viewers.wanted()


def test_a_watching_client_keeps_it_wanted_however_long_it_stays(clock):
    viewers = Viewers(idle_after_s=10, clock=clock)
    with viewers.watching():
        clock.now += 3600
        assert viewers.wanted() and viewers.count == 1
    assert viewers.count == 0 and viewers.wanted()       # the idle time counts from when it left
    clock.now += 10.1
    assert not viewers.wanted()


def test_the_first_viewer_after_a_quiet_spell_is_told_the_loop_was_idle(clock):
    viewers = Viewers(idle_after_s=10, clock=clock)
    clock.now += 11
    with viewers.watching() as was_idle:
        assert was_idle
        with viewers.watching() as second_was_idle:
            assert not second_was_idle


def test_a_visit_keeps_it_wanted_for_the_idle_time(clock):
    viewers = Viewers(idle_after_s=10, clock=clock)
    clock.now += 11
    assert viewers.visit() is True                       # it was idle: the snapshot waits for a fresh frame
    clock.now += 9
    assert viewers.wanted() and viewers.visit() is False


def test_without_an_idle_time_it_never_idles(clock):
    viewers = Viewers(idle_after_s=None, clock=clock)
    clock.now += 10 ** 6
    assert viewers.wanted()


def test_a_waiting_capture_thread_wakes_when_a_viewer_arrives(clock):
    viewers = Viewers(idle_after_s=10, clock=clock)
    clock.now += 11
    woke = []
    waiter = threading.Thread(target=lambda: woke.append(viewers.wait_until_wanted(timeout=30)))
    waiter.start()
    with viewers.watching():
        waiter.join(10)
    assert woke == [True]


def test_nobody_watching_means_idle_and_no_view_wanted(viewers):
    assert not viewers.wanted()
    assert not any(viewers.wants(view) for view in ("stylized", "camera", "side"))


def test_starting_counts_as_a_visit_of_the_default_view(clock):
    viewers = Viewers(idle_after_s=10.0, clock=clock)
    assert viewers.wanted() and viewers.wants(DEFAULT_VIEW) and not viewers.wants("camera")


def test_a_viewer_wants_only_the_view_it_watches(viewers):
    with viewers.watching("camera") as was_unwanted:
        assert was_unwanted
        assert viewers.wanted() and viewers.wants("camera")
        assert not viewers.wants("stylized") and not viewers.wants("side")
        assert viewers.counts() == {"camera": 1} and viewers.count == 1


def test_a_second_viewer_of_a_view_finds_it_wanted(viewers):
    with viewers.watching("side"):
        with viewers.watching("side") as was_unwanted:
            assert not was_unwanted and viewers.counts() == {"side": 2}


def test_a_view_stays_wanted_for_a_while_after_its_last_viewer_left(viewers, clock):
    with viewers.watching("side"):
        pass
    clock.now += 9.0
    assert viewers.wants("side") and viewers.wanted()
    clock.now += 2.0
    assert not viewers.wants("side") and not viewers.wanted()
    assert viewers.counts() == {}


def test_a_snapshot_visit_wants_its_view_for_a_while(viewers, clock):
    assert viewers.visit("camera") is True
    assert viewers.wants("camera") and not viewers.wants("stylized")
    assert viewers.visit("camera") is False
    clock.now += 10.5
    assert not viewers.wants("camera")


def test_an_output_that_watches_a_view_of_its_own_keeps_the_loop_running(viewers):
    with viewers.watching("virtual-camera"):
        assert viewers.wanted() and viewers.wants("virtual-camera") and not viewers.wants("stylized")


def test_never_idle_wants_the_default_view_always_and_the_others_when_watched():
    viewers = Viewers(idle_after_s=None)
    assert viewers.wanted() and viewers.wants(DEFAULT_VIEW) and not viewers.wants("camera")
    with viewers.watching("camera"):
        assert viewers.wants("camera")


def test_an_idle_time_that_is_not_positive_is_refused():
    for idle_after_s in (0, -1.0):
        with pytest.raises(ValueError, match="positive or None"):
            Viewers(idle_after_s=idle_after_s)
