"""Viewers: the live loop is wanted while someone watches, and for a while after the last one left."""
import threading

import pytest

from app.live.viewers import Viewers
from tests.app.clock_helpers import FakeClock


@pytest.fixture
def clock():
    return FakeClock()


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


def test_an_idle_time_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="positive or None"):
        Viewers(idle_after_s=0)
