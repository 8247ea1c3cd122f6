"""Automatic choice of the forecast method and its parameters (method spec ``auto``).

For each forecast window, :class:`AutoSelect` scores a list of candidate forecasters by
rolling-origin validation on the windows of the same kind just **before** the forecast
window (at least 7, more until they hold 300 incidents, at most 28; each validation
window is forecast from the incidents before it, as in Tashman 2000), then picks the
simplest candidate whose mean validation score is within one standard error of the
best: the one-standard-error rule of Hastie, Tibshirani & Friedman (2009), *The
Elements of Statistical Learning*, 2nd ed., section 7.10, here applied to the
per-window score differences against the best candidate (paired, so the day-to-day
variation common to all methods cancels), except that the preferred candidate
(``prefer``, default ``gbm``) replaces that choice when it is itself within one
standard error of the best and its mean validation score is no lower than the simplest's.
The chosen candidate is then fitted on all the history it was given and forecasts the
window.

**Preferred candidate.** With about 9 validation days, the learned forecaster and the
simpler ones are usually within one standard error of each other for sparse types, and
the plain rule then takes the simpler: on days the selection never saw, that cost
accuracy. On a development split (the 92 days from 2014-10-01 of the example city, whole,
150 m cells, a year of history or all there was; ``benchmarks/bench_forecast_target.py
--ours auto --test-start 2014-10-01 --test-days 92``), the hit rate over the best of
naive counts, KDE and prospective hotspotting (picked per coverage with hindsight) at
1 / 5 / 20 % of the area was, for the plain rule, this rule, and ``gbm`` alone:

====================  ===================  ===================  ===================
group                 plain 1-SE rule      preferring gbm       gbm alone
====================  ===================  ===================  ===================
burglary              1.105 1.144 1.107    1.132 1.156 1.120    1.151 1.157 1.133
motor vehicle theft   1.178 1.129 1.136    1.184 1.193 1.194    1.161 1.211 1.212
theft                 0.995 1.010 1.025    1.003 1.015 1.031    1.004 1.014 1.037
all crime             1.000 1.000 1.004    1.000 1.002 1.004    1.010 1.005 1.005
====================  ===================  ===================  ===================

at least the plain rule's at all 12 cells (it chose ``gbm`` on 77 / 92 / 85 / 64 of
the 92 days, ``stack`` or naive counts on the others). Preferring ``gbm`` whenever it was
within one standard error, whatever its mean, did as well there (1.153 1.157 1.119 for
burglary, the rest within .004), but let a noisy ``gbm`` in on small areas by its own
wide spread (district 1, 7 validation days: 0.252 against naive counts' 0.341). The
rule falls back to the simplest within one standard error when ``gbm`` scores lower than
it, is not among the candidates, is skipped for the budget, and with ``prefer=none``.
The test split's figures, measured after this default was set, are in that benchmark's
docstring.

**History of a validation window.** Each validation window is forecast from the same
length of history before it: ``H = max(D - S - 1, min_train_days)`` whole days, with
``D`` the days of history given to :meth:`fit` and ``S`` the span of the most validation
windows (``max_validation_windows`` windows, a day or a week each), cut at the start of
that history. Every window is then judged on equal terms, and a window's score is a
function of the incidents in ``[window start - H, window end)`` alone.

**Reuse across forecast days** (``warm_start=True``, as in a rolling-origin
evaluation): the validation windows of the next day are those of this day shifted by
one, and with a history of fixed length ``D`` each keeps its ``H``. The scores of the
windows already scored are kept and only the newest window is scored anew, about
``1 / n`` of the work for ``n`` windows. A kept score is used only while the incidents
it was computed from, ``[window start - H, window end)``, are the same in the new
history (compared array for array); the forecast window itself is never among them.
The candidates whose warm start only moves the starting point of an iteration stopped
on the same tolerance (``Forecaster.warm_start_converges``: ``sepp``'s EM) are kept
fitted across days too: the newest window's fit starts from the previous day's fit
of that window (its history shifted by one day), and the final fit of the chosen
candidate from its previous final fit (or from its newest validation fit); this
happens only while the kept scores are kept (the incidents of the overlap unchanged).
Such a fit equals a cold one within the EM tolerance, not bit for bit; every other
candidate is fitted cold (``gbm`` and ``stack``, which keep a fit when warm-started, with
``refit_every_days=1``; by default they are run and validated with their fit kept, see
the cadence below). The
selection is then the same with the kept scores as without them but for those
tolerance-sized differences (and given a budget that does not bind: the budget counts
only the windows still to score, so reuse may let a costly candidate in that a cold
selection leaves out). With ``warm_start=False`` (the default, one forecast) nothing is
kept, the iterative candidates (``sepp``) are warm-started from window to window, and
the final fit is cold.

**Cadence in rolling use** (``warm_start=True``): operational forecasting chooses the
model and retrains it on a schedule, and each day only updates the inputs and predicts.
``reselect_every_days`` (default 7) keeps the choice made for a window for the windows
of the same kind that start less than that many local days after it (a rolling run
re-selects on its days 0, 7, 14, ...; nothing is scored in between); the scores of the
validation windows are kept as above, so a re-selection scores the windows new since
the last one. The chosen forecaster is fitted on the latest history for every window:
naive counts, KDE and prospective hotspotting anew, ``sepp``'s EM from its previous fit;
the costly ones (``gbm``'s trees, ``stack``'s weights) are validated as they are run:
a validation window is forecast from their fit at the start of its block of
``refit_every_days`` (default 7) local days (blocks counted from a fixed date, so the
same on every forecast day), made on the history of a validation window (``H`` days
before the block's start), with the inputs at the window's own start (``gbm``'s
features, ``stack``'s members, from the latest history); a validation window's score is
then a function of the incidents from that fit's history start to the window's end.
The forecast itself (``final_fit="all"``, the default) comes from the chosen
forecaster's own fit on all the history, made when it is chosen and kept for
``refit_every_days``, its inputs at the window's start, as a single forecast fits it;
with ``final_fit="block"`` it comes from the block's validation fit instead (one fit a
block; when that fit cannot be made, its start before the history's or too short a
history there, from a fit on all the history kept for ``refit_every_days``). Why 7 and
7: on the whole example city (a year of history, 14 days from 2015-01-05, the tuning
days of ``gbm``) a ``gbm`` (150 trees) kept 7 days scored as one refitted daily (mean
hit rate at 1, 5 and 20 %
.302 against .302 for burglary, .388 against .389 for all types) at a sixth of the fit
time (0.35 against 2.2 s CPU a day, 0.76 against 5.4 s). With both cadences at 7 a
rolling ``auto`` took 1.2 s CPU a day against 2.7 s choosing and refitting every day
(burglary, 29 days from 2015-04-06; all types 6.4 against 11.0 s over 15 days; a budget
that does not bind), at mean hit rates of .286 against .291 (all types .379 both);
choosing every day with the kept fits took 1.3 s, choosing every 7 days with cold fits
as much as every day (a choice scores as many windows): most of the saving is the kept
fit, the weekly choice moves the rest of the work to one day in 7 (0.1 s on the others).
With the block's fit shared by validation and forecast, the dense-type list
(:data:`DENSE_EVENTS_PER_DAY`) and cheaper kernel sums, the same cadence takes 0.70 s
CPU a day for burglary and 0.75 s for all types (days 2-15 of 15 from 2015-04-06; 1.11
and 5.19 s before on the same command and machine; 3.8 and 3.1 s on a choosing day
against 7.0 and 35.8 s), with the same choices on all 84 days from 2015-04-06 and mean
hit rates at 1/5/20 % moved by +.0005 +.0033 +.0052 for burglary (paired SE .0023
.0041 .0033) and -.0004 -.0003 -.0002 for all types (49 days; SE .0003 .0005 .0005).
``benchmarks/bench_forecast_city.py --cadence`` prints these figures day by day. (Those
figures are of ``final_fit="block"``, the default until 2026-12-03; ``"all"`` adds one
costly fit a week on a history of fixed length.)
:attr:`Selection.selected_for` and :attr:`Selection.model_fitted_on` say when the choice
was made and when the chosen forecaster was last fully fitted.

The selection only sees the events the forecaster was fitted on, and
:meth:`xunfang.analyse.forecast.Forecaster.predict` refuses a window that starts before
their end: the forecast window itself is never read.

The score of a candidate in one validation window is the mean of its hit rates at the
coverages ``fractions`` (default 1, 5 and 20 % of the area; open_cp's tie rule, see
:func:`xunfang.analyse.evaluate.hit_counts`).

Candidates are a data structure (:data:`CANDIDATES`, a tuple of :class:`Candidate`),
listed from the simplest to the most complex; extend it with :func:`candidates_with`
or pass ``candidates=`` specs in complexity order. On a history denser than
:data:`DENSE_EVENTS_PER_DAY` incidents a day (all crime, or theft, of a large city) the default
list leaves out the candidates measured never to come near the best there (both SEPP
models, four weeks of counts, two of the KDEs, both prospective methods), with a note;
specs passed as ``candidates=`` are all tried. A candidate whose method is not in
:data:`xunfang.analyse.forecast.registry.METHODS` is left out (with a note).

**Complexity order** of the default list (simplest first): naive counts (no smoothing,
longer periods first: a year of counts varies less than a month), retrospective KDE (wide
bandwidths first), prospective hotspotting (on cells, then in metres), the self-exciting
point process (same-cell triggering, then across neighbouring cells), then the costliest:
the stacked ensemble and gradient-boosted trees.

**Budget.** A candidate's time on the first validation window is measured; when that
time over the planned validation windows still to score (kept scores cost nothing) and
the final fit would take the selection past ``budget_s``, the candidate is skipped and
the selection's notes say so with the figures. Later candidates are still tried.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from xunfang.analyse.forecast._base import Forecaster, TrainingEvents, Window, from_days
from xunfang.analyse.forecast.learned import CellContext
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError

AUTO_BUDGET_S = 120.0
"""Default time budget of one selection, seconds."""

RESELECT_EVERY_DAYS = 7
"""Default cadence of re-selection in rolling use (``warm_start``), days."""

REFIT_EVERY_DAYS = 7
"""Default cadence of the full refit of a kept costly forecaster (``gbm``, ``stack``) in
rolling use (``warm_start``), days."""

PREFER = "gbm"
"""Default candidate taken whenever it is within one standard error of the best (see
"Preferred candidate" in the module docstring); ``auto:prefer=none`` turns it off."""

SCORE_FRACTIONS = (0.01, 0.05, 0.20)
"""Coverages whose hit rates are averaged into one validation score."""


@dataclass(frozen=True)
class Candidate:
    """One candidate setting.

    Attributes
    ----------
    spec
        Method spec (:func:`xunfang.analyse.forecast.make_forecaster`).
    family
        Method family, for reports.
    why
        Why this setting is in the list.
    costly
        Among the costliest (for reports; every candidate is skipped when its measured
        time would take the selection past its budget).
    max_events_per_day
        Left out of a selection whose history holds more incidents a day than this
        (mean over the history given to :meth:`AutoSelect.fit`, never the forecast
        window), with a note; ``None``: always tried. For candidates measured never to
        come within one standard error of the best on such dense types, at a cost that
        would dominate the selection (see :data:`DENSE_EVENTS_PER_DAY`).
    """

    spec: str
    family: str
    why: str = ""
    costly: bool = False
    max_events_per_day: float | None = None


DENSE_EVENTS_PER_DAY = 100.0
"""Incidents a day of history above which ``auto`` leaves out the candidates measured
never to come near the best on such dense types (:attr:`Candidate.max_events_per_day`):
both SEPP models, four weeks of counts, the KDEs of 300 and 75 m and both prospective
methods. Measured on the whole example city (150 m cells; ``budget_s`` not binding),
as standard errors of the paired difference behind the best, on every selection:

