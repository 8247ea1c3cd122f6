"""A plain closest-unit dispatch model in SimPy: the baseline of ``bench_simulate.py``.

Written the way one would write it without xunfang (SimPy 4 processes, numpy argmin over a
precomputed post x node travel-time table), and kept independent of xunfang's simulator so
that the two can be compared for speed and, in ``tests/simulate/test_reference.py``, for
their response times.

Model (the same choices as xunfang's simulator unless stated):

* a call is received at ``t_s``, is ready for dispatch ``call_processing_s`` later, then
  waits in a queue ordered by priority (1 first), then time received, then call index;
* the closest free unit by road travel time (post -> call node, multiplied by the unit's
  speed factor and the vehicle traffic factor of the hour of dispatch) is sent; ties go to
  the unit listed first; units whose time is infinite (unreachable) are not sent;
* the unit sets off after ``dispatch_delay_s``, drives, spends ``on_scene_s`` and clears;
* **difference**: a unit that clears is at once back at its post (it waits at its post),
  where xunfang's simulator makes it available at the scene, driving back to its post;
* no preemption, no duty shifts, no patrols, no area or priority limits;
* at one instant, units that clear are free before calls that become ready are handled
  and all calls that become ready at one instant are queued before one dispatch round
  serves them in queue order (the event-priority rule of :mod:`xunfang.simulate.engine`):
  here the clearing timeout is scheduled URGENT and the dispatch round is a NORMAL event
  scheduled at that instant, after the events already due then.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.core import URGENT


@dataclass(frozen=True)
class BaselineResult:
    """Per-call outcome of the baseline: (n,) float64 seconds (NaN if never served) and
    the (n,) int64 index of the unit sent (-1 if none)."""

    response_s: np.ndarray
    travel_s: np.ndarray
    queue_s: np.ndarray
    unit: np.ndarray
    events: int


def simpy_closest_unit(
    post_to_node_s: np.ndarray,
    unit_factor: np.ndarray,
    t_s: np.ndarray,
    node: np.ndarray,
    priority: np.ndarray,
    call_processing_s: np.ndarray,
    dispatch_delay_s: np.ndarray,
    on_scene_s: np.ndarray,
    *,
    factor_by_hour: np.ndarray | None = None,
    start_hour: float = 0.0,
) -> BaselineResult:
    """Run the baseline.

    Parameters
    ----------
    post_to_node_s
        (n_units, n_nodes) travel time from each unit's post to every node, seconds.
    unit_factor
        (n_units,) travel-time multiplier of each unit.
    t_s, node, priority, call_processing_s, dispatch_delay_s, on_scene_s
        (n_calls,) per call: receipt time (sorted), node, priority 1..5 and durations in
        seconds (the dispatch delay of whichever unit is sent).
    factor_by_hour
        24 traffic factors by local hour (default all 1).
    start_hour
        Local hour at t = 0.
    """
    env = simpy.Environment()
    n = t_s.size
    hour_factor = np.ones(24) if factor_by_hour is None else np.asarray(factor_by_hour, float)
    free = np.ones(unit_factor.size, dtype=bool)
    waiting: list[tuple[int, float, int, int]] = []
    order = iter(range(n))
    granted: dict[int, simpy.Event] = {}
    response = np.full(n, np.nan)
    travel = np.full(n, np.nan)
    queue = np.full(n, np.nan)
    sent = np.full(n, -1, dtype=np.int64)

    def dispatch() -> None:
        while waiting and free.any():
            i = waiting[0][3]
            eta = np.where(free, post_to_node_s[:, node[i]] * unit_factor, np.inf)
            j = int(np.argmin(eta))
            if not np.isfinite(eta[j]):
                return
            heapq.heappop(waiting)
            free[j] = False
            granted.pop(i).succeed(j)

    pending: list[simpy.Event] = []

    def request_dispatch() -> None:
        # one dispatch round after everything else of this instant (events scheduled
        # before it): calls ready at the same instant are served in queue order
        if not pending:
            event = env.event()
            event.callbacks.append(lambda _ev: (pending.clear(), dispatch()))
            event.succeed()
            pending.append(event)

    def urgent_timeout(delay: float) -> simpy.Event:
        # a timeout processed before the NORMAL events of the same instant
        event = env.event()
        event._ok = True  # type: ignore[attr-defined]
        event._value = None  # type: ignore[attr-defined]
        env.schedule(event, URGENT, delay)
        return event

    def call(i: int) -> simpy.events.ProcessGenerator:
        yield env.timeout(t_s[i])
        yield env.timeout(call_processing_s[i])
        ready = env.now
        got = env.event()
        granted[i] = got
        heapq.heappush(waiting, (int(priority[i]), float(t_s[i]), next(order), i))
        request_dispatch()
        j = yield got
        queue[i] = env.now - ready
        hour = int((start_hour * 3600.0 + env.now) // 3600.0) % 24
        drive = float(post_to_node_s[j, node[i]]) * (unit_factor[j] * hour_factor[hour])
        yield env.timeout(dispatch_delay_s[i])
        yield env.timeout(drive)
        travel[i] = drive
        response[i] = env.now - t_s[i]
        sent[i] = j
        yield urgent_timeout(on_scene_s[i])
        free[j] = True
        request_dispatch()

    for i in range(n):
        env.process(call(i))
    env.run()
    return BaselineResult(response, travel, queue, sent, env._eid)  # type: ignore[attr-defined]
