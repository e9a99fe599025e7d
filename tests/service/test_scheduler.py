"""The APScheduler wiring: first run at once, repeats, no overlap, problems reported."""

from __future__ import annotations

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


def test_jobs_run_at_once_and_repeat() -> None:
    runs: list[str] = []
    scheduler = Scheduler(
        [Job("a", lambda: runs.append("a"), 0.2), Job("b", lambda: runs.append("b"), 0.2)]
    )
    scheduler.start()
    try:
        _wait(lambda: runs.count("a") >= 2 and runs.count("b") >= 2)
        assert scheduler.running
    finally:
        scheduler.shutdown()
    assert not scheduler.running


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
