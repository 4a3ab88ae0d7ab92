"""The shared test settings: what a test that lacks its data or its browser does, locally and in CI."""
import pytest

REQUIRE_ALL_ENV = "STYLECAM_REQUIRE_ALL"    # the name README.md and .ci/run give


def test_a_missing_file_skips_the_test_with_the_reason(missing, monkeypatch):
    monkeypatch.delenv(REQUIRE_ALL_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="faces.json not found"):
        missing("faces.json not found")


def test_where_everything_is_required_a_missing_file_fails_the_test(missing, monkeypatch):
    monkeypatch.setenv(REQUIRE_ALL_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="faces.json not found; STYLECAM_REQUIRE_ALL=1 requires it"):
        missing("faces.json not found")


def test_where_everything_is_required_shared_file_fails_for_an_absent_file(shared_file, monkeypatch):
    monkeypatch.setenv(REQUIRE_ALL_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="offline test data not found: .*no-such-file.png"):
        shared_file("media/images/no-such-file.png")