- all crime (about 700 incidents a day; a year of history, 24 weekly selections from
  2015-01-05 to 2015-06-22): the best was always ``gbm`` (16), ``stack`` (7) or a year of
  counts (1); same-cell SEPP at least 3.0 behind, space-time SEPP 4.6, the 300 m KDE
  9.5, four weeks of counts 10.4, the 75 m KDE and continuous prospective hotspotting
  11.0, prospective hotspotting 12.6 (those kept, a season of counts and the 150 m KDE,
  came within 3.2 and 4.0). The two SEPP fits took about 80 % of a selection's CPU time
  (30 of 38 s; the space-time model's pair budget cuts its triggering to under 6 days
  there), the other five about 1.3 s.
- theft (161 a day; 14 weekly selections from 2014-10-01, 273-364 days of history,
  the development split): the best was ``gbm`` every time; same-cell SEPP at least 3.3
  behind (median 4.0), space-time SEPP 3.7, the 300 m KDE 6.3, the 75 m KDE 7.8, both
  prospective methods 7.7, four weeks of counts 9.3. On 29 days from 2015-01-19 (a year
  of history) the two SEPPs took 49.5 of the 64 s of validation fits, and ``auto`` 2.75 s
  wall a day.
- battery (135 a day; 7 selections from 2014-10-01): the best was ``gbm`` every time;
  same-cell SEPP at least 2.0 behind (median 3.6), space-time SEPP 3.8, the others 4.6
  or more.

The choice is the same without them: a candidate that is neither the best nor the one
chosen never changes the one-standard-error choice (checked on the 24 selections of all
crime). The next densest types keep every candidate (criminal damage and narcotics 75 a
day, burglary 37, motor vehicle theft 27): they were not measured. The figures are
``diff_to_best / se_diff`` of the selection rows (``Evaluation.selections``) of a rolling
``auto`` run with every candidate, as ``benchmarks/bench_forecast_target.py --ours auto
--every-candidate --groups theft --test-start 2014-10-01 --test-days 92`` writes them to
``selections_theft.csv``."""


CANDIDATES: tuple[Candidate, ...] = (
    Candidate("naive:period_days=365", "naive", "a year of counts (the issue's baseline)"),
    Candidate("naive:period_days=91", "naive", "a season of counts"),
    Candidate(
        "naive:period_days=28",
        "naive",
        "the last four weeks",
        max_events_per_day=DENSE_EVENTS_PER_DAY,
    ),
    Candidate(
        "kde:bandwidth_m=300:window_days=365",
        "kde",
        "wide smoothing (sparse types)",
        max_events_per_day=DENSE_EVENTS_PER_DAY,
    ),
    Candidate("kde:bandwidth_m=150:window_days=365", "kde", "one cell of smoothing"),
    Candidate(
        "kde:bandwidth_m=75:window_days=365",
        "kde",
        "narrow smoothing",
        max_events_per_day=DENSE_EVENTS_PER_DAY,
    ),
    Candidate(
        "prospective",
        "prospective",
        "Bowers et al. 2004: 400 m, 8 weeks",
        max_events_per_day=DENSE_EVENTS_PER_DAY,
    ),
    Candidate(
        "prospective-continuous",
        "prospective-continuous",
        "Bowers et al. 2004 with distances in metres (sub-cell samples)",
        max_events_per_day=DENSE_EVENTS_PER_DAY,
    ),
    Candidate(
        "sepp:trigger_bandwidth_m=0",
        "sepp",
        "same-cell triggering only (Mohler et al. 2011 on the grid)",
        max_events_per_day=DENSE_EVENTS_PER_DAY,
    ),
    Candidate(
        "sepp",
        "sepp",
        "triggering across neighbouring cells over days to weeks",
        max_events_per_day=DENSE_EVENTS_PER_DAY,
    ),
    Candidate(
        "stack", "stack", "non-negative Poisson stack of naive, KDE, prospective", costly=True
    ),
    Candidate("gbm", "gbm", "gradient-boosted trees over cell features", costly=True),
)
"""Default candidates, simplest first (the complexity order of the 1-SE rule). The
costly ones (``stack``, ``gbm``) come last: each is scored only when the budget allows
(see :meth:`AutoSelect.select`)."""


def candidates_with(
    *extra: str | Candidate, base: Sequence[Candidate] = CANDIDATES
) -> tuple[Candidate, ...]:
    """``base`` followed by ``extra`` candidates (specs or :class:`Candidate`), the new
    ones counted as more complex than every one of ``base``."""
    out = list(base)
    for e in extra:
        out.append(e if isinstance(e, Candidate) else Candidate(e, e.split(":")[0].split("+")[0]))
    return tuple(out)


# --------------------------------------------------------------------------- 1-SE rule
@dataclass(frozen=True)
class OneSEChoice:
    """The result of :func:`one_se_choice`.

    Attributes
    ----------
    chosen
        Index of the chosen candidate (the simplest within one SE of the best).
    best
        Index of the candidate with the highest mean score.
    mean
        (c,) mean score per candidate over the windows scored.
    diff
        (c,) mean of (best - candidate) per window.
    se
        (c,) standard error of that mean, ``sd(ddof=1) / sqrt(n)`` (0 for the best, NaN
        with fewer than two windows).
    within
        (c,) bool: ``diff <= se`` (the best is always within).
    n_windows
        Windows scored (those where every candidate has a score).
    """

    chosen: int
    best: int
    mean: np.ndarray
    diff: np.ndarray
    se: np.ndarray
    within: np.ndarray
    n_windows: int


def one_se_choice(scores: np.ndarray, prefer: int | None = None) -> OneSEChoice:
    """The one-standard-error rule over paired per-window scores (higher is better).

    Hastie, Tibshirani & Friedman (2009), ESL section 7.10: choose the simplest model
    whose score is within one standard error of the best. The standard error here is
    that of the mean per-window difference to the best candidate (a paired comparison).

    Parameters
    ----------
    scores
        (c, w) score of candidate ``i`` (rows in complexity order, simplest first) in
        validation window ``j``; NaN where a window has no score (e.g. no incident):
        such windows are left out for every candidate.
    prefer
        Index of a candidate chosen instead of the simplest within one standard error of
        the best when it is itself within one standard error and its mean score is at
        least the simplest's; ``None``: none.

    Raises
    ------
    ValidationError
        If ``scores`` is not 2-d with at least one candidate and one window scored.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] < 1:
        raise ValidationError(f"scores must be (candidates, windows), got shape {s.shape}")
    ok = np.isfinite(s).all(axis=0)
    s = s[:, ok]
    n = s.shape[1]
    if n == 0:
        raise ValidationError("no validation window has a score for every candidate")
    mean = s.mean(axis=1)
    best = int(np.argmax(mean))
    d = s[best][None, :] - s
    diff = d.mean(axis=1)
    se = d.std(axis=1, ddof=1) / math.sqrt(n) if n > 1 else np.full(len(s), np.nan)
    se = np.where(np.arange(len(s)) == best, 0.0, se)
    # with one window there is no spread: only the best (and exact ties) qualify
    within = diff <= np.where(np.isfinite(se), se, 0.0) + 1e-12
    chosen = int(np.flatnonzero(within)[0])
    # the preferred candidate replaces the simplest within one SE only where it does not
    # score lower than it: a noisy candidate is not let in by its own wide spread
    if (
        prefer is not None
        and 0 <= prefer < len(s)
        and within[prefer]
        and mean[prefer] >= mean[chosen] - 1e-12
    ):
        chosen = prefer
    return OneSEChoice(chosen, best, mean, diff, se, within, n)


