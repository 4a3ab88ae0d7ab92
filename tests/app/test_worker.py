"""The stage thread: a failing item is reported and the next one tried; a failure on every frame is
logged once in a while, not once a frame."""
import logging

import pytest

from app.worker import FailureLog, Worker


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


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
    with caplog.at_level(logging.ERROR, logger="app.worker"):
        for _ in range(30):                     # a second of failing frames
            failures.failed(RuntimeError("detector crashed"))
            clock.now += 1 / 30
    assert len(caplog.records) == 1
    assert caplog.records[0].exc_info[1].args == ("detector crashed",)


def test_the_next_report_says_how_many_failures_went_unreported(clock, caplog):
    failures = FailureLog("stylecam-detection", interval=10.0, clock=clock)
    with caplog.at_level(logging.ERROR, logger="app.worker"):
        for _ in range(30):
            failures.failed(RuntimeError("detector crashed"))
        clock.now += 10.0
        failures.failed(RuntimeError("detector crashed"))
    assert [record.getMessage() for record in caplog.records] == [
        "stylecam-detection failed", "stylecam-detection failed (and 29 more times since the last report)"]
