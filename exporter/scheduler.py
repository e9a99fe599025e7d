"""APScheduler wiring only: one interval job per cluster (and cron jobs such as the
quarterly report); the jobs call the service.

Each job: first run right away, then every `interval` seconds with random `jitter`
(so many clusters do not hit their API servers in step), never two runs of the same job
at once (`max_instances=1`), missed runs collapsed into one (`coalesce`). Crashed or
missed runs are logged and reported through `on_problem` so they are counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.events import (  # type: ignore[import-untyped]
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor  # type: ignore[import-untyped]
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

MAX_WORKERS = 8


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    run: Callable[[], None]
    interval_seconds: float
    jitter_seconds: float = 0.0
    first_delay_seconds: float = 0.0
    cron: str = ""
    """A crontab expression (UTC) instead of the interval: first run after
    `first_delay_seconds` (a catch-up), then at every time the expression matches."""


def cron_problem(expression: str) -> str | None:
    """Why a crontab expression (5 fields, UTC) is unusable, or None when it is fine."""
    try:
        CronTrigger.from_crontab(expression, timezone=UTC)
    except ValueError as exc:
        return f"{expression!r}: {exc}"
    return None


ProblemHook = Callable[[str, str], None]
"""(job id, what happened: "error" | "missed" | "overlap")."""


class Scheduler:
    def __init__(self, jobs: Sequence[Job], on_problem: ProblemHook | None = None) -> None:
        self._jobs = list(jobs)
        self._on_problem = on_problem
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max(1, min(MAX_WORKERS, len(jobs))))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self._scheduler.add_listener(
            self._event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
        )

    def start(self) -> None:
        now = datetime.now(UTC)
        for job in self._jobs:
            first = now + timedelta(seconds=job.first_delay_seconds)
            if job.cron:
                trigger = CronTrigger.from_crontab(job.cron, timezone=UTC)
                self._scheduler.add_job(
                    job.run, trigger, id=job.id, name=job.id, next_run_time=first
                )
                continue
            self._scheduler.add_job(
                job.run,
                "interval",
                seconds=job.interval_seconds,
                jitter=job.jitter_seconds or None,
                id=job.id,
                name=job.id,
                next_run_time=first,
            )
        self._scheduler.start()

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling; with `wait`, let running scans finish first."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def _event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_ERROR:
            what = "error"
            log.error("scan job %s crashed: %r", event.job_id, event.exception)
        elif event.code == EVENT_JOB_MISSED:
            what = "missed"
            log.warning("scan job %s missed its run time", event.job_id)
        else:
            what = "overlap"
            log.warning("scan job %s still running; this run is skipped", event.job_id)
        if self._on_problem is not None:
            self._on_problem(event.job_id, what)
