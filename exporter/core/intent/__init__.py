"""Intent: teams, guardrails with expiring exceptions, intended exposures, baseline drift
(docs/intent.md). Pure: the loader (exporter/sources/intent.py) hands it plain data."""

from exporter.core.intent.drift import (
    BaselineError,
    BaselinePolicy,
    DriftEntry,
    DriftState,
    read_baseline,
)
from exporter.core.intent.guardrails import ExceptionStatus, Violation
from exporter.core.intent.report import INTERNET_EGRESS, IntentReport, evaluate_intent
from exporter.core.intent.schema import UNOWNED, Intent, IntentError, Problem, parse_intent
from exporter.core.intent.teams import TeamMap

__all__ = [
    "INTERNET_EGRESS",
    "UNOWNED",
    "BaselineError",
    "BaselinePolicy",
    "DriftEntry",
    "DriftState",
    "ExceptionStatus",
    "Intent",
    "IntentError",
    "IntentReport",
    "Problem",
    "TeamMap",
    "Violation",
    "evaluate_intent",
    "parse_intent",
    "read_baseline",
]
