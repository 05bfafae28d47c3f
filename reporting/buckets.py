"""The duration buckets of the time metrics' histograms (``DailyDurations``), defined once: how the roll-up
files a duration, and which range of minutes a bucket stands for when the metrics read percentiles back.

Log-spaced, so the error is relative: bucket 0 holds durations under a minute, bucket k ≥ 1 the durations in
[RATIO^(k−1), RATIO^k) minutes. A percentile read from the buckets takes each bucket at its geometric middle
(half a minute for bucket 0), which is within a factor √RATIO of every duration in it: with RATIO 1.1 the
median and p90 are within 4.9 % of the exact ones (within half a minute under a minute). 1.1^140 minutes is
over a century, so 141 buckets cover any duration.
"""

from __future__ import annotations

import math

from django.db.models import Case, F, FloatField, IntegerField, Value, When
from django.db.models.functions import Cast, Floor, Ln

RATIO = 1.1
# The most a bucketed percentile is off: relative above a minute, in minutes below it.
RELATIVE_ERROR = math.sqrt(RATIO) - 1
ABSOLUTE_ERROR_UNDER_A_MINUTE = 0.5


def bucket_of(minutes: float) -> int:
    """The bucket of a duration (the same rule as ``bucket_expression``, in Python)."""
    return 0 if minutes < 1 else math.floor(math.log(minutes) / math.log(RATIO)) + 1


def bucket_expression(field: str):
    """The bucket of a duration column, computed in the database (``bucket_of``)."""
    return Case(
        When(**{f"{field}__lt": 1}, then=Value(0)),
        default=Cast(Floor(Ln(F(field)) / Value(math.log(RATIO), output_field=FloatField())), IntegerField())
        + 1,
        output_field=IntegerField(),
    )


def middle(bucket: int) -> float:
    """The minutes a bucket stands for: its geometric middle (half a minute for bucket 0)."""
    return 0.5 if bucket == 0 else RATIO ** (bucket - 0.5)


def percentile(counts: dict[int, int], fraction: float) -> float | None:
    """``percentile_cont`` over a histogram ``{bucket: count}``: the values at positions ⌊(n − 1) × fraction⌋
    and the next, each taken as its bucket's middle, interpolated between. The exact percentile is the same
    interpolation between the exact values, so it is off by no more than each value is from its middle."""
    n = sum(counts.values())
    if not n:
        return None
    position = (n - 1) * fraction
    low = math.floor(position)
    values = []
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        while len(values) < 2 and seen > low + len(values):
            values.append(middle(bucket))
        if len(values) == 2:
            break
    upper = values[1] if len(values) > 1 else values[0]
    return values[0] + (upper - values[0]) * (position - low)
