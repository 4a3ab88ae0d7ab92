"""LatestBuffer: the newest item wins, versions grow, waiters sleep until woken."""
import threading

from app.live.buffers import LatestBuffer


class CountingCondition(threading.Condition):
    """A Condition that counts how often a waiter went to sleep (a busy loop would sleep often or never)."""

    def __init__(self):
        super().__init__()
        self.waits = 0

    def wait(self, timeout=None):
        self.waits += 1
        return super().wait(timeout)


def start_waiter(buffer, after_version, timeout):
    result = {}

    def wait():
        result["value"] = buffer.get_newer(after_version, timeout=timeout)

    thread = threading.Thread(target=wait)
    thread.start()
    return thread, result


def test_empty_buffer_has_nothing():
    buffer = LatestBuffer()
    assert buffer.latest() is None
    assert buffer.version == 0


def test_put_returns_growing_versions_and_latest_is_the_newest():
    buffer = LatestBuffer()
    assert buffer.put("a") == 1
    assert buffer.put("b") == 2
    assert buffer.latest() == (2, "b")


def test_a_slow_consumer_gets_only_the_newest_item():
    buffer = LatestBuffer()
    for frame in range(10):
        buffer.put(frame)
    assert buffer.get_newer(0, timeout=0) == (10, 9)


def test_get_newer_returns_at_once_when_a_newer_item_is_held():
    buffer = LatestBuffer()
    buffer.put("x")
    assert buffer.get_newer(0, timeout=0) == (1, "x")


def test_get_newer_times_out_with_none_when_nothing_newer_arrives():
    buffer = LatestBuffer()
    buffer.put("x")
    assert buffer.get_newer(1, timeout=0.01) is None


def test_a_put_wakes_a_waiting_consumer():
    buffer = LatestBuffer()
    thread, result = start_waiter(buffer, 0, timeout=30)
    buffer.put("frame")
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert result["value"] == (1, "frame")


def test_close_wakes_a_waiting_consumer_with_none():
    buffer = LatestBuffer()
    thread, result = start_waiter(buffer, 0, timeout=30)
    buffer.close()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert result["value"] is None
    assert buffer.closed


def test_an_item_put_before_close_is_still_delivered_once():
    buffer = LatestBuffer()
    buffer.put("last")
    buffer.close()
    assert buffer.get_newer(0, timeout=30) == (1, "last")
    assert buffer.get_newer(1, timeout=30) is None


def test_a_waiting_consumer_sleeps_instead_of_polling():
    buffer = LatestBuffer()
    buffer._condition = CountingCondition()
    assert buffer.get_newer(0, timeout=0.2) is None
    assert buffer._condition.waits == 1
