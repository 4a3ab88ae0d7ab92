"""The page, the snapshot and the MJPEG stream: shared frames, newest first, one slot per client."""
import threading

import pytest

from app.web.streams import BOUNDARY


def read_part(chunks):
    """The next multipart part of a stream as (headers, jpeg)."""
    part = next(chunks)
    head, _, body = part.partition(b"\r\n\r\n")
    lines = head.decode("ascii").split("\r\n")
    assert lines[0] == f"--{BOUNDARY}"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    jpeg = body[:int(headers["Content-Length"])]
    assert body[len(jpeg):] == b"\r\n"
    return headers, jpeg


@pytest.fixture
def open_stream(client):
    """Open /stream.mjpg (of a view) and hand back (response, iterator over its parts); closed after the test."""
    opened = []

    def open_(query=""):
        answer = client.get(f"/stream.mjpg{query}", buffered=False)
        opened.append(answer)
        return answer, iter(answer.response)

    yield open_
    for answer in opened:
        answer.close()


def test_the_page_shows_the_stream_and_loads_its_script_and_styles(client):
    page = client.get("/").get_data(as_text=True)
    assert '<img id="stream" src="/stream.mjpg"' in page
    assert "/static/app.js" in page and "/static/style.css" in page
    assert "http://" not in page and "https://" not in page      # nothing from a CDN: works offline


def test_snapshot_before_the_first_frame_is_503(client):
    answer = client.get("/snapshot.jpg")
    assert answer.status_code == 503
    assert "camera" in answer.get_json()["error"]


def test_snapshot_is_the_newest_frame(client, backend):
    backend.publish(shade=10)
    newest = backend.publish(shade=200)
    answer = client.get("/snapshot.jpg")
    assert answer.mimetype == "image/jpeg"
    assert answer.data == newest.jpeg
    assert answer.headers["X-Frame-Version"] == str(newest.version)
    assert answer.headers["X-Faces-Version"] == str(newest.faces_version)


def test_the_stream_is_multipart_and_starts_with_the_newest_frame(open_stream, backend):
    backend.publish(shade=10)
    backend.params.update({"seed": 5})
    newest = backend.publish(shade=200)
    answer, parts = open_stream()
    assert answer.mimetype == "multipart/x-mixed-replace"
    assert answer.mimetype_params["boundary"] == BOUNDARY
    headers, jpeg = read_part(parts)
    assert jpeg == newest.jpeg
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["X-Frame-Version"] == str(newest.version)
    assert headers["X-Faces-Version"] == str(newest.faces_version)
    assert headers["X-Params-Version"] == "2"


def test_a_busy_client_skips_the_frames_it_missed(open_stream, backend):
    backend.publish(shade=10)
    _, parts = open_stream()
    read_part(parts)
    for shade in (50, 100, 150):
        newest = backend.publish(shade=shade)
    headers, jpeg = read_part(parts)
    assert jpeg == newest.jpeg
    assert headers["X-Frame-Version"] == str(newest.version)


def test_a_client_that_goes_away_gives_its_slot_back(client, open_stream, backend):
    backend.publish(shade=10)
    answer, parts = open_stream()
    read_part(parts)
    assert client.get("/api/status").get_json()["stream_clients"] == 1
    answer.close()
    assert client.get("/api/status").get_json()["stream_clients"] == 0


def test_streams_beyond_the_cap_get_503(make_client, backend):
    backend.publish(shade=10)
    client = make_client(threads=5, bearer=True)     # 4 threads stay for the API: one stream at most
    first = client.get("/stream.mjpg", buffered=False)
    second = client.get("/stream.mjpg", buffered=False)
    assert first.status_code == 200
    assert second.status_code == 503
    assert "too many open streams" in second.get_json()["error"]
    first.close()


def test_open_streams_end_when_the_pipeline_stops(open_stream, backend):
    backend.publish(shade=10)
    _, parts = open_stream()
    read_part(parts)
    backend.stop()
    assert list(parts) == []


def test_open_streams_end_when_the_server_shuts_down(client, open_stream, backend):
    backend.publish(shade=10)
    _, parts = open_stream()
    read_part(parts)
    client.application.extensions["stylecam.streams"].closing.set()
    assert list(parts) == []


def test_a_stream_of_a_view_nobody_watched_waits_for_a_fresh_frame_of_it_and_counts_its_viewer(open_stream,
                                                                                                 backend):
    backend.publish(shade=10)
    backend.publish(shade=50, view="camera")             # from before anyone watched: not shown
    fresh = []
    later = threading.Timer(0.3, lambda: fresh.append(backend.publish(shade=90, view="camera")))
    later.start()                                        # the test client waits for the first part as it opens
    _, parts = open_stream("?view=camera")
    headers, jpeg = read_part(parts)
    later.join()
    assert jpeg == fresh[0].jpeg and headers["X-Frame-Version"] == str(fresh[0].version)
    assert backend.live.viewers.counts() == {"camera": 1}


def test_a_view_that_does_not_exist_is_400_naming_the_views(client):
    answer = client.get("/stream.mjpg?view=cartoon")
    assert answer.status_code == 400
    assert "stylized, camera, side" in answer.get_json()["error"]
    assert client.get("/snapshot.jpg?view=cartoon").status_code == 400


def test_a_view_this_stylecam_does_not_make_is_404(client):
    assert client.get("/stream.mjpg?view=side").status_code == 404


def test_a_snapshot_takes_the_view_asked_for(client, backend):
    backend.publish(shade=10)
    camera = backend.publish(shade=90, view="camera")
    with backend.live.viewers.watching("camera"):           # someone watches it: its newest frame is fresh
        assert client.get("/snapshot.jpg?view=camera").data == camera.jpeg
