"""The access token guards the page, the stream, the snapshot and the API; it can be switched off."""
import pytest

from app.web.auth import generate_token, token_matches

GUARDED = ["/", "/stream.mjpg", "/snapshot.jpg", "/api/params", "/api/status", "/api/presets"]


@pytest.fixture
def anonymous(make_client, backend):
    backend.publish(shade=128)         # so that a request that gets through has something to show
    return make_client()


@pytest.mark.parametrize("path", GUARDED)
def test_every_route_needs_the_token(anonymous, path):
    answer = anonymous.get(path)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_browser_without_the_token_gets_a_page_that_asks_for_it(anonymous):
    answer = anonymous.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert answer.status_code == 401
    assert answer.mimetype == "text/html"
    assert b'name="token"' in answer.data


def test_the_api_without_the_token_answers_json_even_to_a_browser(anonymous):
    answer = anonymous.get("/api/params", headers={"Accept": "text/html"})
    assert answer.status_code == 401
    assert "token" in answer.get_json()["error"]


def test_a_wrong_token_is_refused(anonymous):
    assert anonymous.get("/api/params?token=guess").status_code == 401
    assert anonymous.get("/api/params", headers={"Authorization": "Bearer guess"}).status_code == 401


def test_the_token_in_the_query_opens_the_page_and_sets_a_strict_httponly_cookie(anonymous, token):
    answer = anonymous.get(f"/?token={token}")
    assert answer.status_code == 200
    cookie = answer.headers["Set-Cookie"]
    assert token in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_the_cookie_then_opens_the_stream_snapshot_and_api(anonymous, token):
    anonymous.get(f"/?token={token}")
    assert anonymous.get("/api/params").status_code == 200
    assert anonymous.get("/snapshot.jpg").status_code == 200
    stream = anonymous.get("/stream.mjpg", buffered=False)
    try:
        assert stream.status_code == 200
    finally:
        stream.close()


def test_a_bearer_header_is_accepted_and_sets_no_cookie(anonymous, token):
    answer = anonymous.get("/api/params", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers


def test_styles_and_scripts_need_no_token(anonymous):
    assert anonymous.get("/static/style.css").status_code == 200


def test_with_the_token_switched_off_everything_is_open(make_client, backend):
    backend.publish(shade=128)
    client = make_client(token=None)
    for path in ["/", "/snapshot.jpg", "/api/params"]:
        assert client.get(path).status_code == 200


def test_two_stylecams_on_one_host_keep_separate_cookies(anonymous, token):
    answer = anonymous.get(f"/?token={token}", base_url="http://localhost:5001")
    assert "stylecam-token-5001=" in answer.headers["Set-Cookie"]


def test_generated_tokens_are_long_random_and_url_safe():
    first, second = generate_token(), generate_token()
    assert first != second
    assert len(first) >= 40
    assert first.replace("-", "").replace("_", "").isalnum()


def test_token_comparison():
    assert token_matches("abc", "abc")
    assert not token_matches("abc", "abd")
    assert not token_matches("abc", None)
    assert not token_matches("abc", "")