# --------------------------------------------------------------------------- selection
@dataclass
class Selection:
    """What :class:`AutoSelect` chose for one forecast window, and why.

    Attributes
    ----------
    window
        Label of the forecast window.
    chosen, best
        Specs of the chosen candidate and of the one with the best mean score.
    table
        One row per candidate: ``candidate, family, complexity, windows, score_mean,
        diff_to_best, se_diff, within_1se, chosen`` plus ``hr_<f>`` mean hit rates.
    scores
        One row per candidate and validation window: ``candidate, window, n_events,
        score, hr_<f>, seconds, reused`` (``reused``: the score was kept from an earlier
        fit, see ``warm_start``; ``seconds`` is the time it took then).
    validation_windows
        Labels of the validation windows scored.
    notes
        Budget stops, candidates left out.
    seconds
        Wall time of the selection (0 for a choice kept from an earlier window).
    selected_for
        Label of the window whose selection made this choice: ``window`` itself when the
        selection ran for it, an earlier window when the choice was kept (see
        ``reselect_every_days`` of :class:`AutoSelect`); ``""`` before the chosen
        candidate is fitted.
    reselect_every_days
        The cadence the choice was made under (1: every window).
    model_fitted_on
        Local time (``YYYY-MM-DD HH:MM``, the incidents' time zone) at which the
        history of the chosen forecaster's last full fit ended: the day its trees or
        weights were learned for a kept ``gbm`` or ``stack`` (see ``refit_every_days``
        of :class:`AutoSelect`), the window's own start for a forecaster refitted on
        every window; ``""`` before it is fitted.
    preferred
        The candidate the selection prefers within one standard error of the best
        (``prefer`` of :class:`AutoSelect`), ``""``: the simplest is preferred.
    """

    window: str
    chosen: str
    best: str
    table: pd.DataFrame
    scores: pd.DataFrame
    validation_windows: list[str]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    selected_for: str = ""
    reselect_every_days: int = 1
    model_fitted_on: str = ""
    preferred: str = ""

    @property
    def validation_incidents(self) -> int | None:
        """Incidents in the validation windows scored (``None`` without the scores)."""
        if self.scores.empty or not {"window", "n_events"} <= set(self.scores.columns):
            return None
        return int(self.scores.drop_duplicates("window")["n_events"].sum())

    @property
    def reselected(self) -> bool:
        """Whether the selection ran for :attr:`window` (``False``: a kept choice)."""
        return not self.selected_for or self.selected_for == self.window

    def reason(self, lang: str = "en") -> str:
        """One sentence: what was chosen and why, in English (``lang="en"``) or Chinese
        (``"zh"``; the notes' own wording is translated where :func:`note_text` knows it)."""
        t = self.table.set_index("candidate")
        c = t.loc[self.chosen]
        zh = lang == "zh"
        # the incidents behind the scores: a choice on 9 of them is close to noise, and the
        # reader should see that (a new-user test)
        n = self.validation_incidents
        if zh:
            text = (
                f"{self.chosen}：在 {int(c['windows'])} 个有警情的验证时段"
                + (f"（共 {n} 起警情）" if n is not None else "")
                + f"上平均得分 {c['score_mean']:.3f}"
            )
        else:
            text = (
                f"{self.chosen}: mean validation score {c['score_mean']:.3f} over "
                f"{int(c['windows'])} windows with incidents"
                + (f" ({n} incident{'' if n == 1 else 's'})" if n is not None else "")
            )
        if self.chosen == self.best:
            text += "（最佳）" if zh else " (the best)"
        else:
            b = t.loc[self.best]
            plain = self.chosen  # what the plain rule took: the simplest within one SE
            if self.chosen == self.preferred and "within_1se" in t:
                plain = str(t.index[t["within_1se"].astype(bool)][0])
            if plain != self.chosen:
                p = t.loc[plain]
                why_zh = (
                    f"为优先方法，得分不低于更简单的 {plain}（{p['score_mean']:.3f}，"
                    "若无优先方法则选它）"
                )
                why_en = (
                    f"the preferred setting, scoring no lower than the simpler {plain} "
                    f"({p['score_mean']:.3f}, the choice without a preference)"
                )
            else:
                why_zh, why_en = "更简单", "simpler"
            text += (
                f"，与最佳方法 {self.best}（{b['score_mean']:.3f}）相差在一个标准误"
                f"（{c['se_diff']:.3f}）之内，且{why_zh}"
                if zh
                else f", within one standard error ({c['se_diff']:.3f}) of the best, "
                f"{self.best} ({b['score_mean']:.3f}), and {why_en}"
            )
        pref = self.preferred
        if pref and pref != self.chosen and pref in t.index and "within_1se" in t:
            q = t.loc[pref]  # why the preference did not apply
            lower = bool(q["within_1se"])
            se = float(q["se_diff"]) if "se_diff" in q else float("nan")
            # its own standard error: a wide one lets a low score in (a tester read "within
            # one standard error but lower" as a contradiction without it)
            if not np.isfinite(se):  # one window scored: no spread to judge by
                tail_en = "below the best; one window with incidents gives no standard error"
                tail_zh = "低于最佳；只有一个有警情的验证时段，无法计算标准误"
            elif lower:
                tail_en = f"within its standard error ({se:.3f}) of the best but below this choice"
                tail_zh = f"与最佳相差在其一个标准误（{se:.3f}）之内，但低于所选方法"
            else:
                tail_en = f"more than its standard error ({se:.3f}) below the best"
                tail_zh = f"低于最佳超过其一个标准误（{se:.3f}）"
            score = f"{q['score_mean']:.3f}"
            text += (
                f"（优先方法 {pref} 得分 {score}，{tail_zh}）"
                if zh
                else f" (the preferred {pref} scored {score}, {tail_en})"
            )
        if not self.reselected:
            text += (
                f"（沿用为 {_window_label_zh(self.selected_for)} 所作的选择，"
                f"每 {self.reselect_every_days} 天重新选择）"
                if zh
                else f" (the choice made for {self.selected_for}, kept: re-selected every "
                f"{self.reselect_every_days} days)"
            )
        if not self.notes:
            return text
        sep = "；" if zh else "; "
        return text + sep + sep.join(note_text(n, lang) for n in self.notes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "window": self.window,
            "chosen": self.chosen,
            "best": self.best,
            "reason": self.reason(),
            "reason_zh": self.reason("zh"),
            "validation_windows": self.validation_windows,
            "notes": self.notes,
            "notes_zh": [note_text(n, "zh") for n in self.notes],
            "seconds": self.seconds,
            "selected_for": self.selected_for,
            "reselected": self.reselected,
            "reselect_every_days": self.reselect_every_days,
            "model_fitted_on": self.model_fitted_on,
            "preferred": self.preferred,
            "candidates": self.table.replace({np.nan: None}).to_dict(orient="records"),
        }


