"""Pure: a sustained decline on an HSE scale, found by a one-sided CUSUM that compares like with like.

Items rotate, so a scale's weekly mean is made of different items from week to week and its level
moves with the rotation alone. Instead each item's weekly mean is compared with that item's own
earlier weeks, as a two-sample z score (the difference over its standard error, so weeks with few
responses weigh less), the z scores of a week's items on one scale are combined (Stouffer: sum over
√m), and the one-sided lower CUSUM S = max(0, S − z − k) accumulates evidence of a fall. It signals
when S exceeds h. A population whose answers do not change gives z scores around 0, however the
items rotate; a real fall gives negative ones, week after week.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from wellpulse.common.rollups import Sums

# A spread of answers this small would make any difference look enormous: a floor, in 1-5 points.
MIN_SD = 0.5


@dataclass(frozen=True)
class Signal:
    statistic: float  # the CUSUM at the last week
    since: date  # the week the current run of evidence began
    weeks: int  # weeks with evidence in the run


def weekly_z(history: Mapping[date, Sums], week: date) -> float | None:
    """One item's week against all its earlier weeks; None without both."""
    now = history.get(week)
    earlier = Sums()
    for w, sums in history.items():
        if w < week:
            earlier += sums
    if now is None or not now.n or earlier.n < 2:
        return None
    mean_before = earlier.total / earlier.n
    variance = max(earlier.total_sq - earlier.n * mean_before * mean_before, 0.0) / (earlier.n - 1)
    sd = max(math.sqrt(variance), MIN_SD)
    standard_error = sd * math.sqrt(1 / now.n + 1 / earlier.n)
    return (now.total / now.n - mean_before) / standard_error


def combined_z(items: Mapping[str, Mapping[date, Sums]], week: date) -> float | None:
    scores = [z for history in items.values() if (z := weekly_z(history, week)) is not None]
    return sum(scores) / math.sqrt(len(scores)) if scores else None


def decline(items: Mapping[str, Mapping[date, Sums]], weeks: Sequence[date], k: float, h: float) -> Signal | None:
    """The signal at the last of ``weeks`` for one scale's items (code → week → sums), or None."""
    statistic, since, run = 0.0, None, 0
    for week in sorted(weeks):
        z = combined_z(items, week)
        if z is None:
            continue  # no item of this scale was asked (or none has a history yet): nothing learnt
        statistic = max(0.0, statistic - z - k)
        if statistic == 0.0:
            since, run = None, 0
        else:
            since, run = since or week, run + 1
    if statistic > h and since is not None:
        return Signal(round(statistic, 2), since, run)
    return None
