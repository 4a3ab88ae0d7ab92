"""The studio benchmark's judgement: the grid within 1.1x the singles' total, its first row before its last.
These tests feed ``verdict`` made-up timings; they never time anything."""
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_studio.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_studio", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_grid_as_fast_as_the_singles_that_shows_its_first_row_early_meets_the_target(bench):
    result = bench.verdict(singles_s=2.0, grid_s=2.1, first_row_s=1.0, last_row_s=2.1)
    assert result == {"grid_to_singles_ratio": 1.05, "grid_within_target": True, "first_row_before_last": True,
                      "target_met": True}


def test_a_grid_more_than_a_tenth_slower_than_the_singles_misses_the_target(bench):
    result = bench.verdict(singles_s=2.0, grid_s=2.3, first_row_s=1.0, last_row_s=2.3)
    assert not result["grid_within_target"] and not result["target_met"]


def test_a_grid_whose_rows_all_arrive_at_the_end_misses_the_target(bench):
    result = bench.verdict(singles_s=2.0, grid_s=2.0, first_row_s=2.0, last_row_s=2.0)
    assert result["grid_within_target"] and not result["first_row_before_last"] and not result["target_met"]
