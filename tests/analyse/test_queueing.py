"""The hypercube model: correction factors from the book, the exact model against the M/M/N
closed form, the approximation against the exact model, and both against the project's own
simulation. All instances are synthetic (made up here)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xunfang.analyse.queueing import (
    correction_factor,
    hypercube_approx,
    hypercube_exact,
    mmn_probabilities,
    preference_lists,
)
from xunfang.errors import ValidationError

# 6 atoms, 3 units; travel-time ranks give each atom its dispatch order (synthetic)
RANKS = np.array([[1, 2, 3], [1, 3, 2], [1, 2, 3], [2, 1, 3], [3, 2, 1], [1, 3, 2]], float)
LAM = np.array([0.2, 0.3, 0.1, 0.4, 0.2, 0.3])  # calls per unit time, total 1.5


def test_correction_factors_match_larson_odoni_section_5_5_3() -> None:
    # Urban Operations Research (1981), 5.5.3: N = 3, rho = 1/2
    assert correction_factor(3, 0.5, 0) == pytest.approx(1.0)
    assert correction_factor(3, 0.5, 1) == pytest.approx(0.73684, abs=1e-5)
    assert correction_factor(3, 0.5, 2) == pytest.approx(0.63158, abs=1e-5)


def test_mmn_closed_form_three_servers() -> None:
    # a = N rho = 1.5: P0 = 1 / (1 + 1.5 + 1.125 + 3.375 / (6 * 0.5)) = 1 / 4.75
    p0, pn = mmn_probabilities(3, 0.5)
    assert p0 == pytest.approx(1 / 4.75)
    assert pn == pytest.approx(1.125 / 4.75)
    with pytest.raises(ValidationError, match="no steady state"):
        mmn_probabilities(3, 1.0)


def test_exact_hypercube_three_units_closed_form() -> None:
    # symmetric: each unit is first for one atom of equal rate -> each busy rho = 0.5 exactly;
    # the all-busy share is the M/M/3 P_N = 1.125 / 4.75
    pref = np.array([[0, 1, 2], [1, 2, 0], [2, 0, 1]])
    res = hypercube_exact(np.array([0.5, 0.5, 0.5]), pref, 1.0)
    assert res.busy_probability == pytest.approx([0.5, 0.5, 0.5], abs=1e-12)
    assert res.queued_share == pytest.approx(1.125 / 4.75)
    # asymmetric: workloads differ but sum to N rho = 1.5 (the M/M/3 mean number busy)
    res = hypercube_exact(LAM, preference_lists(RANKS), 1.0)
    assert res.busy_probability.sum() == pytest.approx(1.5, abs=1e-12)
    assert res.busy_probability[0] > res.busy_probability[1] > res.busy_probability[2]
    assert res.dispatch_share.sum(axis=0) == pytest.approx(np.ones(6))


def test_exact_two_units_one_atom_by_hand() -> None:
    # one atom, order (0, 1), lambda = mu = 1, infinite queue. States 00, 10(u0 busy),
    # 01(u1 busy), 11 (+ queue, tail factor 1/(1-rho) = 2). Balance:
    #   p00: out 1 = in p10 + p01
    #   p10: out (1 + 1) = in p00 + p11   (u1 finishes from 11)
    #   p01: out (1 + 1) = in p11          (u0 finishes from 11; arrival -> u0)
    #   p11 + queue: P(n >= 2) = p11 * 2.  M/M/2 with a = 1: P0 = 1/3, P1 = 1/3, P(>=2) = 1/3
    # => p00 = 1/3, p11 = 1/6, p01 = 1/12, p10 = 1/4; busy(u0) = 1/4 + 1/3 = 7/12
    res = hypercube_exact(np.array([1.0]), np.array([[0, 1]]), 1.0)
    assert res.busy_probability == pytest.approx([7 / 12, 5 / 12])
    assert res.nearest_busy_share == pytest.approx(7 / 12)


def test_approximation_within_one_percent_of_exact_on_three_units() -> None:
    pref = preference_lists(RANKS)
    exact = hypercube_exact(LAM, pref, 1.0)
    approx = hypercube_approx(LAM, pref, 1.0)
    assert approx.converged
    # Larson (1975) reports errors of about 1-2 %; here at most 0.005 in a workload
    assert np.abs(approx.busy_probability - exact.busy_probability).max() < 0.006
    assert approx.busy_probability.sum() == pytest.approx(1.5, abs=1e-9)
    assert approx.queued_share == pytest.approx(exact.queued_share)
    assert approx.nearest_busy_share == pytest.approx(exact.nearest_busy_share, abs=0.005)


def test_approximation_scales_to_a_hundred_units() -> None:
    rng = np.random.default_rng(3)
    xy_units = rng.uniform(0, 10_000, (100, 2))
    xy_atoms = rng.uniform(0, 10_000, (2000, 2))
    tt = np.hypot(*(xy_atoms[:, None, :] - xy_units[None, :, :]).transpose(2, 0, 1))
    lam = rng.uniform(0.5, 1.5, 2000)
    lam *= 0.6 * 100 / lam.sum()  # rho = 0.6 with unit service time
    res = hypercube_approx(lam, preference_lists(tt), 1.0)
    assert res.converged
    assert res.busy_probability.sum() == pytest.approx(60.0, rel=1e-9)
    assert 0 < res.busy_probability.min() < 0.6 < res.busy_probability.max() < 1


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValidationError, match="do not match"):
        hypercube_approx(np.ones(3), np.zeros((2, 2), int), 1.0)
    with pytest.raises(ValidationError, match="not an ordering"):
        hypercube_approx(np.ones(1), np.array([[0, 0]]), 1.0)
    with pytest.raises(ValidationError, match="no steady state"):
        hypercube_approx(np.ones(1), np.array([[0, 1]]), 5.0)


def test_hypercube_against_the_project_simulation() -> None:
    """Three booth officers on a line of five nodes (synthetic), Poisson calls, exponential
    time on scene (600 s), no call processing or dispatch delay, travel 2-4 s: the simulation
    is then the hypercube's M/M/3 system. 30,000 calls: the busy shares agree within 0.02
    (the approximation's own error is < 0.006 above; the simulation's sampling error of a
    busy share is about 0.005)."""
    from xunfang.dispatch.model import UnitKind
    from xunfang.dispatch.recommend import TravelTimeOracle
    from xunfang.ingest.network import network_from_edges
    from xunfang.simulate.sim import CallSet, SimSettings, UnitSpec, simulate
    from xunfang.simulate.tables import Distribution

    xy = np.array([[0.0, 0.0], [20.0, 0.0], [40.0, 0.0], [60.0, 0.0], [80.0, 0.0]])
    net = network_from_edges(xy, [(i, i + 1, 20.0) for i in range(4)], "EPSG:32616", speed_kph=36)
    posts = [0, 2, 4]
    lam_node = np.array([0.5, 0.2, 0.3, 0.1, 0.4])  # relative call rates per node
    service_s = 600.0
    rate_per_s = 0.55 * 3 / service_s  # rho = 0.55
    lam = lam_node / lam_node.sum() * rate_per_s
    rng = np.random.default_rng(7)
    n = 30_000
    t = np.cumsum(rng.exponential(1 / rate_per_s, n))
    node = rng.choice(5, n, p=lam_node / lam_node.sum())
    calls = CallSet(
        t_s=t,
        node=node,
        priority=np.full(n, 3),
        type_group=np.full(n, "other", dtype=object),
        call_processing_s=np.zeros(n),
        on_scene_s=rng.exponential(service_s, n),
        dispatch_q=np.full(n, 0.5),
    )
    units = [UnitSpec(f"U{p}", UnitKind.BOOTH, p, vehicle=False) for p in posts]
    settings = SimSettings(
        dispatch_delay_s=dict.fromkeys(UnitKind, Distribution(dist="fixed", value=0.0)),
        period_s=float(t[-1]),
    )
    sim = simulate(TravelTimeOracle(net.matrix), calls, units, settings)
    sim_busy = sim.units.set_index("unit_id").loc[[f"U{p}" for p in posts], "utilisation"]
    tt = np.abs(xy[:, 0][:, None] - xy[posts, 0][None, :])  # distance ranks = travel ranks
    tt = tt + np.array([0.0, 0.1, 0.2])  # ties (node 1, node 3) go to the lower unit, as in sim
    approx = hypercube_approx(lam, preference_lists(tt), service_s)
    diff = np.abs(approx.busy_probability - sim_busy.to_numpy())
    assert diff.max() < 0.02, (approx.busy_probability, sim_busy.to_numpy())
    assert math.isclose(sim_busy.sum(), 3 * 0.55, abs_tol=0.05)
