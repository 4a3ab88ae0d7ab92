"""keep_freed_memory: once the heap has settled, running the same allocations again costs no page faults."""
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from stylegan2 import cpu_memory
from stylegan2.inference.precision import TORCH_VERSION

BUFFER_MB = 64   # above glibc's largest dynamic mmap threshold (32 MB), so by default it is mapped anew each time
PAGES = BUFFER_MB * 2 ** 20 // 4096
ROOT = Path(__file__).resolve().parents[2]

# Fills and frees the buffer five times and prints the page faults of the last round. The first rounds
# settle the heap: the aligned allocation asks for a little more than the exact block the first round
# freed, and the third round still faulted the whole buffer in again in about half of the runs here.
_ROUND_TRIPS = f"""
import resource, sys, torch
from stylegan2.cpu_memory import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
for _ in range(5):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.empty({BUFFER_MB} * 2 ** 18).fill_(1.0)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc tuning applies to glibc only")


def last_round_page_faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", _ROUND_TRIPS, mode], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


@glibc_only
def test_by_default_a_freed_large_buffer_is_page_faulted_in_again():
    assert last_round_page_faults("default") > PAGES // 2


@glibc_only
@pytest.mark.skipif(TORCH_VERSION < (2, 3),
                    reason="the CPU allocators of torch 1.13 and 2.2 lay big buffers out anew every few rounds "
                           "whatever malloc keeps (measured: every page faulted in again); torch 2.13 reuses them")
def test_kept_freed_memory_is_reused_without_page_faults():
    assert last_round_page_faults("keep") < PAGES // 10


def test_other_c_libraries_are_left_alone(monkeypatch):
    monkeypatch.setattr(cpu_memory.platform, "libc_ver", lambda: ("", ""))
    assert cpu_memory.keep_freed_memory() is False
