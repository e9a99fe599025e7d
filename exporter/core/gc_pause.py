"""Pausing the cyclic garbage collector around bulk work.

Loading, analysing and serialising a 100,000-pod cluster each build millions of
long-lived, acyclic objects; the collector would walk them again and again (seconds on
the benchmarks) and find nothing. Pauses nest: the state before the outermost one is
restored at its end.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
