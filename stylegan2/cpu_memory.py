"""Keep freed memory in the process instead of handing it back to the OS after every generator run.

A synthesis pass on the CPU allocates and frees activations of several MB each. By default glibc serves
large requests with fresh `mmap`s and unmaps them (or trims the heap) on free, so every run page-faults
its hundreds of MB in again: on a 2-core machine that kernel time was 5-10 % of a 256x256 generation.
With mmap off and trimming off, freed blocks are reused from the heap; the resident size stays at the
high-water mark of one run, which the process reaches anyway.
"""
import ctypes
import ctypes.util
import platform

_M_TRIM_THRESHOLD = -1   # mallopt parameter: free heap top above this many bytes is returned to the OS
_M_MMAP_MAX = -4         # mallopt parameter: at most this many requests served by mmap at once
_NEVER_TRIM = 2 ** 31 - 1  # mallopt takes an int: the largest value keeps (up to 2 GiB of) free heap top


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to reuse freed memory rather than unmap it; False where that is not possible.

    Process-wide and idempotent; meant for the entry point of a program that runs the generator on the
    CPU. Other C libraries (musl, macOS) are left as they are.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))
    except (OSError, AttributeError):
        return False
