"""The forecast Target of issue 13: xunfang's learned forecaster against the best of naive
counts, retrospective KDE and prospective hotspotting, on Chicago 2014-2015.

Protocol (daily windows, the whole city on a 150 m grid, one year of history before each
window for every method):

1. **Tuning split** (default: the 14 days from 2015-01-05): each baseline family (naive
   counts, retrospective KDE, prospective hotspotting) has a few settings; the one with
   the best mean hit rate over 1, 5 and 20 % of the area is chosen per crime group. Our
   candidates (``gbm`` with the type mix and place features, the same with
   ``extra_features=true``, ``stack``) are scored on the
   same windows and the one with the best mean over all groups and levels becomes "ours".
2. **Test split, not tuned on** (default: the 28 days from 2015-04-06): every chosen
   setting is run again; the comparator at each group and level is the best of the three
   families there, picked with hindsight on the test windows. The table gives ours, the
   comparator, their ratio and the per-window spread.

Time per day is the mean wall time of fit + predict per window in the rolling evaluation
(warm start: the trees and stack weights are refitted every 7 days, the features every
day), with the CPU time of the whole evaluation per window and the load. The gbm's
feature importance (share of split gain) of each group, and ``auto``'s selections of the test
split (``selections_<group>.csv``: every candidate's validation score, ``diff_to_best`` and
``se_diff``, on every test window), are written to ``--out-dir``.

Usage::

    python benchmarks/bench_forecast_target.py [--data-dir DIR] [--quick]
        [--tune-start 2015-01-05 --tune-days 14] [--test-start 2015-04-06 --test-days 28]
        [--cache /tmp/chicago.parquet] [--out-dir /tmp/xunfang-target]

``--quick`` runs one police district, two groups and 3 + 3 windows (a smoke run).

Figures (2026-12-02, whole city, 27,545 cells of 150 m; ratio = our mean hit rate over the
comparator's at 1 / 5 / 20 % of the area). Tuning split, 14 days from 2015-01-05 (the
comparator is kde 150 m for burglary, the year's counts for the others):

====================  ==================  ==================
group                 gbm                 gbm:extra_features
====================  ==================  ==================
burglary              0.975/1.141/1.065   1.040/1.092/1.062
motor vehicle theft   0.795/1.151/1.079   0.917/1.172/1.092
theft                 1.015/1.023/1.028   1.013/1.015/1.029
all crime             1.005/1.004/1.002   1.006/1.006/1.003
====================  ==================  ==================

Mean over groups and levels: ``gbm:extra_features=true`` 1.037, ``gbm`` 1.024 (also tried
there and not better: ``gbm:objective=rank_xendcg`` 1.045 / 1.019 on burglary / motor
vehicle theft against gbm's 1.060 / 1.008; ``gbm:n_bags=3`` 1.088 / 0.963 / 1.017 on
burglary / motor vehicle theft / theft against 1.060 / 1.008 / 1.022; a share of 0.2-0.5
of the year's counts mixed in, ``blend_counts``, helped motor vehicle theft on these days
and hurt it on the 28 days before them; a day-of-week profile, ``naive+tod:by_weekday``,
lowered naive counts by 1-10 %). So "ours" = ``gbm:extra_features=true``; the product's
default ``gbm`` keeps the simpler feature set (the difference is within the noise).

Test split, 28 days from 2015-04-06, not tuned on (ours = ``gbm:extra_features=true``):

====================  =======  =============================  ======  ======  =========
group                 level    comparator (hit rate, which)   ours    ratio   gbm ratio
====================  =======  =============================  ======  ======  =========
burglary              1 %      0.073 kde 150 m                0.079   1.083   1.137
burglary              5 %      0.217 naive 365 d              0.224   1.031   1.092
burglary              20 %     0.547 naive 365 d              0.616   1.125   1.101
motor vehicle theft   1 %      0.050 kde 150 m                0.045   0.901   0.934
motor vehicle theft   5 %      0.165 kde 150 m                0.173   1.047   0.991
motor vehicle theft   20 %     0.482 kde 150 m                0.534   1.108   1.082
theft                 1 %      0.228 naive 365 d              0.227   0.992   0.997
theft                 5 %      0.418 naive 365 d              0.422   1.011   1.015
theft                 20 %     0.680 naive 365 d              0.703   1.034   1.038
all crime             1 %      0.122 naive 365 d              0.121   0.992   1.000
all crime             5 %      0.326 naive 365 d              0.327   1.002   1.004
all crime             20 %     0.674 naive 365 d              0.674   1.001   1.001
====================  =======  =============================  ======  ======  =========

The +10 % target is met at 2 of 12 cells (burglary 20 %, motor vehicle theft 20 %; the
default gbm, not chosen on the tuning split, meets it for burglary at 1 % and 20 %), and for
theft and all crime at no level. Ours against gbm on the test split: lower at 7 of 12 cells,
equal (3 decimals) at 2, so the tuning split's choice was noise, as the default's 1-SE
reasoning expects. ``gbm`` test rows for burglary and its time: the benchmark run below; for
the other groups 6.2 (motor vehicle theft) to 9.0 s (theft) wall per day at load 11-12. The
``hindsight`` column of the run (each day forecast from the split's other 27 days, future
ones included, mixed with the year's counts) is, over the comparator, 1.107/1.038/1.010
(burglary), 0.947/0.993/1.002 (motor vehicle theft), 1.019/1.011/1.004 (theft),
1.016/1.008/1.001 (all crime); on the tuning split 1.145/0.986/0.987, 1.343/1.132/1.021,
1.023/0.999/1.004, 1.016/1.010/1.003. For theft and all crime, whose comparator is the
year's counts, knowing the rest of the month adds under 2 %: the days do not stray from the
year's pattern by much, so a forecaster that tracks recent change has little to gain there;
ours' 3 % at theft 20 % comes from the features beyond counts. We found no way to +10 % for
the dense groups and doubt one exists with a year of history at 150 m. Per-window sd of the
hit rate at 1 % is about half its mean (burglary 0.085 +- 0.041): with 28 days the standard
error of a ratio at 1 % is about 10 %.

Time per day (fit + predict, warm start, whole city; burglary, load 15-17 on 2 shared
cores): gbm 10.5 s wall / 1.05 s CPU, gbm:n_bags=3 34.9 s / 2.2 s, naive 0.02 / 0.004,
kde 0.55 / 0.035, prospective 0.04 / 0.007; ``gbm:extra_features=true`` 19.5 s wall
(burglary) to 31 s (theft) at the same load (CPU not measured). gbm's CPU time per day
is about the 1 s target (1.05 s for burglary); its wall time on this loaded machine is not.

Commands: the test rows of gbm and ``gbm:n_bags=3`` for burglary are from
``nice -n 19 .venv/bin/python benchmarks/bench_forecast_target.py --ours gbm:n_bags=3,gbm
--groups burglary --cache /tmp/chicago.parquet`` (1,930 s wall, 140 s CPU); the other rows
came from the same protocol (the same windows, one year of look-back, warm start,
``hit_counts``; comparator values equal to the benchmark's for burglary) run per group and
spec in parallel, because one full run of 4 groups did not fit in the session at that
load. The full table in one run: ``... bench_forecast_target.py --ours
gbm:extra_features=true,gbm --cache /tmp/chicago.parquet``.

With the product's default as "ours" (2026-12-02, after auto's cadence and speed work;
``--ours auto,gbm --groups burglary,"motor vehicle theft"`` and ``--groups "theft,all
crime"``, alone on the machine, load 1.0-1.2, 100 s and 161 s wall), the test split's
ratio over the comparator at 1 / 5 / 20 %: burglary 1.168 / 1.012 / 1.063 (auto chose stack
21 days, gbm 7), motor vehicle theft 0.996 / 1.041 / 1.094 (gbm 21, kde 300 m 7), theft
0.974 / 0.996 / 1.024 (gbm 21, naive 365 d 7), all crime 1.007 / 0.999 / 1.002 (stack 21,
gbm 7): +10 % at 1 of 12 cells. Time per day of ``auto`` in this rolling evaluation (place
layers built, choices every 7 days): 0.84 s wall / 0.85 s CPU over burglary and motor
vehicle theft, 1.66 s / 2.18 s over theft and all crime (gbm alone 0.24-0.50 s).

**The longest test split the data allows** (2026-12-02, evening; ``auto`` then took the
simplest candidate within one standard error, now ``auto:prefer=none``): all 163 days from
2015-01-19 to 2015-06-30, the first day after the tuning split to the data's last, one year
of history before each (``--ours auto,gbm --test-start 2015-01-19 --test-days 163``, run
for ``--groups "burglary,motor vehicle theft"`` and ``--groups "theft,all crime"``: 510 s
and 682 s wall, 346 s and 812 s CPU at load 1.4-4.8). With 163 days the interval of a ratio
is about 2.4 times narrower than with 28. Ratio of ``auto`` over the comparator (picked per
level with hindsight among naive counts, KDE and prospective hotspotting), its 95 % paired
bootstrap interval (:func:`ratio_interval`: the days resampled, the comparator picked again
in each resample), the share of resamples at or above 1.10, and ``gbm`` alone:

====================  =====  =====  =============  ========  =====  =========
group                 level  auto   95 % interval  P(≥1.1)   gbm    hindsight
====================  =====  =====  =============  ========  =====  =========
burglary              1 %    1.090  1.016-1.171    0.41      1.139  1.103
burglary              5 %    1.071  1.021-1.112    0.07      1.133  1.099
burglary              20 %   1.070  1.048-1.091    0.00      1.090  1.045
motor vehicle theft   1 %    1.100  0.938-1.279    0.49      1.116  1.046
motor vehicle theft   5 %    1.072  0.999-1.148    0.22      1.158  1.069
motor vehicle theft   20 %   1.168  1.125-1.204    1.00      1.207  1.028
theft                 1 %    0.995  0.986-1.004    0.00      1.002  1.011
theft                 5 %    1.005  1.000-1.010    0.00      1.007  1.008
theft                 20 %   1.028  1.022-1.033    0.00      1.036  1.010
all crime             1 %    1.003  0.997-1.008    0.00      1.011  1.013
all crime             5 %    1.002  0.999-1.005    0.00      1.004  1.008
all crime             20 %   1.002  1.000-1.003    0.00      1.002  1.005
====================  =====  =====  =============  ========  =====  =========

So: ``auto`` is above the comparator, with an interval clear of 1, at 5 of the 6 sparse
cells, and reaches +10 % at 2 (motor vehicle theft 1 % and 20 %); ``gbm`` alone reaches it
at 5 of 6 (not burglary 20 %, 1.090). For theft and all crime no interval reaches 1.04: the
+10 % target is out of reach there by four to ten times the interval's half-width, and the
hindsight column (knowing the other days of the split) adds at most 1.3 %. ``auto`` chose
gbm on 84 / 114 / 126 / 70 of the 163 days (burglary, motor vehicle theft, theft, all
crime), stack on 42 / 7 / 23 / 51, naive counts on 23 / 7 / 14 / 42, SEPP or KDE on the rest.
Time per day in this rolling run: ``auto`` 0.70 s CPU (burglary and motor vehicle theft)
and 1.87 s (theft and all crime), ``gbm`` 0.26 and 0.47 s.

``auto`` trails ``gbm`` alone at 11 cells of this split (ties at all crime 20 %) and at 11
of 12 of a development split (92 days from 2014-10-01, 273-364 days of history; ``--test-start
2014-10-01 --test-days 92``; auto / gbm over the comparator: burglary 1.105 / 1.151,
1.144 / 1.157, 1.107 / 1.133; motor vehicle theft 1.178 / 1.161, 1.129 / 1.211,
1.136 / 1.212; theft 0.995 / 1.004, 1.010 / 1.014, 1.025 / 1.037; all crime 1.000 / 1.010,
1.000 / 1.005, 1.004 / 1.005). That is the price of its one-standard-error rule over ~9
validation days: a simpler candidate within the noise is taken. More validation days do not
recover it: on the development split, at least 1,000 incidents in the validation windows
(``auto:min_validation_events=1000``) or 28 windows always (``auto:validation_windows=28``)
gave burglary 0.075 / 0.229 / 0.567 and 0.075 / 0.236 / 0.554 against the default's
0.077 / 0.236 / 0.580 (mean hit rate at 1 / 5 / 20 %; they chose stack or SEPP more often,
not gbm), but motor vehicle theft 0.054 / 0.200 / 0.568 and 0.056 / 0.202 / 0.566 against
0.056 / 0.191 / 0.539 (they chose gbm on 85 and 92 of 92 days), and theft down by up to
0.016 at 20 % (all crime within 0.001): mixed, so the default is kept. A likely cause, not
yet tested: a validation window is forecast from a history 29 days shorter than the
forecast's, and the trees gain more from the longer history than the simpler candidates do.

**The default since 2026-12-03: preferring gbm within one standard error.** ``auto`` now
takes ``gbm`` instead of the simplest candidate within one standard error of the best when
``gbm`` is itself within one standard error and scores no lower than the simplest
(``prefer``, see ``xunfang.analyse.forecast.select``). The rule was chosen on the
development split alone (92 days from 2014-10-01; plain rule / this rule / ``gbm`` alone:
burglary 1.105 1.144 1.107 / 1.132 1.156 1.120 / 1.151 1.157 1.133, motor vehicle theft
1.178 1.129 1.136 / 1.184 1.193 1.194 / 1.161 1.211 1.212, theft 0.995 1.010 1.025 /
1.003 1.015 1.031 / 1.004 1.014 1.037, all crime 1.000 1.000 1.004 / 1.000 1.002 1.004 /
1.010 1.005 1.005: at least the plain rule's at 12 of 12), then run once on the test split
above (``--ours auto --test-start 2015-01-19 --test-days 163``, ``--groups "burglary,motor
vehicle theft"`` then ``--groups "theft,all crime"``, one after the other, alone on the
machine: 296 s and 592 s wall, load 1.0 both):

====================  =====  =====  =============  ========  ===========  =====
group                 level  auto   95 % interval  P(≥1.1)   before (1)   gbm
====================  =====  =====  =============  ========  ===========  =====
burglary              1 %    1.101  1.008-1.201    0.51      1.090        1.139
burglary              5 %    1.126  1.070-1.172    0.76      1.071        1.133
burglary              20 %   1.097  1.075-1.119    0.41      1.070        1.090
motor vehicle theft   1 %    1.131  0.962-1.313    0.63      1.100        1.116
motor vehicle theft   5 %    1.115  1.038-1.193    0.66      1.072        1.158
motor vehicle theft   20 %   1.205  1.157-1.244    1.00      1.168        1.207
theft                 1 %    0.999  0.989-1.008    0.00      0.995        1.002
theft                 5 %    1.008  1.003-1.014    0.00      1.005        1.007
theft                 20 %   1.034  1.028-1.041    0.00      1.028        1.036
all crime             1 %    1.007  1.000-1.014    0.00      1.003        1.011
all crime             5 %    1.002  0.999-1.006    0.00      1.002        1.004
all crime             20 %   1.002  1.001-1.004    0.00      1.002        1.002
====================  =====  =====  =============  ========  ===========  =====

(1) the plain rule, from the table above. ``auto`` reaches +10 % at 5 of the 6 sparse
cells (burglary 20 % is 1.097, its interval 1.075-1.119), against 2 of 6 before, and is
at or above the plain rule at all 12 cells; it chose gbm on 135 / 156 / 163 / 112 of the
163 days (burglary, motor vehicle theft, theft, all crime), stack on 21 / 0 / 0 / 37,
SEPP on 7 / 7 / 0 / 0, naive counts on 14 all-crime days. Time per day (fit + predict,
choices every 7 days, place layers built): 0.76 s wall / 0.77 s CPU over burglary and
motor vehicle theft, 1.62 s wall / 2.03 s CPU over theft and all crime (above the 1 s
target: a choice scores five candidates on the week's new validation days, and the dense
groups' features cost more). Before this rule was kept, one run preferring gbm whenever
within one standard error (whatever its mean) gave 1.091 1.137 1.096 and 1.131 1.115 1.205
for the sparse groups, 0.999 1.008 1.034 and 1.008 1.003 1.003 for the dense (the same
command, ``prefer`` unconditional): it is not the default because on a small area it let a
noisy gbm in by its own wide spread (district 1, 7 validation days: a mean
of 0.252 against naive counts' 0.341).

**Under 1 s a day for the dense groups too** (2026-12-03, later). Two changes, neither
touching burglary or motor vehicle theft (their rows above are unchanged): ``auto`` leaves
SEPP, four weeks of counts, two KDEs and both prospective methods out above 100 incidents a
day of history (300 before; theft has 161: the two SEPPs took 49.5 of the 64 s of its
validation fits, and on 14 selections of the development split they and the others left out
were always at least 3.3 standard errors behind the best, see
``xunfang.analyse.forecast.select.DENSE_EVENTS_PER_DAY``), and ``gbm`` fits on at most
100,000 training rows (``max_rows``; theft and all crime have 220,360; chosen on the
development split, see ``GradientBoosted``). The same test split, run once after both were
set (``--ours auto,gbm --groups "theft,all crime" --test-start 2015-01-19 --test-days 163``,
alone on the machine, 345 s wall at load 1.0):

====================  =====  =============  =============  =====
group                 level  auto (before)  95 % interval  gbm
====================  =====  =============  =============  =====
theft                 1 %    0.996 (0.999)  0.987-1.005    0.998
theft                 5 %    1.005 (1.008)  0.999-1.011    1.007
theft                 20 %   1.032 (1.034)  1.026-1.039    1.036
all crime             1 %    1.006 (1.007)  1.000-1.012    1.008
all crime             5 %    1.003 (1.002)  1.000-1.006    1.005
all crime             20 %   1.002 (1.002)  1.001-1.004    1.002
====================  =====  =============  =============  =====

Time per day over theft and all crime: ``auto`` 0.565 s wall / 0.572 s CPU (1.62 / 2.03
before), ``gbm`` alone 0.334 / 0.337 (0.47 CPU before). ``auto`` chose gbm on 149 / 98 of
the 163 days, naive counts on 14 / 21, stack on 0 / 44 (theft / all crime). With burglary
and motor vehicle theft at 0.76 s, the time target holds for all four groups; the hit-rate
target still fails for theft and all crime at every level (ratios 0.996 to 1.032).

Nor does a cell's day-of-week pattern hold the missing 10 %: the ``weekday`` column (each
day forecast from the split's other days of the same weekday, 23 of them, mixed with the
year's counts, the best share with hindsight) is, over the comparator, 1.018 / 1.006 /
1.001 for all crime and 1.005 / 1.004 / 1.002 for theft, no more than the plain
``hindsight`` column (1.013 / 1.008 / 1.005 and 1.011 / 1.008 / 1.010).

**The chosen gbm or stack fitted on all the history** (2026-12-03, evening). In rolling
use ``auto`` used to forecast with the costly candidate's fit of its validation block (on
a history 29 days shorter than the forecast's); now (``final_fit="all"``) it forecasts
with its own fit on all the history, kept 7 days, as a single forecast fits it. Chosen on
the development split (92 days from 2014-10-01, ``--ours auto:final_fit=all,auto``; the
new column ``X - ours`` gives each extra spec's paired difference and its standard error):
all minus block +.000 +.004 +.006 (burglary; SE .002 .004 .004), -.001 +.003 +.009 (motor
vehicle theft; .004 .005 .007), -.000 +.001 -.000 (theft) and +.001 +.000 -.001 (all
crime; SE .0004-.0016). Then run once on the test split (``--ours
auto,auto:final_fit=block,gbm --test-start 2015-01-19 --test-days 163``, the two group
pairs one after the other, alone on the machine, 636 s and 594 s wall at load 1.0):

====================  =====  =====  =============  ================  =====
group                 level  auto   95 % interval  block - all (SE)  gbm
====================  =====  =====  =============  ================  =====
burglary              1 %    1.127  1.041-1.222    -.0021 (.0022)    1.139
burglary              5 %    1.121  1.066-1.162    +.0011 (.0031)    1.133
burglary              20 %   1.090  1.069-1.109    +.0039 (.0042)    1.090
motor vehicle theft   1 %    1.122  0.953-1.316    +.0004 (.0027)    1.116
motor vehicle theft   5 %    1.113  1.036-1.194    +.0004 (.0044)    1.158
motor vehicle theft   20 %   1.200  1.153-1.239    +.0024 (.0049)    1.207
theft                 1 %    0.996  0.986-1.006    +.0002 (.0008)    0.998
theft                 5 %    1.007  1.002-1.013    -.0012 (.0010)    1.007
theft                 20 %   1.032  1.025-1.038    -.0001 (.0011)    1.036
all crime             1 %    1.008  1.002-1.014    -.0003 (.0003)    1.008
all crime             5 %    1.002  0.999-1.005    +.0002 (.0004)    1.005
all crime             20 %   1.002  1.001-1.004    +.0000 (.0004)    1.002
====================  =====  =====  =============  ================  =====

On the test split the two differ by less than their standard errors everywhere (block
ahead at burglary 20 %, by 0.9 SE): the development split's gain does not carry over,
and it was not large there. ``auto`` reaches +10 % at 5 of the 6 sparse cells again
(burglary 20 % is 1.090, 1.097 with the block fit), at none of the dense ones. It is kept
as the default because it forecasts as the product does (a single ``forecast predict``
fits the chosen model on all the history), not for its score. Time per day: ``auto``
0.84 s wall / 0.84 s CPU (burglary, motor vehicle theft) and 0.76 / 0.76 s (theft, all
crime), against 0.73 and 0.57 s with the block fit: the second gbm fit a week costs
0.1-0.2 s a day, still under the 1 s target.

``--ours auto,gbm`` makes "ours" the first spec given (``auto``, xunfang's real default:
chosen per window and group by validation before it, gbm and stack among its candidates
when its budget allows), with the others as extra columns; our specs are then not run
on the tuning split (nothing of ours is tuned there). ``--area district:1,12`` runs on a
union of districts instead of the whole city (the whole city with ``auto`` is slow on a
loaded machine); the place layers are built for that area.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from xunfang.analyse.evaluate import (
    ScoringEvents,
    _city_area,
    hit_counts,
    load_incidents,
    rolling_origin,
    select_types,
    study_grid,
    with_warm_start,
)
from xunfang.analyse.forecast import Forecaster, TrainingEvents, Window, make_forecaster
from xunfang.analyse.forecast._base import from_days, rolling_windows
from xunfang.analyse.forecast.learned import CellContext, GradientBoosted, place_layers
from xunfang.analyse.forecast.registry import with_context
from xunfang.analyse.forecast.select import CANDIDATES, AutoSelect
from xunfang.analyse.grid import Grid
from xunfang.ingest.city import City, default_city
from xunfang.ingest.incidents import IncidentTable, read_incident_table

ROOT = Path(__file__).resolve().parents[1]
LEVELS = (0.01, 0.05, 0.20)
GROUPS: dict[str, tuple[str, ...]] = {
    "burglary": ("BURGLARY",),
    "motor vehicle theft": ("MOTOR VEHICLE THEFT",),
    "theft": ("THEFT",),
    "all crime": (),
}
BASELINES: dict[str, tuple[str, ...]] = {
    "naive": ("naive:period_days=28", "naive:period_days=91", "naive:period_days=365"),
    "kde": (
        "kde:bandwidth_m=150:window_days=365",
        "kde:bandwidth_m=300:window_days=365",
        "kde:bandwidth_m=200:window_days=60",
    ),
    "prospective": ("prospective", "prospective:bandwidth_m=200:bandwidth_weeks=4"),
}
OURS = ("gbm", "gbm:extra_features=true", "stack")


def _load(data_dir: Path, cache: Path | None, city: City) -> IncidentTable:
    if cache is not None and cache.exists():
        return read_incident_table(cache)
    files = sorted((data_dir / "chicago/incidents_2014_2015").glob("*.csv.gz"))
    if not files:
        raise SystemExit(f"no monthly files under {data_dir}/chicago/incidents_2014_2015")
    crs = _city_area(city, "city", None).crs.to_string()
    table, _ = load_incidents(files, "chicago", crs)
    if cache is not None:
        table.write_parquet(cache)
    return table


def _model(
    spec: str, grid: Grid, ctx: CellContext | None, every_candidate: bool = False
) -> Forecaster:
    """``spec`` with warm start and ``ctx``; ``every_candidate`` (``--every-candidate``):
    ``auto`` tries every default candidate whatever the density of the history (those with
    :attr:`~xunfang.analyse.forecast.select.Candidate.max_events_per_day` too), to measure
    how far behind the best the left-out ones would be."""
    model = make_forecaster(spec, grid)
    if every_candidate and isinstance(model, AutoSelect) and model.candidates is None:
        model.candidates = [c.spec for c in CANDIDATES]
    return with_context(with_warm_start(model), ctx)


def _evaluate(
    table: IncidentTable,
    grid: Grid,
    specs: list[str],
    windows: list[Window],
    ctx: CellContext,
    selections_csv: Path | None = None,
    every_candidate: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean hit rate per spec and level, wall s per window (fit + predict) and CPU s per
    window (the whole evaluation of that spec, including the event conversion); and the
    per-window rows of every spec (for the paired interval). ``selections_csv``: where to
    write ``auto``'s selection rows (every candidate's score on every test window, with
    ``diff_to_best`` and ``se_diff``)."""
    out = []
    all_rows = []
    picks: list[pd.DataFrame] = []
    for spec in specs:
        c0 = time.process_time()
        model = _model(spec, grid, ctx, every_candidate)
        ev = rolling_origin(table, grid, {spec: model}, windows, fractions=LEVELS)
        cpu = (time.process_time() - c0) / len(windows)
        if len(ev.selections):  # auto: what it chose, and its notes (budget skips)
            ch = ev.selections[ev.selections["chosen"]]["candidate"].value_counts()
            print(f"  [{spec}] chose " + ", ".join(f"{c} x{n}" for c, n in ch.items()))
            picks.append(ev.selections)
        s = ev.summary()
        s["cpu_s_per_window"] = cpu
        out.append(s)
        rows = ev.rows
        all_rows.append(rows)
        # per-window hit rates, for the spread
        for frac, grp in rows.groupby("fraction"):
            v = grp.loc[grp["n_events"] > 0, "hit_rate"].to_numpy()
            sd = float(np.std(v, ddof=1)) if len(v) > 1 else np.nan
            out[-1].loc[out[-1]["fraction"] == frac, "hit_rate_sd"] = sd
    if picks and selections_csv is not None:
        pd.concat(picks, ignore_index=True).to_csv(selections_csv, index=False)
    return pd.concat(out, ignore_index=True), pd.concat(all_rows, ignore_index=True)


