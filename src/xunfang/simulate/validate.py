"""Validation of the simulator against queueing theory.

With zero travel time, zero call processing and dispatch delay, Poisson arrivals and
exponential on-scene times, the simulated system is an M/M/c queue with first-come,
first-served service, whose probability of waiting and mean wait are given by the Erlang C
formula (:func:`xunfang.simulate.metrics.erlang_c`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from xunfang.dispatch.model import UnitKind
from xunfang.dispatch.recommend import TravelTimeOracle
from xunfang.errors import ValidationError
from xunfang.ingest.network import network_from_edges
from xunfang.simulate.metrics import erlang_c
from xunfang.simulate.sim import CallSet, SimSettings, UnitSpec, simulate
from xunfang.simulate.tables import Distribution


@dataclass(frozen=True)
class ErlangCheck:
    """Simulated against exact M/M/c figures.

    Attributes
    ----------
    servers, arrival_rate_per_h, mean_service_s, utilisation
        The queue.
    calls, warmup_calls
        Calls simulated; the first ``warmup_calls`` are left out of the estimates.
    p_wait_exact, p_wait_sim
        Probability that a call waits.
    wait_exact_s, wait_sim_s
        Mean wait in the queue, seconds.
    wait_rel_error
        ``wait_sim_s / wait_exact_s - 1``.
    wall_s
        Run time, seconds.
    """

    servers: int
    arrival_rate_per_h: float
    mean_service_s: float
    utilisation: float
    calls: int
    warmup_calls: int
    p_wait_exact: float
    p_wait_sim: float
    wait_exact_s: float
    wait_sim_s: float
    wait_rel_error: float
    wall_s: float


def erlang_check(
    servers: int = 3,
    utilisation: float = 0.8,
    mean_service_s: float = 600.0,
    calls: int = 40_000,
    seed: int = 1,
    warmup_share: float = 0.02,
) -> ErlangCheck:
    """Simulate an M/M/c queue with the full simulator and compare with Erlang C.

    All units and calls sit on one node (zero travel time); call processing and dispatch
    delay are 0; inter-arrival and on-scene times are exponential, drawn from one seeded
    generator.

    Raises
    ------
    ValidationError
        Unless ``0 < utilisation < 1``, ``servers >= 1`` and ``calls > 100``.
    """
    if not 0 < utilisation < 1 or servers < 1 or calls <= 100:
        raise ValidationError("erlang_check needs 0 < utilisation < 1, servers >= 1, calls > 100")
    rng = np.random.default_rng(seed)
    mu = 1.0 / mean_service_s
    lam = utilisation * servers * mu
    t = np.cumsum(rng.exponential(1.0 / lam, calls))
    service = rng.exponential(mean_service_s, calls)
    net = network_from_edges(np.zeros((1, 2)), [], "EPSG:32616", speed_kph=30.0)
    oracle = TravelTimeOracle(net.matrix)
    call_set = CallSet(
        t_s=t,
        node=np.zeros(calls, dtype=np.int64),
        priority=np.full(calls, 3, dtype=np.int64),
        type_group=np.full(calls, "other", dtype=object),
        call_processing_s=np.zeros(calls),
        on_scene_s=service,
        dispatch_q=np.full(calls, 0.5),
    )
    units = [UnitSpec(f"U{i}", UnitKind.STATION_CAR, 0, vehicle=False) for i in range(servers)]
    zero = Distribution(dist="fixed", value=0.0)
    settings = SimSettings(dispatch_delay_s=dict.fromkeys(UnitKind, zero), period_s=float(t[-1]))
    start = time.perf_counter()
    result = simulate(oracle, call_set, units, settings)
    wall = time.perf_counter() - start
    warm = int(warmup_share * calls)
    queue = result.calls["queue_s"].to_numpy(dtype=np.float64)[warm:]
    p_exact, w_exact = erlang_c(servers, lam, mu)
    w_sim = float(queue.mean())
    return ErlangCheck(
        servers=servers,
        arrival_rate_per_h=lam * 3600.0,
        mean_service_s=mean_service_s,
        utilisation=utilisation,
        calls=calls,
        warmup_calls=warm,
        p_wait_exact=p_exact,
        p_wait_sim=float((queue > 1e-9).mean()),
        wait_exact_s=w_exact,
        wait_sim_s=w_sim,
        wait_rel_error=w_sim / w_exact - 1.0,
        wall_s=wall,
    )