_NOTE_ZH: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"time budget (?P<b>\S+) s reached: (?P<i>\d+) validation windows scored "
            r"\((?P<n>\d+) incidents\)"
        ),
        "已到时间预算 {b} 秒：已评分 {i} 个验证时段（{n} 起警情）",
    ),
    (
        re.compile(r"time budget (?P<b>\S+) s reached: candidates (?P<c>.+) not scored"),
        "已到时间预算 {b} 秒：候选 {c} 未评分",
    ),
    (
        re.compile(
            r"(?P<c>\S+) skipped: (?P<s>\S+) s (?P<t>on the first validation window|"
            r"a validation window on earlier days), so (?P<w>\d+) windows and the final fit "
            r"would take about (?P<p>\d+) s, past the budget of (?P<b>\S+) s"
        ),
        "{c} 已跳过：{t}用时 {s} 秒，{w} 个时段加最终拟合约需 {p} 秒，超过预算 {b} 秒",
    ),
    (
        re.compile(
            r"(?P<r>\d+) incidents a day in the history, above the limit of (?P<m>\S+): "
            r"(?P<c>.+) left out \(on such dense types (?:they were|it was) never within one "
            r"standard error of the best\)"
        ),
        "历史中每天 {r} 起警情，超过上限 {m}：{c} 未参与选择（在如此密集的类型上，"
        "从未进入最佳方法的一个标准误之内）",
    ),
    (re.compile(r"(?P<c>\S+) left out: (?P<e>.+)", re.S), "{c} 未参与选择：{e}"),
    (
        re.compile(r"(?P<g>.+): no incident in the history, forecast 0"),
        "{g}：历史中无警情，预测为 0",
    ),
)
_ERROR_ZH: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"(?P<m>gbm|stack) needs at least (?P<d>\S+) days of training history"
            r"(?P<ev> with events)?, got (?P<g>\S+)(?: days)?(?: \(from (?P<f>.+)\))?"
        ),
        "{m} 至少需要 {d} 天的训练历史{ev}，实有 {g} 天{f}",
    ),
    (
        re.compile(
            r"auto: no validation window before (?P<w>.+?) with (?P<d>\S+) days of history "
            r"before it: give more history"
        ),
        "auto：{w} 之前没有一个验证时段在其之前有 {d} 天的历史：请提供更长的历史"
        "（更长的 --lookback-days）",
    ),
    (
        re.compile(
            r"auto: none of the (?P<n>\d+) validation windows before (?P<w>.+) holds an "
            r"incident: give more history"
        ),
        "auto：{w} 之前的 {n} 个验证时段都没有警情：请提供更长的历史",
    ),
    (
        re.compile(
            r"auto: no candidate could forecast the validation windows before (?P<w>.+?): "
            r"(?P<e>.+)",
            re.S,
        ),
        "auto：没有候选方法能预测 {w} 之前的验证时段：{e}",
    ),
    (
        re.compile(
            r"gbm: no incident in the (?P<h>\d+)-day target periods of its (?P<n>\d+) training "
            r"origins \(from (?P<s>\S+), every (?P<d>\d+) days; (?P<k>\d+) incident\(s\) in "
            r"the history\): too few to learn from"
        ),
        "gbm：其 {n} 个训练起点（自 {s} 起，每 {d} 天一个）之后 {h} 天的目标期内均无警情"
        "（历史中共 {k} 起）：警情太少，无法学习",
    ),
    (
        re.compile(
            r"empty training set: no incident between (?P<a>.+) and (?P<b>.+?) \(a forecast "
            r"trains.+",
            re.S,
        ),
        "训练集为空：{a} 至 {b} 之间没有警情（预测使用窗口之前 --lookback-days 天的历史，"
        "auto 还要在更早的时段上验证）：请提供覆盖该时段的警情（数据是否有缺口？）、"
        "更长的 --lookback-days，或改用所需历史更少的方法（如用 kde 而非 auto）",
    ),
)
"""Chinese of the forecasters' own errors that reach a note (a candidate left out, a
group forecast by naive counts): too little history for ``gbm``/``stack``, no incident in
``auto``'s validation windows."""


def error_text(message: str, lang: str = "en") -> str:
    """A forecaster's error ``message`` (English, as raised) in ``lang``: Chinese for the
    known ones (:data:`_ERROR_ZH`), else unchanged; a ``;``-joined list term by term."""
    if lang != "zh":
        return message
    for pattern, template in _ERROR_ZH:
        m = pattern.fullmatch(message)
        if m:
            parts = {k: v or "" for k, v in m.groupdict().items()}
            if "ev" in parts:
                parts["ev"] = "（且有警情）" if parts["ev"] else ""
            if parts.get("f"):
                parts["f"] = f"（自 {parts['f']} 起）"
            if "e" in parts:
                parts["e"] = "；".join(note_text(x, lang) for x in parts["e"].split("; "))
            if parts.get("w"):
                parts["w"] = _window_label_zh(parts["w"])
            return template.format(**parts)
    return message


_WINDOW_KIND_ZH = {"day": "（全天）", "night": "（夜间）", "week": "起一周"}


def _window_label_zh(label: str) -> str:
    """A window label of :func:`~xunfang.analyse.forecast._base.rolling_windows` ("2015-06-01
    day", "... night", "... week", "... 22-06") in Chinese: "2015-06-01（全天）", "2015-06-01
    起一周", "2015-06-01 22-06时"; any other label unchanged."""
    m = re.fullmatch(r"(?P<d>\d{4}-\d{2}-\d{2}) (?P<k>day|night|week|\d{1,2}-\d{1,2})", label)
    if m is None:
        return label
    kind = m["k"]
    return m["d"] + _WINDOW_KIND_ZH.get(kind, f" {kind}时")


_TIMED_ZH = {
    "on the first validation window": "第一个验证时段",
    "a validation window on earlier days": "前几天的一个验证时段",
}


def note_text(note: str, lang: str = "en") -> str:
    """A selection note (:attr:`Selection.notes`, English) in ``lang``: Chinese for the
    notes :class:`AutoSelect` writes (budget stops, candidates skipped or left out, with
    the error inside by :func:`error_text`), the note unchanged otherwise."""
    if lang != "zh":
        return note
    for pattern, template in _NOTE_ZH:
        m = pattern.fullmatch(note)
        if m:
            parts = m.groupdict()
            if "t" in parts:
                parts["t"] = _TIMED_ZH[parts["t"]]
            if "e" in parts:
                parts["e"] = error_text(parts["e"], lang)
            return template.format(**parts)
    return note


def _step_days(window: Window) -> int:
    """Whole days between validation windows of ``window``'s kind: its length rounded
    (a day of 23 or 25 hours at a daylight-saving change steps by one day, a week by
    seven), at least one."""
    return max(1, round(window.length_days))


