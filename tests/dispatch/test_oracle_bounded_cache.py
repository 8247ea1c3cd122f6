"""Bounded searches of the travel-time oracle are kept and reused (synthetic line graph)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from xunfang.dispatch.recommend import TravelTimeOracle


def _line(n: int) -> sp.csr_matrix:
    # nodes 0..n-1 on a line, 10 s per edge both ways
    rows = np.r_[np.arange(n - 1), np.arange(1, n)]
    cols = np.r_[np.arange(1, n), np.arange(n - 1)]
    return sp.csr_matrix((np.full(rows.size, 10.0), (rows, cols)), shape=(n, n))


def test_a_kept_bounded_search_answers_a_smaller_limit() -> None:
    oracle = TravelTimeOracle(_line(10))
    first = oracle.to_node(0, limit_s=35.0)  # reaches nodes 0..3 (0, 10, 20, 30 s)
    assert first[:4].tolist() == [0.0, 10.0, 20.0, 30.0] and np.isinf(first[4:]).all()
    oracle.to_node(9, limit_s=15.0)  # another target in between (the "last" one)
    again = oracle.to_node(0, limit_s=25.0)
    assert oracle.bounded_searches == 2 and oracle.bounded_hits == 1
    # exact within the kept limit (35 s), as the first search gave
    assert again[:4].tolist() == [0.0, 10.0, 20.0, 30.0] and np.isinf(again[4:]).all()
    wider = oracle.to_node(0, limit_s=55.0)  # beyond the kept limit: searched again
    assert oracle.bounded_searches == 3
    assert wider[:6].tolist() == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]


def test_the_budget_evicts_the_least_recently_used() -> None:
    # budget 6 pairs: a search from 0 and one from 9, 4 nodes each, do not both fit
    oracle = TravelTimeOracle(_line(10), bounded_budget=6)
    oracle.to_node(0, limit_s=35.0)
    oracle.to_node(9, limit_s=35.0)
    oracle.to_node(5, limit_s=5.0)  # the "last" one is now target 5
    oracle.to_node(0, limit_s=35.0)  # evicted: searched again
    assert oracle.bounded_searches == 4 and oracle.bounded_hits == 0