def paired_difference(rows: pd.DataFrame, spec: str, ours: str, frac: float) -> tuple[float, float]:
    """Mean hit rate of ``spec`` minus ``ours`` at ``frac`` over the windows both scored
    with an incident, and its standard error (sd of the per-window differences over the
    square root of their number): the two are forecasts of the same days."""
    r = rows[np.isclose(rows["fraction"], frac) & (rows["n_events"] > 0)]
    wide = r.pivot_table(index="window", columns="method", values="hit_rate").dropna()
    d = (wide[spec] - wide[ours]).to_numpy(dtype=np.float64)
    se = float(np.std(d, ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return float(np.mean(d)), se


def ratio_interval(
    rows: pd.DataFrame,
    ours: str,
    comparators: list[str],
    fraction: float,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Paired bootstrap interval of ours' mean hit rate over the comparator's.

    The windows (days) are resampled with replacement, the same days for every method
    (paired), and in each resample the comparator is again the best of ``comparators``
    on that resample, as the table picks it with hindsight (Efron & Tibshirani 1993, "An
    introduction to the bootstrap", ch. 13, percentile interval).

    Parameters
    ----------
    rows
        Per-window rows of :func:`xunfang.analyse.evaluate.rolling_origin` (``method``,
        ``window``, ``fraction``, ``n_events``, ``hit_rate``) for ours and the comparators.
    ours, comparators
        Method labels.
    fraction
        Share of the area.
    n_boot, seed
        Resamples and random seed.

    Returns
    -------
    (p_above_1_1, lo, hi)
        The share of resamples whose ratio is at least 1.10 (the issue's target), and
        the 2.5 and 97.5 percentiles of the ratio.
    """
    sub = rows[np.isclose(rows["fraction"], fraction) & (rows["n_events"] > 0)]
    wide = sub.pivot_table(index="window", columns="method", values="hit_rate")
    wide = wide[[ours, *comparators]].dropna()
    v = wide.to_numpy(dtype=np.float64)  # (windows, 1 + comparators)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(v), size=(n_boot, len(v)))
    means = v[idx].mean(axis=1)  # (n_boot, methods)
    ratio = means[:, 0] / means[:, 1:].max(axis=1)
    lo, hi = np.percentile(ratio, [2.5, 97.5])
    return float(np.mean(ratio >= 1.10)), float(lo), float(hi)


def _hindsight_reference(
    table: IncidentTable, grid: Grid, windows: list[Window], *, same_weekday: bool = False
) -> dict[float, float]:
    """What knowing the split's other days adds to a year of counts: each window forecast
    by the counts of the split's other windows (before and after it: hindsight) mixed with
    the year's counts before it (shares 0.05, 0.1 and 0.2 of the total, the best per level
    with hindsight), mean hit rate per level. Where the comparator is the year's counts
    (dense types), this says how much the days' own fluctuation can add at most for a
    forecaster built on counts; it is no bound where smoothing wins (sparse types).
    ``same_weekday``: only the other windows starting on the same local weekday (a cell's
    day-of-week pattern, known in hindsight)."""
    scoring = ScoringEvents.from_table(table, grid)
    events = TrainingEvents.from_table(table, grid)
    tz = table.timezone
    counts, year = [], []
    for w in windows:
        cells, _, _ = scoring.in_window(w, tz)
        counts.append(np.bincount(cells, minlength=grid.n_cells).astype(np.float64))
        lo, hi = np.searchsorted(events.t_day, [w.start_day - 365.0, w.start_day])
        year.append(np.bincount(events.cell[lo:hi], minlength=grid.n_cells).astype(float))
    c = np.array(counts)
    others = c.sum(axis=0) - c
    if same_weekday:
        dow = np.array([from_days(w.start_day).tz_convert(tz).day_of_week for w in windows])
        others = np.array([c[dow == d].sum(axis=0) for d in dow]) - c
    best = dict.fromkeys(LEVELS, 0.0)
    for share in (0.05, 0.1, 0.2):
        rates = []
        for i in range(len(windows)):
            o, y = others[i], year[i]
            mix = share * o / max(o.sum(), 1.0) + (1 - share) * y / max(y.sum(), 1.0)
            hc = hit_counts(mix, c[i], LEVELS, mask=grid.mask)
            if hc.total > 0:
                rates.append(hc.hit_rate)
        mean = np.mean(rates, axis=0) if rates else np.full(len(LEVELS), np.nan)
        for lv, v in zip(LEVELS, mean, strict=True):
            best[lv] = max(best[lv], float(v))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("XUNFANG_DATA_DIR", ROOT.parent / "shared/data")),
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tune-start", default="2015-01-05")
    parser.add_argument("--tune-days", type=int, default=14)
    parser.add_argument("--test-start", default="2015-04-06")
    parser.add_argument("--test-days", type=int, default=28)
    parser.add_argument("--cell-m", type=float, default=150.0)
    parser.add_argument("--cache", type=Path, default=None, help="parquet cache of the ingest")
    parser.add_argument("--out-dir", type=Path, default=Path("/tmp/xunfang-target"))
    parser.add_argument(
        "--every-candidate",
        action="store_true",
        help="auto tries every default candidate, also those left out on dense histories",
    )
    parser.add_argument(
        "--ours", default=None, help="our specs, the first is 'ours' (e.g. auto,gbm)"
    )
    parser.add_argument("--area", default=None, help="study area (default city)")
    parser.add_argument(
        "--groups", default=None, help="comma-separated groups of GROUPS (default all)"
    )
    args = parser.parse_args()
    ours_given = tuple(s.strip() for s in args.ours.split(",")) if args.ours else None
    our_specs = ours_given or OURS
    t_run = time.perf_counter()
    city = default_city(args.data_dir)
    tz = city.timezone or "America/Chicago"
    table = _load(args.data_dir, args.cache, city)
    area = args.area or ("district:1" if args.quick else "city")
    groups = dict(list(GROUPS.items())[::3]) if args.quick else GROUPS
    if args.groups:
        groups = {g.strip(): GROUPS[g.strip()] for g in args.groups.split(",")}
    n_tune, n_test = (3, 3) if args.quick else (args.tune_days, args.test_days)
    grid, _ = study_grid(table, area, args.cell_m, None, city=city)
    table = table.subset(grid.in_area(table.xy))
    print(
        f"{len(table):,} incidents in {area}; grid {grid.nx} x {grid.ny}, "
        f"{grid.n_active:,} active cells of {args.cell_m:g} m"
    )
    t0 = time.perf_counter()
    sa = _city_area(city, area, grid.crs)
    schools = args.data_dir / "chicago/schools"
    school_files = sorted(schools.glob("*.csv")) if schools.is_dir() else []
    place, missing = place_layers(grid, city, sa, schools=school_files[0] if school_files else None)
    print(
        f"place layers {sorted(place)} in {time.perf_counter() - t0:.0f} s"
        + (f"; left out: {'; '.join(missing)}" if missing else "")
    )
    all_events = TrainingEvents.from_table(table, grid)
    ctx = CellContext(place=place, missing=missing, all_events=all_events)
    tune = rolling_windows(args.tune_start, n_tune, "day", tz)
    test = rolling_windows(args.test_start, n_test, "day", tz)
    print(
        f"tuning split: {n_tune} days from {args.tune_start}; test split (not tuned on): "
        f"{n_test} days from {args.test_start}; one year of history before each window"
    )
    args.out_dir.mkdir(parents=True, exist_ok=True)
    # ---- 1. tuning
    chosen: dict[str, dict[str, str]] = {}
    ours_score: dict[str, list[float]] = {s: [] for s in our_specs}
    tuned = [] if ours_given else list(our_specs)
    for gname, types in groups.items():
        sel = select_types(table, types)
        specs = [s for fam in BASELINES.values() for s in fam] + tuned
        res, _ = _evaluate(sel, grid, specs, tune, ctx, every_candidate=args.every_candidate)
        mean = res.groupby("method", sort=False)["hit_rate_mean"].mean().fillna(0.0)
        chosen[gname] = {fam: max(fs, key=lambda s: mean[s]) for fam, fs in BASELINES.items()}
        for s in tuned:
            ours_score[s].append(float(mean[s]))
        print(f"\n[tune] {gname} ({len(sel):,} incidents): mean hit rate over levels")
        for s, v in mean.items():
            print(f"  {s:42s} {v:.4f}")
    if ours_given:
        ours = our_specs[0]
        print(f"\nours (given, not tuned): {ours}")
    else:
        ours = max(our_specs, key=lambda s: float(np.mean(ours_score[s])))
        print(f"\nours (chosen on the tuning split): {ours}")
    # ---- 2. test
    table_rows = []
    timing = []
    for gname, types in groups.items():
        sel = select_types(table, types)
        specs = list(chosen[gname].values()) + list(our_specs)
        slug = gname.replace(" ", "_")
        res, win_rows = _evaluate(
            sel,
            grid,
            specs,
            test,
            ctx,
            selections_csv=args.out_dir / f"selections_{slug}.csv",
            every_candidate=args.every_candidate,
        )
        win_rows.to_csv(args.out_dir / f"windows_{slug}.csv", index=False)
        bound = _hindsight_reference(sel, grid, test)
        bound_wd = _hindsight_reference(sel, grid, test, same_weekday=True)
        for frac in LEVELS:
            r = res[np.isclose(res["fraction"], frac)].set_index("method")
            base = r.loc[list(chosen[gname].values()), "hit_rate_mean"]
            best = str(base.idxmax()) if base.notna().any() else "-"
            if best == "-":  # no incident of the group in any test window
                continue
            p_target, lo, hi = ratio_interval(win_rows, ours, list(chosen[gname].values()), frac)
            rec = {
                "group": gname,
                "level": f"{frac:.0%}",
                "ours": r.loc[ours, "hit_rate_mean"],
                "ours_sd": r.loc[ours, "hit_rate_sd"],
                "comparator": base.max(),
                "comparator_sd": r.loc[best, "hit_rate_sd"],
                "ratio": r.loc[ours, "hit_rate_mean"] / base.max(),
                "ratio_lo": lo,
                "ratio_hi": hi,
                "p_ratio_ge_1_1": p_target,
                "comparator_is": best,
                "hindsight_ratio": bound[frac] / base.max(),
                "hindsight_weekday_ratio": bound_wd[frac] / base.max(),
            }
            for s in our_specs:
                rec[s] = r.loc[s, "hit_rate_mean"]
                if s != ours:  # the paired difference to ours over the days, and its SE
                    d = paired_difference(win_rows, s, ours, frac)
                    rec[f"{s} - ours"], rec[f"{s} - ours se"] = d
            table_rows.append(rec)
        for s in specs:
            r = res[res["method"] == s].iloc[0]
            timing.append(
                {
                    "group": gname,
                    "method": s,
                    "wall_s": r["seconds_per_window"],
                    "cpu_s": r["cpu_s_per_window"],
                }
            )
        # what makes a cell hot: the gbm's importance at the last test window
        last = test[-1]
        gbm = _model("gbm", grid, ctx)
        ev = TrainingEvents.from_table(sel, grid)
        gbm.fit_events(ev.between(last.start_day - 365.0, last.start_day))
        assert isinstance(gbm, GradientBoosted)
        imp = gbm.importance_table()
        imp.to_csv(args.out_dir / f"importance_{gname.replace(' ', '_')}.csv", index=False)
        top = ", ".join(f"{f} {v:.2f}" for f, v in imp.head(5)[["feature", "importance"]].values)
        print(f"[gbm importance, {gname}, split gain] {top}")
    tab = pd.DataFrame(table_rows)
    tab.to_csv(args.out_dir / "target_table.csv", index=False)
    pd.DataFrame(timing).to_csv(args.out_dir / "target_timing.csv", index=False)
    print(
        f"\nTEST split ({n_test} daily windows from {args.test_start}, not tuned on): "
        f"mean hit rate (sd over windows); ours = {ours}"
    )
    print(
        f"{'group':20s} {'level':>5s} {'ours':>13s} {'comparator':>13s} {'ratio':>6s} "
        f"{'95 % interval':>13s} {'P>=1.1':>6s} "
        f"{'comparator is':38s} {'hindsight':>9s} {'weekday':>7s} "
        + " ".join(f"{s[:14]:>14s}" for s in our_specs)
    )
    for r in table_rows:
        print(
            f"{r['group']:20s} {r['level']:>5s} {r['ours']:.3f} ({r['ours_sd']:.3f}) "
            f"{r['comparator']:.3f} ({r['comparator_sd']:.3f}) {r['ratio']:6.3f} "
            f"{r['ratio_lo']:6.3f}-{r['ratio_hi']:6.3f} {r['p_ratio_ge_1_1']:6.2f} "
            f"{r['comparator_is']:38s} {r['hindsight_ratio']:9.3f} "
            f"{r['hindsight_weekday_ratio']:7.3f} " + " ".join(f"{r[s]:14.3f}" for s in our_specs)
        )
    for s in our_specs[1:]:
        print(f"{s} - {ours}, mean hit rate over the same days (paired standard error):")
        for r in table_rows:
            d, se = r[f"{s} - ours"], r[f"{s} - ours se"]
            print(f"  {r['group']:20s} {r['level']:>5s} {d:+.4f} ({se:.4f})")
    print(
        "95 % interval: paired bootstrap over the days of the ratio, the comparator picked "
        "again in each resample; P>=1.1: share of resamples at or above the target"
    )
    print(
        "hindsight: each day forecast from the split's other days and the year before it, "
        "over the comparator (see _hindsight_reference); weekday: from the split's other "
        "days of the same weekday"
    )
    print("\ntime per day (fit + predict, whole area; wall s / CPU s per window)")
    tm = pd.DataFrame(timing).groupby("method", sort=False)[["wall_s", "cpu_s"]].mean()
    for s, r in tm.iterrows():
        print(f"  {s:42s} {r['wall_s']:7.3f} {r['cpu_s']:7.3f}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nrun {time.perf_counter() - t_run:.0f} s wall, {time.process_time():.0f} s CPU, "
        f"peak RSS {rss:,.0f} MiB, load {os.getloadavg()[0]:.1f} (2 cores shared)"
    )


if __name__ == "__main__":
    main()
