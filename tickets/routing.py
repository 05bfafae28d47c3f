"""Who gets a queued ticket (DOMAIN.md, "Routing"). Pure: no ORM.

The online agent of the team with the most free capacity; ties go to the one who has waited longest
since their last assignment; never an agent at their maximum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Candidate:
    agent_id: int
    load: int
    maximum: int
    last_assigned_at: datetime | None
    name: str = ""

    @property
    def free(self) -> int:
        return self.maximum - self.load


def choose_agent(candidates: list[Candidate]) -> Candidate | None:
    able = [c for c in candidates if c.free > 0]
    if not able:
        return None
    # Most free slots first; then never-assigned, then longest since the last assignment; then id.
    return min(
        able,
        key=lambda c: (
            -c.free,
            c.last_assigned_at is not None,
            c.last_assigned_at or datetime.min,
            c.agent_id,
        ),
    )


def why(candidate: Candidate, team_name: str) -> str:
    return f"most free capacity {candidate.load}/{candidate.maximum} in {team_name}"
