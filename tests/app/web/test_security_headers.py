"""Every response tells the browser: no framing, no sniffing, no referrer, only StyleCam's own content."""
import pytest

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",          # the first address carries the token
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def policy(response) -> dict:
    """The Content-Security-Policy as directive -> sources."""
    directives = (part.split() for part in response.headers["Content-Security-Policy"].split(";"))
    return {name: sources for name, *sources in directives}


def crash():
    raise RuntimeError("broken")


@pytest.mark.parametrize("request_kwargs, status", [
    (dict(path="/"), 200),
    (dict(path="/api/params"), 200),
    (dict(path="/api/faces"), 200),
    (dict(path="/stream.mjpg?view=nothing"), 400),                         # a view that does not exist
    (dict(path="/api/projections/ghost", method="PATCH", json={"name": "spirit"}), 404),
    (dict(path="/static/app.js"), 200),
    (dict(path="/snapshot.jpg"), 503),                                       # no frame yet
    (dict(path="/api/nothing-here"), 404),
    (dict(path="/api/params", method="POST", json={"seed": -1}), 400),
    (dict(path="/api/params", method="POST", json={"seed": 1}, headers={"Sec-Fetch-Site": "cross-site"}), 403),
    (dict(path="/api/status"), 500),
])
def test_every_response_carries_the_security_headers(client, backend, monkeypatch, request_kwargs, status):
    monkeypatch.setattr(backend, "status", crash)
    answer = client.open(**request_kwargs)
    assert answer.status_code == status
    assert {name: answer.headers.get(name) for name in EXPECTED} == EXPECTED
    assert policy(answer)["default-src"] == ["'self'"]
    assert policy(answer)["frame-ancestors"] == ["'none'"]


def test_the_token_page_and_the_stream_carry_them_too(make_client, backend):
    backend.publish(shade=10)
    refused = make_client().get("/", headers={"Accept": "text/html"})
    assert refused.status_code == 401
    stream = make_client(bearer=True).get("/stream.mjpg", buffered=False)
    try:
        for answer in (refused, stream):
            assert answer.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    finally:
        stream.close()