def validation_windows(window: Window, events: TrainingEvents, n: int) -> list[Window]:
    """Up to ``n`` windows of the same kind as ``window`` that end by ``events.end_day``
    (the latest first), stepped back by whole days (weeks for a window of 7 days or more)
    in local time, each starting after ``events.start_day``."""
    step = _step_days(window)
    tz = events.timezone
    s0, e0 = window.start.tz_convert(tz), window.end.tz_convert(tz)
    out: list[Window] = []
    k = 1
    while len(out) < n and k < n + 400:
        off = pd.DateOffset(days=k * step)
        w = Window(s0 - off, e0 - off, f"{(s0 - off).date()} validation")
        k += 1
        if w.start_day <= events.start_day:
            break
        if w.end_day <= events.end_day + 1e-9:
            out.append(w)
    return out


def warm_start_converging(model: Forecaster) -> Forecaster:
    """``model`` with ``warm_start=True`` when its warm start only moves the starting
    point of an iteration stopped on the same tolerance
    (:attr:`Forecaster.warm_start_converges`, e.g. ``sepp``'s EM), also inside a wrapper
    with a ``base`` (``+tod``); ``model`` itself (the same object) otherwise."""
    params = model.get_params()
    base = params.get("base")
    if isinstance(base, Forecaster):
        warm = warm_start_converging(base)
        return model if warm is base else model.with_params(base=warm)
    if type(model).warm_start_converges and "warm_start" in params:
        return model.with_params(warm_start=True)
    return model


def _forked(model: Forecaster, *shared: object) -> Forecaster:
    """A deep copy of a fitted ``model`` that shares its grid, its training events and
    the ``shared`` objects (read-only inputs) with it: refitting one leaves the other's
    fitted state as it was."""
    keep = [model.grid, getattr(model, "events_", None), *shared]
    memo: dict[int, Any] = {id(x): x for x in keep if x is not None}
    return copy.deepcopy(model, memo)


def _dense_left_out(
    cands: list[Candidate], events: TrainingEvents
) -> tuple[list[Candidate], list[str]]:
    """The candidates tried on the history ``events`` (those whose
    :attr:`Candidate.max_events_per_day` its mean incidents a day do not pass; the
    simplest is always kept) and one note per limit naming those it left out."""
    rate = len(events) / max(events.duration_days, 1e-9)
    keep: list[Candidate] = []
    out: dict[float, list[str]] = {}
    for i, c in enumerate(cands):
        cap = c.max_events_per_day
        if i > 0 and cap is not None and rate > cap:
            out.setdefault(float(cap), []).append(c.spec)
        else:
            keep.append(c)
    notes = [
        f"{rate:.0f} incidents a day in the history, above the limit of {cap:g}: "
        f"{', '.join(specs)} left out (on such dense types "
        f"{'they were' if len(specs) > 1 else 'it was'} never within one standard error "
        "of the best)"
        for cap, specs in out.items()
    ]
    return keep, notes


def _window_cells(events: TrainingEvents, w: Window) -> np.ndarray:
    """Cells of the events inside ``w``; date-only events only in whole-day windows."""
    lo, hi = np.searchsorted(events.t_day, [w.start_day, w.end_day], side="left")
    cell = events.cell[lo:hi]
    local = w.start.tz_convert(events.timezone)
    whole = local == local.normalize() and abs(w.length_days - round(w.length_days)) < 1e-6
    if not whole:
        cell = cell[events.hour_of_week[lo:hi] >= 0]
    return np.asarray(cell, dtype=np.int64)


