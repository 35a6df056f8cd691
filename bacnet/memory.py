"""Giving memory back to the system after a large enumeration.

Enumerating a device of thousands of objects decodes tens of thousands of bacpypes3 objects
(request and answer PDUs, tag lists, values) that are garbage a moment later. CPython frees them,
but glibc keeps the freed heap pages mapped, so a worker that enumerated a 20,000-object device
stayed tens of megabytes larger for good (docs/performance.md has the numbers). After an
enumeration the engine collects reference cycles and asks glibc to return free pages
(``malloc_trim``); on other C libraries (musl, macOS, Windows) only the collection is done.
"""

from __future__ import annotations

import ctypes
import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_memory() -> None:
    """Collect garbage cycles, then hand free heap pages back to the system where glibc can."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@contextmanager
def release_after() -> Iterator[None]:
    """Run the block, then :func:`release_memory` (also when it raised)."""
    try:
        yield
    finally:
        release_memory()
