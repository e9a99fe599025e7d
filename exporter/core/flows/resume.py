"""Reconnects without double counting: the window of flows already seen."""

from __future__ import annotations


class ResumeWindow:
    """De-duplication across reconnects: resume `seconds` before the newest event seen
    and skip the resent events that were already counted.

    Relay merges per-node streams with a short sort buffer, so events can arrive a little
    out of order; resuming a few seconds early (instead of at the newest time exactly)
    makes a reconnect lose nothing, and the remembered uuids make it count nothing twice.
    Events without uuid (Cilium before 1.11) are keyed by time and node instead.

    Cheap in steady state: the keys of the last `seconds` to 2 x `seconds` of event time
    are only appended to two lists (current and previous generation). `reconnected()`
    turns them into a set; only events not newer than the newest event seen before the
    reconnect can be resent ones, so only those are looked up."""

    __slots__ = (
        "_current",
        "_guard",
        "_previous",
        "_rotate_at",
        "_seen",
        "max_entries",
        "newest",
        "seconds",
    )

    def __init__(self, seconds: int = 5, max_entries: int = 2_000_000) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        """Per generation: bounds memory if timestamps stall (a stuck clock)."""
        self.newest = 0
        self._current: list[object] = []
        self._previous: list[object] = []
        self._rotate_at = 0
        self._guard = -1
        self._seen: set[object] = set()

    def reconnected(self) -> None:
        """A new stream starts (resuming at `resume_since()`): from now on, events up to
        the newest one seen so far are checked against the remembered keys."""
        self._seen = set(self._previous)
        self._seen.update(self._current)
        self._guard = self.newest

    def duplicate(self, key: object, seconds: int) -> bool:
        """True if `key` was counted before the last reconnect; else remembers it."""
        if seconds <= self._guard:
            seen = self._seen
            if key in seen:
                return True
            seen.add(key)  # a resent event may come twice within the new stream too
        current = self._current
        if seconds >= self._rotate_at or len(current) >= self.max_entries:
            # A jump of more than one generation forgets everything older.
            recent = seconds < self._rotate_at + self.seconds
            self._previous = current if recent else []
            self._current = current = []
            self._rotate_at = max(seconds, self.newest) + self.seconds
        current.append(key)
        if seconds > self.newest:
            self.newest = seconds
        return False

    def resume_since(self) -> int | None:
        """`since` for the next GetFlows (epoch seconds), None before the first event."""
        return self.newest - self.seconds if self.newest else None
