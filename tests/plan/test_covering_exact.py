"""The faster forms of the covering helpers give the answers of their plain forms.

:func:`~xunfang.plan.covering.coverage_tiers` merges rows on packed bits,
:func:`~xunfang.plan.covering.drop_dominated` tests every column at once,
:func:`~xunfang.plan.covering.swap_search` takes the CSR form from its caller and
:func:`~xunfang.plan.covering.greedy_fill_priced` a scratch array: each is checked here against
the plain computation it replaced (written out in this file), and the trade-off curve of a
synthetic district against the figures the curve gave before these changes (``xunfang`` at
main 558df2b, the same call)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from xunfang.plan.covering import (
    GreedyFiller,
    _unique_bool_rows,
    coverage_tiers,
    drop_dominated,
    greedy_fill_priced,
    swap_search,
)
from xunfang.plan.tradeoff import tradeoff_curve


def _district(seed: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """500 demand points and 160 candidates on a 3 km square, straight-line travel at 8 m/s
    (float32 seconds, as the road network's matrix), 2 % of the pairs unreachable."""
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 3000, (500, 2))
    cand = rng.uniform(0, 3000, (160, 2))
    d_m = np.sqrt(((demand[:, None, :] - cand[None, :, :]) ** 2).sum(axis=2))
    cost = (d_m / 8.0).astype(np.float32)
    cost[rng.random(cost.shape) < 0.02] = np.inf
    return cost, rng.integers(1, 6, 500).astype(float)


@pytest.mark.parametrize("n_cols", [1, 7, 8, 13, 40])
def test_unique_bool_rows_is_numpy_unique(n_cols: int) -> None:
    rng = np.random.default_rng(n_cols)
    rows = rng.random((300, n_cols)) < 0.3
    rows[100:150] = rows[:50]  # repeated rows
    uniq, inverse = _unique_bool_rows(rows)
    want, want_inverse = np.unique(rows, axis=0, return_inverse=True)
    assert uniq.dtype == bool
    np.testing.assert_array_equal(uniq, want)
    np.testing.assert_array_equal(inverse, want_inverse.ravel())
    np.testing.assert_array_equal(uniq[inverse], rows)


def _dominated_by_loop(groups: sparse.csc_matrix) -> np.ndarray:
    """drop_dominated's test as it was, one column at a time."""
    g = sparse.csc_matrix(groups)
    size = np.asarray(g.sum(axis=0)).ravel()
    overlap = (g.T @ g).tocsr()
    dominated = size == 0
    for j in np.flatnonzero(size > 0):
        row = overlap.getrow(j)
        sup = row.indices[(row.data >= size[j] - 1e-9) & (row.indices != j)]
        if sup.size and ((size[sup] > size[j]) | ((size[sup] == size[j]) & (sup < j))).any():
            dominated[j] = True
    return np.flatnonzero(~dominated)


def test_drop_dominated_equals_column_loop() -> None:
    cost, w = _district()
    cost[:, 7] = cost[:, 3]  # equal cover sets: the lower index (3) is kept
    _free, tiers = coverage_tiers(cost, w, (60.0, 180.0, 300.0), [0])
    for tier in tiers:
        red, keep = drop_dominated(tier)
        np.testing.assert_array_equal(keep, _dominated_by_loop(tier.groups))
        assert red.groups.shape == (tier.groups.shape[0], keep.size)
    # hand-made: column 1 covers what 0 covers and more; 2 repeats 1; 3 covers nothing
    g = sparse.csc_matrix(np.array([[1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]], dtype=float))
    tier = tiers[0].__class__(60.0, g, np.ones(3), 0.0, 3.0, 3.0)
    assert drop_dominated(tier)[1].tolist() == [1]


def test_swap_search_with_csr_given_is_the_same() -> None:
    cost, w = _district()
    _free, tiers = coverage_tiers(cost, w, (60.0,), [0])
    g = tiers[0].groups
    y = np.zeros(g.shape[1])
    y[[2, 5, 9, 40]] = 1.0
    plain = swap_search(g.tocsr(), tiers[0].group_weight, y)  # the old call: CSR in
    fast = swap_search(
        sparse.csc_matrix(g), tiers[0].group_weight, y, groups_csr=sparse.csr_matrix(g)
    )
    np.testing.assert_array_equal(fast, plain)
    assert plain.sum() == 4 and not np.array_equal(plain, y)  # it did swap


def test_greedy_fill_with_scratch_is_the_same() -> None:
    cost, w = _district()
    c = np.where(np.isfinite(cost), cost, 1e4).astype(np.float64)
    buf = np.full_like(c, np.nan)
    sel = np.array([0, 1])
    for n_add in (1, 3, 0, 2):  # the scratch is reused, whatever it held
        want = greedy_fill_priced(c, w, sel, n_add, 1e4)
        got = greedy_fill_priced(c, w, sel, n_add, 1e4, buf=buf)
        np.testing.assert_array_equal(got, want)
        sel = got
    assert sel.size == 2 + 6