class AutoSelect(Forecaster):
    """Chooses among candidate forecasters per window by validation on earlier windows.

    Parameters
    ----------
    grid
        Forecast grid (metres, projected CRS).
    candidates
        Candidate specs in complexity order (simplest first), or ``None`` for
        :data:`CANDIDATES`.
    validation_windows
        Validation windows of the forecast window's kind before it, at least (fewer
        only when the history or the budget is short).
    min_validation_events
        More windows (up to ``max_validation_windows``) are added until the windows
        scored hold this many incidents: a hit rate over ``n`` incidents has a binomial
        standard error ``sqrt(p (1 - p) / n)``, so sparse types need more windows before
        near-equal candidates can be told apart.
    max_validation_windows
        Most validation windows.
    budget_s
        Time budget of one selection, seconds (wall). A candidate (other than the
        simplest) whose first-window time, over the planned validation windows and the
        final fit, would take the selection past it is skipped; past it no further
        candidate is added during the first validation window (the simplest is always
        scored) and no further validation window is started. A candidate that cannot
        forecast a validation window (e.g. ``gbm`` with less history than it needs) is
        left out. Each skip and stop is noted in the selection.
    min_train_days
        Days of history a validation window needs before it.
    fractions
        Coverages averaged into the score (see :data:`SCORE_FRACTIONS`).
    context
        Type mix and place features handed to every candidate that takes them (``gbm``;
        see :class:`xunfang.analyse.forecast.learned.CellContext`), or ``None``.
    warm_start
        Keep the validation scores across refits and reuse those whose incidents are
        unchanged, and start the iterative candidates' fits (``sepp``'s EM) from the
        previous refit's (see the module docstring: the rolling evaluation refits every
        window); and keep the choice and the chosen forecaster across windows as
        ``reselect_every_days`` and ``refit_every_days`` say.
    reselect_every_days
        With ``warm_start``: the choice made for a window is kept for the later windows
        of the same kind (length and local start time) that start less than this many
        local days after it, on a history that continues the one it was made on (the
        incidents of the common days unchanged); no candidate is scored for those
        windows, only the chosen one is fitted and forecasts. So with 7 a rolling run
        re-selects on its days 0, 7, 14, ... ``1`` re-selects for every window. Without
        ``warm_start`` (one forecast) every window is selected anew.
    refit_every_days
        With ``warm_start``: the costly fit (``gbm``'s trees, ``stack``'s weights: the
        forecasters with ``warm_start`` and ``refit_days``) of the validation windows is
        the one made at the start of their block of this many local days on the
        validation history, and the chosen forecaster's own fit (``final_fit``) is kept
        this many days; only their inputs are recomputed from the latest history for
        each window (``gbm``'s features at the window's start, ``stack``'s members).
        The other candidates (naive counts, KDE, prospective hotspotting, ``sepp``, whose
        EM starts from its previous fit) are refitted on the latest history for every
        window. ``1`` refits every window.
    prefer
        Spec of a candidate chosen instead of the simplest within one standard error of
        the best when it is itself within one standard error and its mean validation
        score is at least the simplest's (:func:`one_se_choice`; default :data:`PREFER`,
        ``gbm``); ``None``, or a spec not among the candidates (or one skipped for the
        budget): the simplest within one standard error.
    final_fit
        With ``warm_start`` and ``refit_every_days > 1``, the costly fit (``gbm``'s trees,
        ``stack``'s weights) the chosen forecaster forecasts with: ``"all"`` (default),
        its own fit on all the history, made when it is first chosen and again
        ``refit_every_days`` after, as a single forecast (``warm_start=False``) always
        fits it; ``"block"``, the fit of its validation windows at the start of the block
        (on ``H`` days of history, see the module docstring), one fit a block serving
        both. Why ``"all"``: on the development split of the example city (92 days from
        2014-10-01) it scored higher at 5 and 20 % for burglary (+.004, +.006; paired
        standard errors .004 .004) and motor vehicle theft (+.003 +.009; .005 .007), within
        .001 for theft and all types, and it runs what the product runs; it costs a
        second costly fit a week on a history of fixed length
        (``benchmarks/bench_forecast_target.py --ours auto:final_fit=block,auto``).
    seed
        Seed passed to each candidate.

    Attributes
    ----------
    selection_
        :class:`Selection` of the last window predicted.
    chosen_
        The fitted chosen forecaster of the last window predicted.
    score_cache_
        With ``warm_start``: the validation scores kept, by (candidate spec, window start,
        window end, history start), days since the epoch; each a row of
        :attr:`Selection.scores`.

    Between two selections (``reselect_every_days``) the forecast window is read no
    more than on a selection day: the choice was made on the history before an earlier
    window, and the chosen forecaster is fitted on the events given to :meth:`fit`.
    :attr:`Selection.selected_for` and :attr:`Selection.model_fitted_on` of
    :attr:`selection_` say when the choice was made and when the chosen forecaster was
    last fully fitted.

    Notes
    -----
    The selection runs in :meth:`predict` (it needs the window's kind) on the events
    given to :meth:`fit`; :meth:`Forecaster.predict` refuses a window before their end,
    so no event of the window or after it can reach the selection.
    """

    name: ClassVar[str] = "auto"
    _params: ClassVar[tuple[str, ...]] = (
        "grid",
        "candidates",
        "validation_windows",
        "min_validation_events",
        "max_validation_windows",
        "budget_s",
        "min_train_days",
        "fractions",
        "context",
        "warm_start",
        "reselect_every_days",
        "refit_every_days",
        "prefer",
        "final_fit",
        "seed",
    )

    def __init__(
        self,
        *,
        grid: Grid,
        candidates: Sequence[str] | None = None,
        validation_windows: int = 7,
        min_validation_events: int = 300,
        max_validation_windows: int = 28,
        budget_s: float = AUTO_BUDGET_S,
        min_train_days: float = 28.0,
        fractions: Sequence[float] = SCORE_FRACTIONS,
        context: CellContext | None = None,
        warm_start: bool = False,
        reselect_every_days: int = RESELECT_EVERY_DAYS,
        refit_every_days: int = REFIT_EVERY_DAYS,
        prefer: str | None = PREFER,
        final_fit: str = "all",
        seed: int = 0,
    ) -> None:
        self.grid = grid
        self.candidates = candidates
        self.validation_windows = validation_windows
        self.min_validation_events = min_validation_events
        self.max_validation_windows = max_validation_windows
        self.budget_s = budget_s
        self.min_train_days = min_train_days
        self.fractions = fractions
        self.context = context
        self.warm_start = warm_start
        self.reselect_every_days = reselect_every_days
        self.refit_every_days = refit_every_days
        self.prefer = prefer
        self.final_fit = final_fit
        self.seed = seed

    def describe(self) -> str:
        """Name with the validation windows, incidents and budget (and, with
        ``warm_start``, the cadence of selection and refit)."""
        cadence = (
            f", reselect_every_days={self.reselect_every_days}, "
            f"refit_every_days={self.refit_every_days}"
            if self.warm_start
            else ""
        )
        prefer = f", prefer={self.prefer}" if self.prefer else ""
        return (
            f"auto(validation_windows={self.validation_windows}.."
            f"{self.max_validation_windows}, min_validation_events="
            f"{self.min_validation_events}, budget_s={self.budget_s:g}{prefer}{cadence})"
        )

    def _validate(self) -> None:
        super()._validate()
        if not isinstance(self.validation_windows, int) or self.validation_windows < 1:
            raise ValidationError(
                f"validation_windows must be a positive integer, got {self.validation_windows!r}"
            )
        if (
            not isinstance(self.max_validation_windows, int)
            or self.max_validation_windows < self.validation_windows
        ):
            raise ValidationError(
                f"max_validation_windows must be an integer >= validation_windows "
                f"({self.validation_windows}), got {self.max_validation_windows!r}"
            )
        if not isinstance(self.min_validation_events, int) or self.min_validation_events < 0:
            raise ValidationError(
                f"min_validation_events must be an integer >= 0, got {self.min_validation_events!r}"
            )
        if self.prefer is not None and not isinstance(self.prefer, str):
            raise ValidationError(f"prefer must be a candidate spec, got {self.prefer!r}")
        given = [c.spec for c in CANDIDATES] if self.candidates is None else self.candidates
        if self.prefer not in (None, PREFER, *given):
            # the default may be missing from a candidate list given; another value must
            # name a candidate, or the preference would vanish without a word
            raise ValidationError(
                f"prefer must be one of the candidates ({', '.join(given)}) or none, "
                f"got {self.prefer!r}"
            )
        self._positive("budget_s", self.budget_s)
        self._positive("min_train_days", self.min_train_days)
        if not self.fractions or not all(0 < f <= 1 for f in self.fractions):
            raise ValidationError(f"fractions must be in (0, 1], got {self.fractions!r}")
        if not isinstance(self.warm_start, bool | np.bool_):
            raise ValidationError(f"warm_start must be true or false, got {self.warm_start!r}")
        for name in ("reselect_every_days", "refit_every_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValidationError(f"{name} must be a whole number of days >= 1, got {value!r}")
        if self.final_fit not in ("block", "all"):
            raise ValidationError(f"final_fit must be block or all, got {self.final_fit!r}")

    def candidate_list(self) -> tuple[list[Candidate], list[str]]:
        """The candidates whose method exists, and notes on those left out."""
        from xunfang.analyse.forecast.registry import METHODS

        given = (
            list(CANDIDATES)
            if self.candidates is None
            else [Candidate(s, s.split(":")[0].split("+")[0]) for s in self.candidates]
        )
        keep = [c for c in given if c.family.strip().lower() in METHODS and c.family != "auto"]
        left = [c.spec for c in given if c not in keep]
        notes = [f"left out (no such method): {', '.join(left)}"] if left else []
        if not keep:
            raise ValidationError(f"no usable candidate among {[c.spec for c in given]}")
        return keep, notes

    def _fit(self, events: TrainingEvents) -> None:
        self._cache: dict[tuple[float, float], tuple[Selection, Forecaster]] = {}
        old: TrainingEvents | None = getattr(self, "_scored_events", None)
        kept: dict[tuple[str, float, float, float], dict[str, Any]] = {}
        continues = False  # the new history continues the old (common days unchanged)
        if self.warm_start and old is not None:
            lo, hi = max(old.start_day, events.start_day), min(old.end_day, events.end_day)
            continues = old.timezone == events.timezone and _same_events(old, events, lo, hi)
            if continues:
                kept = {
                    k: v
                    for k, v in getattr(self, "score_cache_", {}).items()
                    if k[3] >= lo and k[2] <= hi
                }
        if not kept and not (continues and getattr(self, "_choice", None)):
            # fits kept across days start from a fit of mostly the same events
            self._warm_models: dict[str, Forecaster] = {}
            self._final_models: dict[str, Forecaster] = {}
        # a costly candidate's validation fits, by (spec, block start, history start):
        # kept while their history is part of the new one, unchanged
        fits: dict[tuple[str, float, float], Forecaster] = {}
        if continues:
            oldest = events.end_day - 7.0 * self.max_validation_windows - self.refit_every_days
            fits = {
                k: m
                for k, m in getattr(self, "_anchor_fits", {}).items()
                if k[2] >= lo and hi >= k[1] >= oldest
            }
        self._anchor_fits = fits
        if not continues:  # a choice is kept only on a history that continues its own
            self._choice: tuple[Selection, tuple[int, str], pd.Timestamp] | None = None
        self.score_cache_ = kept
        self._scored_events = events

    def history_days(self, window: Window) -> float:
        """Days of history before each validation window of ``window`` (see the module
        docstring): ``max(D - S - 1, min_train_days)``, whole days."""
        events = self.events_
        span = self.max_validation_windows * _step_days(window)
        usable = math.floor(events.duration_days - span - 1 + 1e-6)
        return float(max(usable, math.ceil(self.min_train_days - 1e-9)))

    def select(self, window: Window) -> Selection:
        """Score the candidates on the validation windows before ``window`` and choose.

        Raises
        ------
        ValidationError
            If the history holds no validation window with incidents (too short).
        """
        from xunfang.analyse.evaluate import hit_counts, with_warm_start
        from xunfang.analyse.forecast.registry import make_forecaster

        t0 = time.perf_counter()
        events = self.events_
        listed, notes = self.candidate_list()
        cands, dense = _dense_left_out(listed, events)
        notes += dense
        history = self.history_days(window)
        vws = [
            (w, max(events.start_day, w.start_day - history))
            for w in validation_windows(window, events, self.max_validation_windows)
        ]
        vws = [(w, h0) for w, h0 in vws if w.start_day - h0 >= self.min_train_days - 1e-9]
        if not vws:
            raise ValidationError(
                f"auto: no validation window before {window.label or window.start} with "
                f"{self.min_train_days:g} days of history before it: give more history"
            )
        # a kept score is a function of its own incidents (up to an EM tolerance): fit
        # each window cold but for the iterative candidates (see the module docstring)
        reuse = bool(self.warm_start)
        cache = getattr(self, "score_cache_", {}) if reuse else {}

        cands_index = {c.spec: j for j, c in enumerate(cands)}

        models = [
            make_forecaster(c.spec, self.grid, seed=self.seed, context=self.context) for c in cands
        ]
        # costly candidates validated as they are run (refit_every_days): each window is
        # forecast by the fit made at the start of its block of days, its inputs at its own
        anchored = (
            {j for j, m in enumerate(models) if keeping_fit(m, self.refit_every_days) is not m}
            if reuse and self.refit_every_days > 1
            else set()
        )
        anchors = {
            vw.start_day: _anchor(vw, events, history, self.refit_every_days) for vw, _ in vws
        }

        def key(j: int, vw: Window, h0: float) -> tuple[str, float, float, float]:
            if j in anchored:  # a function of the incidents from its fit's history start
                h0 = min(h0, anchors[vw.start_day][1])
            return (cands[j].spec, vw.start_day, vw.end_day, h0)

        warm: set[int] = set()  # candidates whose fits are kept across windows and days
        if not reuse:  # neighbouring windows' fits start from each other
            models = [with_warm_start(m) for m in models]
        else:  # iterative candidates: the newest window starts from yesterday's fit of it
            kept_models = self._warm_models
            for j, c in enumerate(cands):
                if c.spec in kept_models:
                    models[j] = kept_models[c.spec]
                    warm.add(j)
                else:
                    w = warm_start_converging(models[j])
                    if w is not models[j]:
                        models[j] = kept_models[c.spec] = w
                        warm.add(j)
        older: dict[int, Forecaster] = {}  # their fits of the older windows (first day)
        live = list(range(len(cands)))  # candidates still scored, in complexity order
        timed: dict[int, list[float]] = {}  # seconds per window of the scores kept
        for (spec, *_), r in cache.items():
            timed.setdefault(cands_index.get(spec, -1), []).append(r["seconds"])
        earlier_s = {j: float(np.mean(v)) for j, v in timed.items() if j >= 0}
        n_planned = min(self.validation_windows, len(vws))  # refined on the first window
        rows: list[dict[str, Any]] = []
        done: list[Window] = []
        n_scored = 0
        for i, (vw, h0) in enumerate(vws):
            if i >= self.validation_windows and n_scored >= self.min_validation_events:
                break
            if i > 0 and time.perf_counter() - t0 > self.budget_s:
                notes.append(
                    f"time budget {self.budget_s:g} s reached: {i} validation windows scored "
                    f"({n_scored} incidents)"
                )
                break
            cells = _window_cells(events, vw)
            n_scored += len(cells)
            if i == 0:  # windows like this one needed to reach min_validation_events
                need = math.ceil(self.min_validation_events / max(len(cells), 1))
                n_planned = min(
                    max(need, self.validation_windows), self.max_validation_windows, len(vws)
                )
            counts: np.ndarray | None = None
            train: TrainingEvents | None = None
            first_s: dict[int, float] = {}
            order = list(live)
            for pos, j in enumerate(order):
                if i == 0 and pos > 0 and time.perf_counter() - t0 > self.budget_s:
                    notes.append(
                        f"time budget {self.budget_s:g} s reached: candidates "
                        f"{', '.join(cands[k].spec for k in order[pos:])} not scored"
                    )
                    live = [k for k in live if k not in order[pos:]]
                    break
                rec = cache.get(key(j, vw, h0))
                if rec is not None:
                    rec = {**rec, "window": vw.label, "reused": True}
                elif i == 0 and pos > 0 and j in earlier_s:
                    # timed on earlier fits: skip before scoring when it cannot fit
                    todo = {
                        k: sum(key(k, w, h) not in cache for w, h in vws[1:n_planned])
                        for k in [*first_s, j]
                    }
                    note = self._over_budget(
                        t0,
                        {**first_s, j: earlier_s[j]},
                        todo,
                        n_planned,
                        cands[j].spec,
                        extra_s=earlier_s[j],
                        timed="a validation window on earlier days",
                    )
                    if note:
                        notes.append(note)
                        live.remove(j)
                        continue
                if rec is None:
                    if counts is None or train is None:
                        counts = np.bincount(cells, minlength=self.grid.n_cells)
                        train = events.between(h0, vw.start_day)
                    model = models[j]
                    if i > 0 and j in warm:  # keep the newest window's fit for tomorrow
                        if j not in older:
                            older[j] = _forked(model, self.context)
                        model = older[j]
                    t1 = time.perf_counter()
                    try:
                        if j in anchored:
                            model = self._anchor_fit(cands[j].spec, *anchors[vw.start_day])
                        fc = model.fit_events(train).predict(vw)
                    except ValidationError as exc:  # e.g. gbm with too short a history
                        notes.append(f"{cands[j].spec} left out: {exc}")
                        live.remove(j)
                        first_s.pop(j, None)
                        continue
                    hc = hit_counts(fc.risk, counts, self.fractions, mask=self.grid.mask)
                    rec = {
                        "candidate": cands[j].spec,
                        "window": vw.label,
                        "n_events": hc.total,
                    }
                    for f, h in zip(self.fractions, hc.hit_rate, strict=True):
                        rec[f"hr_{f:g}"] = float(h)
                    rec["score"] = float(np.mean(hc.hit_rate)) if hc.total else np.nan
                    rec["seconds"] = time.perf_counter() - t1
                    rec["reused"] = False
                    if reuse:
                        cache[key(j, vw, h0)] = rec
                rows.append(rec)
                if i == 0:
                    first_s[j] = rec["seconds"]
                    todo = {
                        k: sum(key(k, w, h) not in cache for w, h in vws[1:n_planned])
                        for k in first_s
                    }
                    note = self._over_budget(t0, first_s, todo, n_planned, cands[j].spec)
                    if pos > 0 and note:  # the simplest is always kept
                        notes.append(note)
                        del first_s[j]
                        live.remove(j)
            done.append(vw)
        if not live:
            raise ValidationError(
                f"auto: no candidate could forecast the validation windows before "
                f"{window.label or window.start}: {'; '.join(notes)}"
            )
        active = [cands[j] for j in live]
        scores = pd.DataFrame(rows)
        scores = scores[scores["candidate"].isin([c.spec for c in active])]
        scores = scores[scores["window"].isin([w.label for w in done])].reset_index(drop=True)
        specs = [c.spec for c in active]
        mat = (
            scores.pivot(index="candidate", columns="window", values="score")
            .reindex(index=specs, columns=[w.label for w in done])
            .to_numpy(dtype=np.float64)
        )
        if not np.isfinite(mat).all(axis=0).any():
            raise ValidationError(
                f"auto: none of the {len(done)} validation windows before "
                f"{window.label or window.start} holds an incident: give more history"
            )
        choice = one_se_choice(mat, specs.index(self.prefer) if self.prefer in specs else None)
        hr_cols = [f"hr_{f:g}" for f in self.fractions]
        means = scores.groupby("candidate", sort=False)[hr_cols].mean().reindex(specs)
        table = pd.DataFrame(
            {
                "candidate": specs,
                "family": [c.family for c in active],
                "complexity": [listed.index(c) for c in active],  # in the whole list
                "windows": choice.n_windows,
                "score_mean": choice.mean,
                "diff_to_best": choice.diff,
                "se_diff": choice.se,
                "within_1se": choice.within,
                "chosen": np.arange(len(active)) == choice.chosen,
                **{c: means[c].to_numpy() for c in hr_cols},
                "seconds": scores.groupby("candidate", sort=False)["seconds"]
                .sum()
                .reindex(specs)
                .to_numpy(),
            }
        )
        return Selection(
            window=window.label or str(window.start),
            chosen=specs[choice.chosen],
            best=specs[choice.best],
            table=table,
            scores=scores,
            validation_windows=[w.label for w in done],
            notes=notes,
            seconds=time.perf_counter() - t0,
            preferred=self.prefer if self.prefer in specs else "",
        )

    def _over_budget(
        self,
        t0: float,
        first_s: dict[int, float],
        todo: dict[int, int],
        n_windows: int,
        spec: str,
        extra_s: float = 0.0,
        timed: str = "on the first validation window",
    ) -> str | None:
        """A note when the candidates kept so far, at their first-window times
        ``first_s`` (seconds by candidate), would take the selection past the budget:
        the time spent plus ``todo[k]`` more windows of each candidate ``k`` (the planned
        windows after the first whose score is not kept from an earlier fit), the final
        fit of the slowest and ``extra_s`` (a first window still to score). ``n_windows``
        is the windows the selection expects to score: at least ``validation_windows``,
        more when windows holding as many incidents as the first are needed to reach
        ``min_validation_events``. ``timed`` says where the times come from. ``None``
        when they fit."""
        elapsed = time.perf_counter() - t0
        remaining = sum(sec * todo.get(k, n_windows - 1) for k, sec in first_s.items())
        projected = elapsed + extra_s + remaining + max(first_s.values())
        if projected <= self.budget_s:
            return None
        return (
            f"{spec} skipped: {list(first_s.values())[-1]:.2f} s {timed}, so "
            f"{n_windows} windows and the final fit would take about {projected:.0f} s, "
            f"past the budget of {self.budget_s:g} s"
        )

    def _anchor_fit(self, spec: str, anchor: Window, h0: float) -> Forecaster:
        """The costly candidate ``spec`` fitted on the history ``[h0, anchor start)`` with
        its fit kept for ``refit_every_days`` (:func:`keeping_fit`): made once, kept
        across windows and days while the history continues (the validation of a
        candidate as it is run between two full fits)."""
        from xunfang.analyse.forecast.registry import make_forecaster

        fits = self._anchor_fits
        k = (spec, anchor.start_day, h0)
        if k not in fits:
            model = make_forecaster(spec, self.grid, seed=self.seed, context=self.context)
            model = keeping_fit(model, self.refit_every_days)
            fits[k] = model.fit_events(self.events_.between(h0, anchor.start_day))
        return fits[k]

    def _kept_choice(self, window: Window) -> Selection | None:
        """The choice kept for ``window`` (see ``reselect_every_days``), or ``None`` when
        the selection must run: no choice yet, another kind of window, a window not
        after the one chosen for, or ``reselect_every_days`` local days or more after it."""
        choice = getattr(self, "_choice", None)
        if not self.warm_start or choice is None or self.reselect_every_days <= 1:
            return None
        sel, kind, chosen_start = choice
        tz = self.events_.timezone
        if _window_kind(window, tz) != kind:
            return None
        # local dates: across a change to summer time 7 local days are 6 days 23 hours
        days = (window.start.tz_convert(tz).date() - chosen_start.date()).days
        return sel if 0 < days < self.reselect_every_days else None

    def _final_model(self, spec: str, window: Window) -> Forecaster:
        """The forecaster of the chosen ``spec`` to fit on all the history and forecast
        ``window``: with ``warm_start`` and ``final_fit="block"``, a costly one
        (``refit_every_days > 1``) is run as it was validated, its fit made at the start
        of the window's block of ``refit_every_days`` days on the validation history
        (:meth:`_anchor_fit`: the same fit the validation windows of that block use, made
        once); the one kept
        from earlier windows when there is one (an iterative fit starts from its
        previous final fit; a costly one whose block fit cannot be made keeps its trees
        or weights for ``refit_every_days``); a new one otherwise."""
        from xunfang.analyse.forecast.registry import make_forecaster

        model = make_forecaster(spec, self.grid, seed=self.seed, context=self.context)
        if not self.warm_start:
            return model
        if (
            self.final_fit == "block"
            and self.refit_every_days > 1
            and keeping_fit(model, self.refit_every_days) is not model
        ):
            events = self.events_
            anchor, h0 = _anchor(window, events, self.history_days(window), self.refit_every_days)
            if events.start_day < anchor.start_day <= events.end_day + 1e-9:
                try:
                    return self._anchor_fit(spec, anchor, h0)
                except ValidationError:  # e.g. too short a history there: fit on all of it
                    pass
        prev = self._final_models.get(spec)
        if prev is not None:
            return prev
        warm = warm_start_converging(model)
        if warm is not model:
            val = self._warm_models.get(spec)
            fitted = val is not None and getattr(val, "events_", None) is not None
            model = _forked(val, self.context) if fitted and val else warm
            self._final_models[spec] = model
        elif self.refit_every_days > 1:
            kept = keeping_fit(model, self.refit_every_days)
            if kept is not model:
                self._final_models[spec] = model = kept
        return model

    def _predict(self, window: Window) -> np.ndarray:
        key = (window.start_day, window.end_day)
        if key not in self._cache:
            tz = self.events_.timezone
            label = window.label or str(window.start)
            kept = self._kept_choice(window)
            if kept is None:
                sel = self.select(window)
                sel.selected_for = sel.window
                sel.reselect_every_days = self.reselect_every_days if self.warm_start else 1
                self._choice = (sel, _window_kind(window, tz), window.start.tz_convert(tz))
            else:  # the choice made for an earlier window, nothing scored
                sel = dataclasses.replace(kept, window=label, seconds=0.0)
            model = self._final_model(sel.chosen, window)
            model.fit_events(self.events_)
            sel = dataclasses.replace(sel, model_fitted_on=_fitted_on(model, tz))
            self._cache = {key: (sel, model)}  # one window kept: refits replace it
        self.selection_, self.chosen_ = self._cache[key]
        return self.chosen_.predict(window).risk


def keeping_fit(model: Forecaster, refit_days: int) -> Forecaster:
    """``model`` with ``warm_start=True`` and ``refit_days`` when it keeps a costly fit
    across refits on later data (parameters ``warm_start`` and ``refit_days``: ``gbm``'s
    trees, ``stack``'s weights), also inside a wrapper with a ``base`` (``+tod``);
    ``model`` itself (the same object) otherwise."""
    params = model.get_params()
    base = params.get("base")
    if isinstance(base, Forecaster):
        kept = keeping_fit(base, refit_days)
        return model if kept is base else model.with_params(base=kept)
    if "warm_start" in params and "refit_days" in params:
        return model.with_params(warm_start=True, refit_days=float(refit_days))
    return model


def _fitted_on(model: Forecaster, timezone: str) -> str:
    """Local time at which the history of ``model``'s last full fit ended: its
    ``fitted_end_day_`` (a kept fit, also inside a ``base``), else its events' end."""
    inner: Any = model
    end = getattr(inner, "fitted_end_day_", None)
    while end is None and isinstance(getattr(inner, "base", None), Forecaster):
        inner = inner.base
        end = getattr(inner, "fitted_end_day_", None)
    if end is None:
        end = model.events_.end_day
    return from_days(float(end)).tz_convert(timezone).strftime("%Y-%m-%d %H:%M")


def _anchor(
    vw: Window, events: TrainingEvents, history_days: float, refit_days: int
) -> tuple[Window, float]:
    """The window at which a costly candidate's fit used for validation window ``vw`` is
    made, and that fit's history start: the first window of ``vw``'s kind in its block
    of ``refit_days`` local days (blocks counted from 0001-01-01, so the same for every
    forecast day), ``history_days`` before it (not before the events' start)."""
    step = _step_days(vw)
    block = max(1, refit_days // step)
    local = vw.start.tz_convert(events.timezone)
    back = (local.toordinal() // step) % block * step
    if back == 0:
        anchor = vw
    else:
        off = pd.DateOffset(days=back)
        anchor = Window(local - off, vw.end.tz_convert(events.timezone) - off, vw.label)
    return anchor, max(events.start_day, anchor.start_day - history_days)


def _window_kind(window: Window, timezone: str) -> tuple[int, str]:
    """A window's kind: its step in whole days and its local start time (``HH:MM``)."""
    return _step_days(window), window.start.tz_convert(timezone).strftime("%H:%M")


def _same_events(a: TrainingEvents, b: TrainingEvents, lo: float, hi: float) -> bool:
    """Whether ``a`` and ``b`` hold the same incidents (times, cells, positions, hours)
    in ``[lo, hi)``, days since the epoch; ``False`` for an empty period."""
    if not hi > lo:
        return False
    ia = np.searchsorted(a.t_day, [lo, hi], side="left")
    ib = np.searchsorted(b.t_day, [lo, hi], side="left")
    sa, sb = slice(int(ia[0]), int(ia[1])), slice(int(ib[0]), int(ib[1]))
    return (
        sa.stop - sa.start == sb.stop - sb.start
        and np.array_equal(a.t_day[sa], b.t_day[sb])
        and np.array_equal(a.cell[sa], b.cell[sb])
        and np.array_equal(a.xy[sa], b.xy[sb])
        and np.array_equal(a.hour_of_week[sa], b.hour_of_week[sb])
    )
