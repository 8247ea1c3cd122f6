"""What each booth buys: the incidents it is nearest to, what it alone covers, what is lost
without it, its workload and busy share, and what it costs in officers.

For a layout ``selected`` (fixed sites included) on the cost matrix of
:mod:`xunfang.plan.siting`:

* ``nearest``: demand weight whose nearest open site it is (ties to the lower index);
* ``sole_within_t``: weight within ``threshold_s`` of this site and of no other open site;
* ``lost_within_<m>min``: weight that drops out of each ring (1, 3, 5 min) if the site is
  closed (for the plan threshold this equals ``sole_within_t``);
* ``marginal_gain``: the tiered loss ``sum_t a_t lost_t / (sum_t a_t * total)``, a share of the
  demand (ring weights ``a_t``, default equal);
* ``added_mean_s``: how much the weighted mean travel time rises without it;
* workload: calls per day (``nearest`` over the days of data) and the busy probability and
  "nearest booth busy" share of the hypercube approximation
  (:func:`xunfang.analyse.queueing.hypercube_approx`; Larson 1975, Jarvis 1985), each call
  taking ``service_s`` on scene plus the drive there and back;
* ``low_value``: a booth (not a fixed site) whose ``marginal_gain`` is below
  ``low_value_share``.

Officer cost: ``officers_per_shift x shifts_per_day`` officers per booth per day (default
2 x 3 = 6), or from a roster (:meth:`StaffRule.from_roster`): each booth's minimum staff
(``booths.min_staff``, else ``default_min_staff``) times the roster's shifts per day (shift
starts in the week / 7: the week's average when shifts differ by day).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from xunfang.analyse.queueing import HypercubeResult, hypercube_approx, preference_lists
from xunfang.errors import ValidationError
from xunfang.ingest.notes import Note
from xunfang.plan.roster import Roster

__all__ = ["BoothValue", "StaffRule", "booth_values"]

RINGS_S = (60.0, 180.0, 300.0)


@dataclass(frozen=True)
class StaffRule:
    """Officers a booth needs: ``officers_per_shift`` x ``shifts_per_day`` per day.

    Attributes
    ----------
    officers_per_shift
        Officers at a booth at all times (a booth without its own entry in ``per_booth``).
    shifts_per_day
        Shifts per day (a roster's average over the week may be fractional).
    per_booth
        Officers at the named booths at all times (a roster's ``booths.min_staff``).
    source
        Where the figures come from, for the report.
    """

    officers_per_shift: int = 2
    shifts_per_day: float = 3
    per_booth: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "--staff-per-booth 2 x --shifts-per-day 3 (defaults)"

    def __post_init__(self) -> None:
        if self.officers_per_shift < 0 or not self.shifts_per_day > 0:
            raise ValidationError(
                f"--staff-per-booth must be >= 1 and shifts >= 1, got "
                f"{self.officers_per_shift} x {self.shifts_per_day}"
            )

    @classmethod
    def from_options(cls, officers_per_shift: int, shifts_per_day: int) -> StaffRule:
        """The ``--staff-per-booth`` / ``--shifts-per-day`` rule.

        Raises
        ------
        ValidationError
            If either is below 1.
        """
        if officers_per_shift < 1 or shifts_per_day < 1:
            raise ValidationError(
                f"--staff-per-booth must be >= 1 and shifts >= 1, got "
                f"{officers_per_shift} x {shifts_per_day}"
            )
        return cls(
            officers_per_shift,
            shifts_per_day,
            source=f"--staff-per-booth {officers_per_shift} x --shifts-per-day {shifts_per_day}",
        )

    @classmethod
    def from_roster(cls, roster: Roster, booth_names: Iterable[str] = ()) -> StaffRule:
        """Booth staffing of a roster: ``min_staff`` of each booth x the shifts per day
        (shift starts in the week / 7).

        Raises
        ------
        DataFileError
            If the roster names booths not in ``booth_names`` (when given).
        """
        names = list(booth_names)
        if names:
            roster.check_booths(names)
        starts = sum(len(s.days) for s in roster.shifts)
        return cls(
            roster.default_booth_min_staff,
            starts / 7.0,
            MappingProxyType(dict(roster.booth_min_staff)),
            source=f"roster {roster.source}",
        )

    @property
    def officers_per_day(self) -> float:
        """Officers per booth per day (a booth without its own entry)."""
        return self.officers_per_shift * self.shifts_per_day

    def for_booth(self, name: str) -> float:
        """Officers per day at booth ``name``."""
        return self.per_booth.get(name, self.officers_per_shift) * self.shifts_per_day


@dataclass(frozen=True)
class BoothValue:
    """Per-site figures of one layout.

    Attributes
    ----------
    table
        One row per open site in the order of ``selected``: ``site`` (candidate index),
        ``fixed``, ``nearest``, ``sole_within_t``, ``lost_within_1min`` (3, 5), ``marginal_gain``,
        ``added_mean_s``, ``calls_per_day``, ``busy_probability``, ``low_value``.
    queue
        The hypercube answer (None when the load has no steady state or there is no demand).
    nearest_busy_share
        Share of calls whose nearest site is busy when they come in.
    expected_share_within_t
        Expected share within the threshold when each site is busy with its own busy
        probability, independently (Daskin 1983).
    officers_per_day
        Per booth (a booth without its own entry in the roster).
    notes
        What was assumed.
    """

    table: pd.DataFrame
    queue: HypercubeResult | None
    nearest_busy_share: float
    expected_share_within_t: float
    officers_per_day: float
    notes: tuple[str, ...]


def booth_values(
    cost_s: ArrayLike,
    weights: ArrayLike,
    selected: Sequence[int] | ArrayLike,
    threshold_s: float,
    *,
    fixed: Sequence[int] = (),
    days: float,
    service_s: float = 45 * 60.0,
    ring_weights: Sequence[float] = (1.0, 1.0, 1.0),
    low_value_share: float = 0.005,
    staff: StaffRule | None = None,
) -> BoothValue:
    """What each open site buys (module notes).

    Parameters
    ----------
    cost_s
        (n_demand, n_candidates) travel times, seconds, ``inf`` where unreachable.
    weights
        (n_demand,) demand weights: incidents over ``days`` days (calls per day follow).
    selected
        Open candidate indices, fixed included.
    threshold_s
        The plan threshold, seconds.
    fixed
        Candidate indices of fixed sites (never flagged low value).
    days
        Days the demand weights span (> 0).
    service_s
        Mean time on scene per call, seconds (the drive there and back is added per pair).
    ring_weights
        Weights of the 1, 3 and 5 minute rings in ``marginal_gain``.
    low_value_share
        A booth whose marginal gain is below this share of the demand is flagged.
    staff
        Officers per booth (default 2 per shift, 3 shifts).

    Raises
    ------
    ValidationError
        For ``days <= 0``, an empty or repeated ``selected``, bad weights.
    """
    cost = np.asarray(cost_s, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    sel = np.asarray(selected, dtype=np.int64)
    if sel.size == 0 or np.unique(sel).size != sel.size:
        raise ValidationError("selected must name at least one site, without repeats")
    if not days > 0:
        raise ValidationError(f"days must be > 0, got {days}")
    if len(ring_weights) != len(RINGS_S) or any(a < 0 for a in ring_weights):
        raise ValidationError("ring_weights: three weights >= 0 (1, 3, 5 minutes)")
    staff = staff or StaffRule()
    total = float(w.sum())
    sub = cost[:, sel]  # (n_demand, n_open)
    n_open = sel.size
    order = np.argsort(sub, axis=1, kind="stable")
    rows = np.arange(sub.shape[0])
    best = sub[rows, order[:, 0]]
    second = sub[rows, order[:, 1]] if n_open > 1 else np.full(sub.shape[0], np.inf)
    reached = np.isfinite(best)
    nearest_pos = np.where(reached, order[:, 0], -1)
    nearest = np.bincount(nearest_pos[reached], weights=w[reached], minlength=n_open)
    mean_now = float(w[reached] @ best[reached] / w[reached].sum()) if w[reached].sum() else 0.0
    lost = np.zeros((len(RINGS_S), n_open))
    added_mean = np.zeros(n_open)
    for pos in range(n_open):
        mine = nearest_pos == pos
        for r, t in enumerate(RINGS_S):
            lost[r, pos] = float(w[mine & (best <= t) & ~(second <= t)].sum())
        after = np.where(mine, second, best)
        ok = np.isfinite(after)
        added_mean[pos] = (
            float(w[ok] @ after[ok] / w[ok].sum()) - mean_now if w[ok].sum() else math.inf
        )
    sole = np.zeros(n_open)
    mine_t = (best <= threshold_s) & ~(second <= threshold_s)
    sole += np.bincount(nearest_pos[mine_t], weights=w[mine_t], minlength=n_open)
    a = np.asarray(ring_weights, dtype=np.float64)
    gain = (a @ lost) / (a.sum() * total) if total > 0 and a.sum() > 0 else np.zeros(n_open)
    is_fixed = np.isin(sel, np.asarray(list(fixed), dtype=np.int64))
    calls_per_day = nearest / days
    notes = [Note("workload", per_day=total / days, days=days, scene_min=service_s / 60)]
    queue: HypercubeResult | None = None
    busy = np.full(n_open, np.nan)
    nearest_busy = math.nan
    expected = math.nan
    keep = reached & (w > 0)
    if keep.any():
        lam = w[keep] / (days * 86_400.0)
        tt = sub[keep]
        tt_f = np.where(np.isfinite(tt), tt, 1e9)
        tau = service_s + 2.0 * np.minimum(tt_f, 3600.0).T  # (n_open, n_atoms)
        try:
            queue = hypercube_approx(lam, preference_lists(tt_f), tau)
        except ValidationError as exc:
            notes.append(Note("no_queue", error=str(exc)))
        if queue is not None:
            busy = queue.busy_probability
            nearest_busy = queue.nearest_busy_share
            cover = sub <= threshold_s
            log_q = np.log(np.clip(busy, 1e-300, 1.0))
            all_busy = np.exp(np.where(cover, log_q[None, :], 0.0).sum(axis=1))
            all_busy[~cover.any(axis=1)] = 1.0
            expected = float(w @ (1.0 - all_busy) / total) if total else math.nan
            notes.append(
                Note(
                    "hypercube",
                    units=n_open,
                    load=queue.utilisation,
                    converged=Note("converged" if queue.converged else "not_converged"),
                    iterations=queue.iterations,
                )
            )
    table = pd.DataFrame(
        {
            "site": sel,
            "fixed": is_fixed,
            "nearest": nearest,
            "sole_within_t": sole,
            "lost_within_1min": lost[0],
            "lost_within_3min": lost[1],
            "lost_within_5min": lost[2],
            "marginal_gain": gain,
            "added_mean_s": added_mean,
            "calls_per_day": calls_per_day,
            "busy_probability": busy,
            "low_value": (~is_fixed) & (gain < low_value_share),
        }
    )
    return BoothValue(
        table=table,
        queue=queue,
        nearest_busy_share=nearest_busy,
        expected_share_within_t=expected,
        officers_per_day=staff.officers_per_day,
        notes=tuple(notes),
    )