def test_curve_unchanged_on_a_synthetic_district() -> None:
    """Figures of the same call before the faster helpers (no branch and bound: the budget
    is 0 s, so the heuristics, the LP bounds and the greedy fill decide every point)."""
    cost, w = _district()
    curve = tradeoff_curve(cost, w, 40, fixed=[0, 1], layout_threshold_s=180.0, total_time_s=0.0)
    assert curve.n_highs_runs == 20
    by_k = {p.booths: p for p in curve.points}
    p14 = by_k[14]
    assert p14.within[60.0] == pytest.approx(0.971917808, abs=1e-9)
    assert p14.upper[60.0] == pytest.approx(0.975, abs=1e-9)
    assert p14.status == "gap 0.32%"
    assert p14.selected.tolist() == [
        0, 1, 3, 20, 23, 25, 52, 72, 89, 107, 112, 113, 117, 125, 146, 153,
    ]  # fmt: skip
    p18 = by_k[18]
    assert p18.status == "gap 0.14%"
    assert p18.mean_s == pytest.approx(32.851713, abs=1e-6)
    assert p18.selected.tolist() == [
        0, 1, 3, 16, 20, 23, 25, 29, 52, 72, 89, 107, 112, 113, 117, 125, 135, 146, 153, 156,
    ]  # fmt: skip
    p40 = by_k[40]
    assert p40.within == {60.0: 1.0, 180.0: 1.0, 300.0: 1.0}
    assert p40.mean_s == pytest.approx(22.390765, abs=1e-6)
    assert p40.p90_s == pytest.approx(35.855179, abs=1e-6)
    assert p40.selected.tolist() == [
        0, 1, 3, 8, 11, 14, 16, 20, 21, 23, 25, 26, 29, 35, 43, 49, 52, 68, 72, 82, 85, 89, 92,
        94, 97, 99, 107, 111, 112, 113, 117, 122, 125, 126, 128, 129, 135, 146, 147, 153, 156,
        159,
    ]  # fmt: skip


def test_greedy_add_with_threshold_is_the_plain_rule() -> None:
    """MCLP's greedy start: the cover gain from the 0/1 matrix made once is the gain of the
    plain rule (a new boolean matrix each round), to the last bit, with weights that are not
    whole numbers."""
    from xunfang.plan._siting_common import _greedy_add, _service_costs, _time_gain

    cost, w = _district()
    sub, ww, big = _service_costs(cost.astype(np.float64), w * 1.37)
    opened = np.zeros(sub.shape[1], dtype=bool)
    opened[[0, 1]] = True
    want = opened.copy()
    current = sub[:, want].min(axis=1)
    for _ in range(12):  # the rule as it was written before
        time_gain = _time_gain(sub, ww, current)
        time_gain[want] = -np.inf
        cover_gain = ww @ ((sub <= 120.0) & (current > 120.0)[:, None])
        cover_gain[want] = -np.inf
        best = int(np.lexsort((-time_gain, -cover_gain))[0])
        want[best] = True
        current = np.minimum(current, sub[:, best])
    got = _greedy_add(sub, ww, opened, 12, big, 120.0)
    np.testing.assert_array_equal(got, want)
    assert got.sum() == 14 and opened.sum() == 2  # the caller's mask is left alone


def test_greedy_filler_extends_as_greedy_fill_does() -> None:
    """The kept-gain filler makes the same choices as a fresh greedy pass, whether it
    extends its last layout (incremental update) or is given another one (full pass)."""
    cost, w = _district()
    c = np.where(np.isfinite(cost), cost, 1e4).astype(np.float64)
    filler = GreedyFiller(c, w, 1e4)
    sel = np.array([0, 1])
    for n_add in (1, 3, 0, 2, 5):  # one layout extended, as the curve does K by K
        want = greedy_fill_priced(c, w, sel, n_add, 1e4)
        got = filler.fill(sel, n_add)
        np.testing.assert_array_equal(got, want)
        sel = got
    assert sel.size == 2 + 11
    other = np.array([3, 7, 11])  # not the last layout: a full pass
    np.testing.assert_array_equal(filler.fill(other, 4), greedy_fill_priced(c, w, other, 4, 1e4))
    np.testing.assert_array_equal(
        filler.fill(np.zeros(0, np.int64), 2),
        greedy_fill_priced(c, w, np.zeros(0, np.int64), 2, 1e4),
    )


def test_drop_dominated_in_small_blocks_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 7 columns: most columns are checked against the kept columns of earlier
    blocks, not within their own block; the answer is the column loop's."""
    import xunfang.plan.covering as covering

    cost, w = _district()
    cost[:, 7] = cost[:, 3]
    _free, tiers = coverage_tiers(cost, w, (60.0, 180.0, 300.0), [0])
    monkeypatch.setattr(covering, "_DOMINANCE_BLOCK", 7)
    for tier in tiers:
        keep = drop_dominated(tier)[1]
        np.testing.assert_array_equal(keep, _dominated_by_loop(tier.groups))
        assert keep.size < tier.groups.shape[1] - 7  # dropped beyond the first block
