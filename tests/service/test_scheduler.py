"""The APScheduler wiring: first run at once, repeats, no overlap, problems reported."""

from __future__ import annotations

import itertools
import threading
import time

from exporter.scheduler import Job, Scheduler


def _wait(condition: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_first_run_is_at_once() -> None:
    """With a one-minute interval, every job still runs right after start: the first run
    does not wait for the interval (nor for a jitter of it)."""
    started: dict[str, float] = {}
    t0 = time.monotonic()
    scheduler = Scheduler(
        [
            Job("a", lambda: started.setdefault("a", time.monotonic()), 60.0),
            Job("b", lambda: started.setdefault("b", time.monotonic()), 60.0, 30.0),
        ]
    )
    scheduler.start()
    try:
        _wait(lambda: len(started) == 2, timeout=5)
    finally:
        scheduler.shutdown()
    assert max(started.values()) - t0 < 5


def test_first_delay_postpones_the_first_run() -> None:
    """`first_delay_seconds` (the Hubble flush job): nothing runs before it is over."""
    runs: list[float] = []
    t0 = time.monotonic()
    scheduler = Scheduler([Job("flush", lambda: runs.append(time.monotonic()), 60.0, 0.0, 0.6)])
    scheduler.start()
    try:
        time.sleep(0.3)
        assert runs == []
        _wait(lambda: len(runs) == 1, timeout=5)
    finally:
        scheduler.shutdown()
    assert runs[0] - t0 >= 0.5


def test_jobs_repeat_every_interval() -> None:
    runs: list[float] = []
    scheduler = Scheduler([Job("a", lambda: runs.append(time.monotonic()), 0.3)])
    scheduler.start()
    try:
        _wait(lambda: len(runs) >= 3)
        assert scheduler.running
    finally:
        scheduler.shutdown()
    assert not scheduler.running
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assert all(gap >= 0.2 for gap in gaps), gaps  # one run per interval, not back to back


def test_no_overlap_and_problems_are_reported() -> None:
    problems: list[tuple[str, str]] = []
    active = {"n": 0, "max": 0}
    lock = threading.Lock()

    def slow() -> None:
        with lock:
            active["n"] += 1
            active["max"] = max(active["max"], active["n"])
        time.sleep(0.6)
        with lock:
            active["n"] -= 1

    def crash() -> None:
        raise RuntimeError("boom")

    scheduler = Scheduler(
        [Job("slow", slow, 0.2), Job("crash", crash, 0.2)],
        on_problem=lambda job, what: problems.append((job, what)),
    )
    scheduler.start()
    try:
        _wait(lambda: ("crash", "error") in problems and ("slow", "overlap") in problems)
    finally:
        scheduler.shutdown(wait=True)  # waits for the running scan to finish
    assert active["max"] == 1 and active["n"] == 0
