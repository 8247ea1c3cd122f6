"""Choosing patrol booth sites from a travel-time matrix: maximal covering and p-median models.

Two classic discrete location models, solved with heuristics for good solutions, Lagrangian
relaxation for bounds, and the HiGHS MIP solver (``highspy``) for proofs:

* **MCLP**, the maximal covering location problem (Church, R. & ReVelle, C. (1974), "The maximal
  covering location problem", *Papers of the Regional Science Association* 32, 101-118): open
  ``k`` sites so that the demand weight within ``threshold_s`` of an open site is largest.
* **p-median** (Hakimi, S. L. (1964), "Optimum locations of switching centers and the absolute
  centers and medians of a graph", *Operations Research* 12, 450-459; integer formulation of
  ReVelle, C. & Swain, R. (1970), "Central facilities location", *Geographical Analysis* 2,
  30-42): open ``k`` sites so that the demand-weighted travel time to the nearest open site is
  smallest.

Both take the same inputs: ``cost_s``, an array of shape ``(n_demand, n_candidates)`` of travel
times in seconds (``np.inf`` where a candidate cannot reach a demand node), and ``weights`` of
shape ``(n_demand,)`` (incident counts, >= 0). ``k`` counts every open site, the ``fixed`` ones
(e.g. existing police stations, forced open) included. Results are frozen :class:`SitingResult`
objects; :func:`evaluate_sites` scores any given set of sites on the same demand (e.g. "stations
alone" against "stations + booths").

Every answer carries a proved bound (``objective_bound``) and ``mip_gap``; ``status`` is
``"optimal"`` only when that gap is within ``mip_rel_gap``. Under ``time_limit_s`` the best
solution found is returned with status ``"time_limit"``.

The models live in modules of their own; this one re-exports the public API of all three:

* :mod:`xunfang.plan.mclp`: :func:`mclp` (reductions, greedy covering, vertex substitution,
  Lagrangian bound, HiGHS MIP);
* :mod:`xunfang.plan.pmedian`: :func:`p_median` (candidate lists, greedy adding, vertex
  substitution, Lagrangian bound, reduced-cost fixing, HiGHS MIP);
* :mod:`xunfang.plan._siting_common`: what both share: :class:`SiteEvaluation`,
  :class:`SitingResult`, the input checks, :func:`evaluate_sites`, :func:`weighted_quantile`,
  greedy adding and the HiGHS call.

Their methods and sources are in those modules' notes; the conventions below hold for all.

``k`` sites are always returned. When fewer are opened (every coverable node is already covered,
or no further site lowers the model cost), the rest are added greedily, one at a time: largest
covered-weight gain (MCLP only), then largest drop of total weighted travel time, with unreachable
pairs priced above any reachable assignment; ties go to the lowest candidate index. These
additions never lower the objective.

Conventions
-----------
* Travel time to the "nearest selected site" is the minimum over the selected columns; ties go to
  the lowest candidate index. ``assignment`` is -1 and ``travel_time_s`` is ``np.inf`` where no
  selected site reaches the demand node.
* Means and the 90th percentile are weighted by ``weights`` over demand nodes that some selected
  site reaches; the weight share of the others is ``unreachable_weight_share``. The percentile is
  the weighted "inverted_cdf" rule (Hyndman & Fan (1996) definition 1, as
  ``numpy.percentile(..., weights=w, method="inverted_cdf")``): the smallest travel time ``t``
  whose cumulative weight share (values sorted ascending) reaches 0.9.
* ``time_limit_s`` is the budget of the whole search (checks, the first greedy step and the final
  evaluation come on top and take well under a second on the benchmark). ``mip_gap`` is
  ``|objective_bound - objective| / |objective|`` on the reported objective (fixed sites
  included), so it can be smaller than HiGHS's own gap on the reduced model.
* Memory: a few dense float64 arrays of the size of ``cost_s`` (its positive-weight rows) and the
  candidate lists (at most ``max_assignment_vars`` pairs).
"""

from __future__ import annotations

from xunfang.plan._siting_common import (
    P90_QUANTILE,
    SiteEvaluation,
    SitingResult,
    evaluate_sites,
    weighted_quantile,
)
from xunfang.plan.mclp import mclp
from xunfang.plan.pmedian import p_median

__all__ = [
    "P90_QUANTILE",
    "SiteEvaluation",
    "SitingResult",
    "evaluate_sites",
    "mclp",
    "p_median",
    "weighted_quantile",
]
