"""An open problem and what one reading of the signals found (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One open problem, keyed by (signal, subject, segment). ``since``: when it started.
    ``details``: JSON-able figures its messages show (``headline``, ``description``,
    ``campaigns``, ``figures``, ``run_id``, ``links``)."""

    signal: str
    subject: str
    segment: str
    since: datetime
    details: dict[str, Any]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.signal, self.subject, self.segment)


@dataclass
class Reading:
    """The open problems, and for each subject seen clear, how (said in "resolved").
    ``judged``: for a check that says which segments it could judge (``segments_judged``),
    those segments; an open incident on another segment of it is left as it is (too few
    messages to say it recovered is not a recovery)."""

    problems: list[Problem] = field(default_factory=list)
    cleared: dict[str, str] = field(default_factory=dict)
    judged: dict[str, frozenset[str]] = field(default_factory=dict)


def run_link(ui_url: str, run_id: str) -> str:
    """The run's page in the Dagster UI."""
    return f"{ui_url}/runs/{run_id}"
