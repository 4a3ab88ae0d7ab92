"""The stage thread: a failing item is reported and the next one tried; a failure on every frame is
logged once in a while, not once a frame; at shutdown each thread gets a join budget of its own."""
import logging
import threading
import time

import pytest

from app.live.worker import FailureLog, Worker, stop_workers
from tests.app.clock_helpers import FakeClock


class ScriptedBuffer:
    """Stands in for a LatestBuffer: hands over the given items one by one, then is closed."""

    def __init__(self, items):
        self.items = list(items)
        self.version = 0
        self.closed = False

    def get_newer(self, version, timeout=None):
        if not self.items:
            self.closed = True
            return None
        self.version += 1
        return self.version, self.items.pop(0)


@pytest.fixture
def clock():
    return FakeClock()


def test_a_failing_item_is_shown_in_error_until_an_item_succeeds():
    worker = Worker()
    errors_seen = []

    def handle(version, item):
        errors_seen.append(worker.error)
        if item == "bad":
            raise RuntimeError("bad item")

    worker.consume(ScriptedBuffer(["bad", "good", "good"]), handle)
    assert errors_seen == [None, "worker failed: bad item", None]


def test_a_failure_that_repeats_is_logged_with_its_traceback_once_per_interval(clock, caplog):
    failures = FailureLog("stylecam-detection", interval=10.0, clock=clock)
    with caplog.at_level(logging.ERROR, logger="app.live.worker"):
        for _ in range(30):                     # a second of failing frames
            failures.failed(RuntimeError("detector crashed"))
            clock.now += 1 / 30
    assert len(caplog.records) == 1
    assert caplog.records[0].exc_info[1].args == ("detector crashed",)


def test_the_next_report_says_how_many_failures_went_unreported(clock, caplog):
    failures = FailureLog("stylecam-detection", interval=10.0, clock=clock)
    with caplog.at_level(logging.ERROR, logger="app.live.worker"):
        for _ in range(30):
            failures.failed(RuntimeError("detector crashed"))
        clock.now += 10.0
        failures.failed(RuntimeError("detector crashed"))
    assert [record.getMessage() for record in caplog.records] == [
        "stylecam-detection failed", "stylecam-detection failed (and 29 more times since the last report)"]


class Stuck(Worker):
    """A thread stuck in a call that ignores the stop request, until the test lets it go."""

    name = "stylecam-stuck"

    def __init__(self):
        super().__init__()
        self.let_go = threading.Event()

    def run(self):
        self.let_go.wait()


class SlowToStop(Worker):
    """A thread that takes ``linger_s`` to wind down once asked to stop."""

    name = "stylecam-slow"

    def __init__(self, linger_s):
        super().__init__()
        self.linger_s = linger_s

    def run(self):
        self._stop.wait()
        time.sleep(self.linger_s)


def test_a_stuck_thread_does_not_use_up_the_stop_time_of_the_next_one(caplog):
    stuck, slow = Stuck(), SlowToStop(linger_s=0.7)   # ends within 0.5 s of its own turn, not 0.5 s in all
    for worker in (stuck, slow):
        worker.start()
    try:
        with caplog.at_level(logging.WARNING, logger="app.live.worker"):
            still_running = stop_workers([stuck, slow], timeout=0.5)
    finally:
        stuck.let_go.set()
        stuck.stop()
    assert still_running == ["stylecam-stuck"]
    assert [record.getMessage() for record in caplog.records] == ["stylecam-stuck did not stop within 0.5 s"]
