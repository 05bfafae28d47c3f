"""Priority and SLA decisions, pure (DOMAIN.md, "Priority and SLA"). No ORM.

Priority comes from impact × urgency; a premium or VIP customer's ticket is raised from the first moment.
Due times are computed from policy targets; business-calendar arithmetic arrives with the SLA issue and
plugs in through ``add_working_minutes``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

# impact (1 high … 3 low) × urgency (1 high … 3 low) → priority (1 = P1 … 4 = P4)
PRIORITY_MATRIX: dict[tuple[int, int], int] = {
    (1, 1): 1,
    (1, 2): 2,
    (1, 3): 3,
    (2, 1): 2,
    (2, 2): 3,
    (2, 3): 4,
    (3, 1): 3,
    (3, 2): 4,
    (3, 3): 4,
}

# The highest priority number (lowest urgency) a tier's tickets may carry.
TIER_PRIORITY_CAP = {"standard": 4, "premium": 2, "vip": 1}

# Used when no SlaPolicy row exists for a priority: (first response, resolution) in minutes.
DEFAULT_TARGETS = {1: (30, 4 * 60), 2: (60, 8 * 60), 3: (4 * 60, 24 * 60), 4: (8 * 60, 72 * 60)}


def priority_for(impact: int, urgency: int, tier: str = "standard") -> int:
    priority = PRIORITY_MATRIX[(impact, urgency)]
    return min(priority, TIER_PRIORITY_CAP.get(tier, 4))


def add_working_minutes(start: datetime, minutes: int, calendar=None) -> datetime:
    """``start`` plus ``minutes`` of working time. Without a calendar every minute counts (24/7)."""
    return start + timedelta(minutes=minutes)
