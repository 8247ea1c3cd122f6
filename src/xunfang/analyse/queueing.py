"""The hypercube queueing model of units that serve calls from fixed posts.

A booth (or any unit) on a call does not cover its ring. The hypercube model (Larson, R. C.
(1974), "A hypercube queuing model for facility location and redistricting in urban emergency
services", *Computers & Operations Research* 1, 67-95) gives each unit's busy probability and
the share of calls whose preferred (nearest) unit is busy, from

* ``arrival_rate_per_s``: calls per second from each demand node ("atom"), Poisson;
* ``preference``: for each atom, the units in dispatch order (nearest first);
* ``service_time_s``: mean service time per call (exponential in the model), seconds, one value
  or one per unit.

Calls that find every unit busy wait in one first-come first-served queue (infinite line
capacity) and go to the first unit that frees up.

Two solvers:

* :func:`hypercube_exact` builds the ``2**N`` busy/free states and solves the balance
  equations (sparse LU): for N up to about 12 units, equal service times.
* :func:`hypercube_approx` is Larson's approximation (Larson, R. C. (1975), "Approximating the
  performance of urban emergency service systems", *Operations Research* 23, 845-868; Larson &
  Odoni (1981), *Urban Operations Research*, section 5.5): the probability that the first
  ``k-1`` units of an atom's list are busy and the ``k``-th free is taken as
  ``Q(N, rho, k-1) * prod(rho_1..rho_{k-1}) * (1 - rho_k)``, with the M/M/N correction factor
  ``Q``; the unit workloads are found by fixed-point iteration. Unit-specific mean service times
  (on scene plus travel from that unit) follow Jarvis, J. P. (1985), "Approximating the
  equilibrium behavior of multi-server loss systems", *Management Science* 31, 235-239: each
  unit's service rate is recomputed from the calls it is estimated to take, and the aggregate
  load uses the call-weighted mean service time. Cost: O(iterations x n_atoms x N); 100 units
  and a few thousand atoms take well under a second.

Both return a :class:`HypercubeResult`. Larson reports errors of the approximation around 1-2 %
in the workloads; ``tests/analyse/test_queueing.py`` checks it against the exact model on a
3-unit instance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.sparse.linalg import spsolve

from xunfang.errors import ValidationError

__all__ = [
    "HypercubeResult",
    "correction_factor",
    "hypercube_approx",
    "hypercube_exact",
    "mmn_probabilities",
    "preference_lists",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Largest N for the exact model (2**N states).
EXACT_MAX_UNITS = 14


@dataclass(frozen=True)
class HypercubeResult:
    """Steady state of a hypercube model.

    Attributes
    ----------
    busy_probability
        (n_units,) share of time each unit is busy (its workload ``rho_n``).
    nearest_busy_share
        Share of calls (arrival-weighted) whose first-preference unit is busy on arrival.
    queued_share
        Share of calls that find every unit busy and wait (``P_N`` of the M/M/N system).
    atom_nearest_busy
        (n_atoms,) probability that the atom's first-preference unit is busy.
    dispatch_share
        (n_units, n_atoms) share of each atom's calls served by each unit (queued calls
        spread evenly), each column summing to 1.
    utilisation
        Aggregate offered load per unit, ``lambda * mean service / N``.
    method
        ``"exact"`` or ``"larson-approx"``.
    iterations
        Fixed-point iterations (0 for the exact model).
    converged
        Whether the iteration met its tolerance.
    """

    busy_probability: FloatArray
    nearest_busy_share: float
    queued_share: float
    atom_nearest_busy: FloatArray
    dispatch_share: FloatArray
    utilisation: float
    method: str
    iterations: int
    converged: bool


def preference_lists(travel_time_s: ArrayLike) -> IntArray:
    """Dispatch order of the units for each atom: nearest first, ties to the lower index.

    Parameters
    ----------
    travel_time_s
        (n_atoms, n_units) travel times in seconds (``inf`` allowed: last).

    Returns
    -------
    numpy.ndarray
        (n_atoms, n_units) int64 unit indices.
    """
    tt = np.asarray(travel_time_s, dtype=np.float64)
    if tt.ndim != 2:
        raise ValidationError(f"travel_time_s must be 2-D (n_atoms, n_units), got {tt.shape}")
    return np.argsort(tt, axis=1, kind="stable").astype(np.int64)


def mmn_probabilities(n_units: int, utilisation: float) -> tuple[float, float]:
    """``P_0`` (all free) and ``P_N`` (all busy, queue or not) of the M/M/N queue.

    Parameters
    ----------
    n_units
        Servers N >= 1.
    utilisation
        ``rho = lambda / (N mu)``, in [0, 1).

    Raises
    ------
    ValidationError
        For ``utilisation >= 1`` (no steady state) or N < 1.
    """
    if n_units < 1:
        raise ValidationError(f"n_units must be >= 1, got {n_units}")
    if not 0.0 <= utilisation < 1.0:
        raise ValidationError(
            f"utilisation {utilisation:.3f} must be in [0, 1): more calls than the units can "
            "serve have no steady state"
        )
    a = n_units * utilisation
    terms = [a**k / math.factorial(k) for k in range(n_units)]
    tail = a**n_units / (math.factorial(n_units) * (1.0 - utilisation))
    p0 = 1.0 / (sum(terms) + tail)
    return p0, tail * p0


def correction_factor(n_units: int, utilisation: float, j: int) -> float:
    """Larson's correction factor ``Q(N, rho, j)`` of the M/M/N queue (Larson & Odoni 1981,
    eq. 5.48)::

        Q(N, rho, j) = P_0 / (1 - rho) * sum_{k=j}^{N-1} (N-j-1)! (N-k) N^k rho^(k-j)
                                                        / ((k-j)! N!)

    ``Q(3, 0.5, 0) = 1``, ``Q(3, 0.5, 1) = 0.73684``, ``Q(3, 0.5, 2) = 0.63158`` (ibid.,
    section 5.5.3).
    """
    if not 0 <= j < n_units:
        raise ValidationError(f"j must be in [0, {n_units - 1}], got {j}")
    p0, _ = mmn_probabilities(n_units, utilisation)
    n = n_units
    # log-space terms: N up to a few hundred without overflow
    log_terms = [
        math.lgamma(n - j)
        + math.log(n - k)
        + k * math.log(n)
        + ((k - j) * math.log(utilisation) if k > j else 0.0)
        - math.lgamma(k - j + 1)
        - math.lgamma(n + 1)
        for k in range(j, n)
        if utilisation > 0 or k == j
    ]
    top = max(log_terms)
    s = sum(math.exp(t - top) for t in log_terms)
    return float(p0 / (1.0 - utilisation) * s * math.exp(top))


def _check(
    arrival_rate_per_s: ArrayLike, preference: ArrayLike, n_units: int
) -> tuple[FloatArray, IntArray]:
    lam = np.asarray(arrival_rate_per_s, dtype=np.float64)
    pref = np.asarray(preference, dtype=np.int64)
    if lam.ndim != 1 or pref.ndim != 2 or pref.shape[0] != lam.size:
        raise ValidationError(
            f"arrival_rate_per_s (n_atoms,) and preference (n_atoms, n_units) do not match: "
            f"{lam.shape} and {pref.shape}"
        )
    if pref.shape[1] != n_units:
        raise ValidationError(f"preference has {pref.shape[1]} columns for {n_units} units")
    if not np.isfinite(lam).all() or (lam < 0).any():
        raise ValidationError("arrival_rate_per_s must be finite and >= 0")
    if n_units < 1:
        raise ValidationError("at least one unit is needed")
    for row in (0, pref.shape[0] - 1):
        if pref.shape[0] and sorted(pref[row].tolist()) != list(range(n_units)):
            raise ValidationError(f"preference row {row} is not an ordering of the units")
    return lam, pref


def hypercube_exact(
    arrival_rate_per_s: ArrayLike, preference: ArrayLike, service_time_s: float
) -> HypercubeResult:
    """The exact hypercube model with an infinite FCFS queue (Larson 1974).

    States are the ``2**N`` busy/free patterns; the all-busy state stands for itself and the
    queue behind it (its tail is geometric with ratio ``rho``, folded in analytically).

    Parameters
    ----------
    arrival_rate_per_s
        (n_atoms,) Poisson call rates, per second.
    preference
        (n_atoms, N) dispatch order of the units per atom.
    service_time_s
        Mean service time (exponential), seconds, the same for every unit.

    Raises
    ------
    ValidationError
        For N above ``EXACT_MAX_UNITS``, load >= 1, or inputs that do not match.
    """
    pref_arr = np.asarray(preference, dtype=np.int64)
    n = int(pref_arr.shape[1]) if pref_arr.ndim == 2 else 0
    lam, pref = _check(arrival_rate_per_s, pref_arr, n)
    if n > EXACT_MAX_UNITS:
        raise ValidationError(f"exact hypercube is for N <= {EXACT_MAX_UNITS}; use the approx")
    mu = 1.0 / float(service_time_s)
    total = float(lam.sum())
    rho = total / (n * mu)
    mmn_probabilities(n, rho)  # validates the load
    n_states = 1 << n
    full = n_states - 1
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    # rate of transitions from each state to the state with unit u turned busy
    for s in range(n_states):
        for u in range(n):
            if s >> u & 1:  # a busy unit finishes
                rows.append(s & ~(1 << u))
                cols.append(s)
                vals.append(mu)
        if s == full:
            continue
        busy = np.array([(s >> u) & 1 for u in range(n)], dtype=bool)
        ok = ~busy[pref]  # (n_atoms, n)
        first = np.argmax(ok, axis=1)
        free_first = pref[np.arange(lam.size), first]
        to = np.bincount(free_first, weights=lam, minlength=n)
        for u in range(n):
            if to[u] > 0:
                rows.append(s | (1 << u))
                cols.append(s)
                vals.append(float(to[u]))
    q = sparse.csr_matrix((vals, (rows, cols)), shape=(n_states, n_states))
    out_rate = np.asarray(q.sum(axis=0)).ravel()
    gen = (q - sparse.diags(out_rate)).tolil()
    # replace one balance equation with the normalisation (queue tail included)
    weight = np.ones(n_states)
    weight[full] = 1.0 / (1.0 - rho)
    gen[0, :] = weight
    rhs = np.zeros(n_states)
    rhs[0] = 1.0
    p = spsolve(gen.tocsc(), rhs)
    p_full_total = p[full] / (1.0 - rho)
    busy_prob = np.zeros(n)
    for u in range(n):
        mask = (np.arange(n_states) >> u) & 1 == 1
        busy_prob[u] = p[mask & (np.arange(n_states) != full)].sum() + p_full_total
    # per atom: probability its first unit is busy; dispatch shares
    atom_busy = busy_prob[pref[:, 0]]
    share = np.zeros((n, lam.size))
    for s in range(full):
        busy = np.array([(s >> u) & 1 for u in range(n)], dtype=bool)
        first = np.argmax(~busy[pref], axis=1)
        share[pref[np.arange(lam.size), first], np.arange(lam.size)] += p[s]
    share += p_full_total / n
    return _finish(lam, atom_busy, busy_prob, share, p_full_total, rho, "exact", 0, True)


def _finish(
    lam: FloatArray,
    atom_busy: FloatArray,
    busy_prob: FloatArray,
    share: FloatArray,
    p_n: float,
    rho: float,
    method: str,
    iterations: int,
    converged: bool,
) -> HypercubeResult:
    total = float(lam.sum())
    nearest_busy = float(lam @ atom_busy / total) if total > 0 else 0.0
    col = share.sum(axis=0)
    share = share / np.where(col > 0, col, 1.0)
    return HypercubeResult(
        busy_probability=busy_prob,
        nearest_busy_share=nearest_busy,
        queued_share=float(p_n),
        atom_nearest_busy=atom_busy,
        dispatch_share=share,
        utilisation=rho,
        method=method,
        iterations=iterations,
        converged=converged,
    )


def hypercube_approx(
    arrival_rate_per_s: ArrayLike,
    preference: ArrayLike,
    service_time_s: float | ArrayLike,
    *,
    tol: float = 1e-6,
    max_iter: int = 500,
) -> HypercubeResult:
    """Larson's (1975) hypercube approximation, with Jarvis's (1985) unit-specific service times.

    Parameters
    ----------
    arrival_rate_per_s
        (n_atoms,) Poisson call rates, per second.
    preference
        (n_atoms, N) dispatch order of the units per atom (:func:`preference_lists`).
    service_time_s
        Mean service time in seconds: one value, or (n_units, n_atoms) for the time unit ``n``
        spends on a call from atom ``j`` (e.g. travel there and back plus on scene).
    tol
        Largest change of any workload between iterations at convergence. When the change
        grows (the iteration oscillates, as it can for many units at high load) the step is
        damped: halved each time, down to 5 % of the full step.
    max_iter
        Iteration limit; the result says whether it converged.

    Returns
    -------
    HypercubeResult

    Raises
    ------
    ValidationError
        For aggregate load >= 1 or inputs that do not match.
    """
    pref_arr = np.asarray(preference, dtype=np.int64)
    n = int(pref_arr.shape[1]) if pref_arr.ndim == 2 else 0
    lam, pref = _check(arrival_rate_per_s, pref_arr, n)
    n_atoms = lam.size
    total = float(lam.sum())
    st = np.asarray(service_time_s, dtype=np.float64)
    per_pair = st.ndim == 2
    if per_pair and st.shape != (n, n_atoms):
        raise ValidationError(f"service_time_s must be (n_units, n_atoms), got {st.shape}")
    if not np.isfinite(st).all() or (st <= 0).any():
        raise ValidationError("service_time_s must be finite and > 0")
    tau = st if per_pair else np.full((n, n_atoms), float(st))
    # start: every call served by its first unit
    share = np.zeros((n, n_atoms))
    share[pref[:, 0], np.arange(n_atoms)] = 1.0
    rho_n = np.zeros(n)
    converged = False
    it = 0
    atom_idx = np.arange(n_atoms)
    q_rho: float | None = None
    q = np.ones(n)
    p_n = 0.0
    damping, last_delta = 1.0, math.inf
    for it in range(1, max_iter + 1):
        # Jarvis: mean service time from the current dispatch shares
        calls = share @ lam if total > 0 else np.zeros(n)
        mean_tau = float((share * tau * lam).sum() / total) if total > 0 else float(tau.mean())
        served = np.where(calls > 0, calls, 1.0)
        unit_tau = np.where(calls > 0, (share * tau) @ lam / served, mean_tau)
        rho = total * mean_tau / n
        if q_rho is None or abs(rho - q_rho) > 1e-12:  # Q factors depend on rho only
            _, p_n = mmn_probabilities(n, rho)
            q = np.array([correction_factor(n, rho, j) for j in range(n)])
            q_rho = rho
        if it == 1:
            rho_n = np.full(n, rho)
        # S_n: rate of calls unit n takes while free (divided by (1 - rho_n)), V_n = S_n tau_n
        s_rate = np.zeros(n)
        new_share = np.zeros((n, n_atoms))
        prod = np.ones(n_atoms)
        for k in range(n):
            units = pref[:, k]
            p_k = q[k] * prod * (1.0 - rho_n[units])  # P(first k busy, (k+1)-th free)
            new_share[units, atom_idx] += p_k
            s_rate += np.bincount(units, weights=lam * q[k] * prod, minlength=n)
            prod = prod * rho_n[units]
            if float(prod.max(initial=0.0)) < 1e-14:  # deeper preferences carry nothing
                break
        new_share += p_n / n  # queued calls go to whichever unit frees up first
        v = s_rate * unit_tau
        new_rho = (v + rho * p_n * unit_tau / mean_tau) / (1.0 + v)
        # Larson's normalisation: the workloads sum to the M/M/N total N * rho
        if new_rho.sum() > 0:
            new_rho *= n * rho / new_rho.sum()
        new_rho = np.clip(new_rho, 0.0, 1.0)
        delta = float(np.abs(new_rho - rho_n).max())
        if delta > last_delta:  # oscillating: damp the step (successive under-relaxation)
            damping = max(damping / 2.0, 0.05)
        last_delta = delta
        rho_n = rho_n + damping * (new_rho - rho_n) if it > 1 else new_rho
        share = new_share / np.where(new_share.sum(axis=0) > 0, new_share.sum(axis=0), 1.0)
        if delta < tol:
            converged = True
            break
    atom_busy = rho_n[pref[:, 0]]
    return _finish(lam, atom_busy, rho_n, share, p_n, rho, "larson-approx", it, converged)
