"""Benchmark of the p-median on real district instances: time to finish, status, UB and LB.

Each district's instance is built the way ``xunfang plan --area district:N`` builds it (same
study area, network, candidates, fixed stations and incident demand, the plan's defaults:
27 booths) and cached as ``.npz`` (travel-time matrix, weights, k, fixed sites) in
``--cache`` (default ``/tmp/pmed-cache``), so that later runs need no network. Then, per
district, ``p_median`` runs with ``--time-limit`` seconds (default 60, the plan's default)
and each stopping gap of ``--gaps`` (default 1e-3, the plan's ``--pmedian-gap``, then 1e-4,
run only where the first run did not already end within it), and the named baseline with its
own default (1e-4): ``p_median`` of ``src/xunfang/plan/siting.py`` (``pmedian.py`` since the
split of ``siting.py``) as it was at ``--baseline-rev`` (default: the merge base with
``main``; read with ``git show`` and imported as a module), all in this process, on the
``--baseline`` districts only (all 22 twice takes 45 minutes on this shared machine). The gap
is ``(UB - LB) / UB``; a run is ``optimal`` at a gap <= 1e-4 and ``within 0.1 %`` at <= 1e-3
(from the gap itself, whatever the status). A line per run gives wall and CPU time, the load
average, the gap, UB, LB and the seconds inside HiGHS; then a table of the wall seconds each
district took to end within each gap (``-``: not within the time limit) and the totals. On a
shared machine the wall time depends on the others' load: read the CPU time with it.

Measured (``PYTHONPATH=src .venv/bin/python benchmarks/bench_pmedian.py --areas <the 22>
--gaps 1e-3 --baseline 5,25 --baseline-gap 1e-3``, 60 s, other work on the 2 cores: load
2.3-3.2; the instances rebuilt from the data), against main's revision d4d3976 in the same
run: all 22 districts within 0.1 % of a proved bound, 4 proven optimal; 137 s wall and 138 s
CPU for the 22. Seconds to the stop (within 0.1 % or optimal), wall / CPU, load, UB, LB:

====  ===========  ============  ====  ===========  ===========
dist  wall / CPU   status        load  UB           LB
====  ===========  ============  ====  ===========  ===========
1     0.7 / 0.5    within 0.1 %  3.2   312,486.9    312,263.2
2     4.0 / 2.9    within 0.1 %  3.2   520,819.1    520,298.3
3     16.6 / 16.5  within 0.1 %  2.9   594,383.5    594,057.8
4     1.6 / 1.6    within 0.1 %  2.9   1,066,362.9  1,065,340.1
5     13.5 / 14.5  within 0.1 %  2.6   757,151.8    756,394.6
6     9.0 / 8.9    within 0.1 %  2.5   814,589.5    813,774.9
7     1.9 / 1.8    within 0.1 %  2.5   760,894.2    760,164.1
8     5.8 / 5.6    within 0.1 %  2.6   1,390,145.1  1,389,283.2
9     3.1 / 3.0    within 0.1 %  2.6   853,671.8    853,262.0
10    1.9 / 1.8    within 0.1 %  2.6   547,776.9    547,367.3
11    1.7 / 1.6    within 0.1 %  2.6   885,003.3    884,351.6
12    2.3 / 2.3    within 0.1 %  2.6   653,715.8    653,175.6
14    3.0 / 2.9    within 0.1 %  2.6   404,642.6    404,238.0
15    17.5 / 18.7  within 0.1 %  2.4   434,527.6    434,093.1
16    1.9 / 1.9    optimal       2.3   629,236.6    629,180.1
17    1.6 / 1.6    optimal       2.3   389,606.5    389,579.4
18    0.7 / 0.7    optimal       2.3   338,381.1    338,379.4
19    4.8 / 4.8    within 0.1 %  2.3   567,716.7    567,149.0
20    0.4 / 0.4    optimal       2.3   148,564.0    148,562.9
22    2.7 / 2.7    within 0.1 %  2.3   606,050.9    605,873.1
24    1.3 / 1.3    within 0.1 %  2.3   292,543.6    292,251.0
25    41.6 / 42.1  within 0.1 %  2.3   916,502.0    915,585.5
====  ===========  ============  ====  ===========  ===========

Main's revision, the same run and gap: district 5 within 0.1 % in 25.1 s (25.1 s CPU), 25 at
0.188 % at its 60 s limit (66.1 s CPU; LB 914,775.3). The run before this one, at load 3.6-5.5
(HiGHS restarting after root fixing, the only difference): 21 within 0.1 %, district 25 at
0.133 % at 60 s (49.7 s CPU) and 15 within it in 55.9 s (37.0 s CPU). At load 6-10 a
minute-long run gets 20-35 s of CPU: district 25 then needed 87 s of wall for 50.5 s of CPU
(with the restarts). Its UB of 916,502 is optimal (module notes). Before this revision (main,
p_median alone, load 2-3) 20 of 22 ended within 0.1 %: 5 in 41.7 s in one run and at
0.15-0.29 % in others, 25 at 0.253 %.

Needs the real data (``XUNFANG_DATA_DIR``) only to build a missing instance.

Run: ``.venv/bin/python benchmarks/bench_pmedian.py [--areas 1,16] [--baseline 16,8]
[--gaps 1e-3,1e-4]``
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

from xunfang.plan.siting import SitingResult, p_median


def _load(name: str, src: str) -> ModuleType:
    """Import ``src`` (Python source text) as a module of its own named ``name``."""
    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def baseline_module(rev: str) -> ModuleType:
    """The p-median code as it was at git revision ``rev`` (a module of its own).

    Up to the split of ``siting.py`` that is ``src/xunfang/plan/siting.py``; after it,
    ``pmedian.py`` with the ``_siting_common.py`` of the same revision (imported as
    ``siting_baseline_common``, so that the baseline uses none of the current code).
    """
    root = Path(__file__).resolve().parents[1]

    def show(path: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "show", f"{rev}:src/xunfang/plan/{path}"],
            cwd=root,
            capture_output=True,
            text=True,
        )

    if rev == "merge-base":
        rev = subprocess.run(
            ["git", "merge-base", "HEAD", "main"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    pmedian = show("pmedian.py")
    if pmedian.returncode != 0:
        siting = show("siting.py")
        siting.check_returncode()
        module = _load("siting_baseline", siting.stdout)
        print(f"baseline: src/xunfang/plan/siting.py at {rev[:12]}")
        return module
    common = show("_siting_common.py")
    common.check_returncode()
    _load("siting_baseline_common", common.stdout)
    src = pmedian.stdout.replace(
        "from xunfang.plan._siting_common import", "from siting_baseline_common import"
    )
    module = _load("siting_baseline", src)
    print(f"baseline: src/xunfang/plan/pmedian.py and _siting_common.py at {rev[:12]}")
    return module


def build_instances(areas: list[str], cache: Path) -> None:
    """Write ``district_NN.npz`` for each missing area, as ``xunfang plan --area`` builds it."""
    from xunfang.config import get_settings
    from xunfang.plan import booth_plan
    from xunfang.plan.booth_plan import PlanConfig, make_booth_plan
    from xunfang.serve.cli_plan_all import ingest_once

    missing = [a for a in areas if not (cache / f"district_{int(a):02d}.npz").exists()]
    if not missing:
        return
    settings = get_settings()
    names = [f"district:{a}" for a in missing]
    incidents, _ = ingest_once(PlanConfig(area=names[0]), settings, names)

    class Built(Exception):
        pass

    target: dict[str, Path] = {}
    real_mclp = booth_plan.mclp

    def dump(cost: np.ndarray, w: np.ndarray, k: int, _thr: float, **kw: object) -> None:
        fixed = np.asarray(kw.get("fixed", ()), dtype=np.int64)
        np.savez(target["path"], cost=cost, weights=w, k=k, fixed=fixed)
        raise Built

    booth_plan.mclp = dump  # type: ignore[assignment]
    try:
        for a, name in zip(missing, names, strict=True):
            target["path"] = cache / f"district_{int(a):02d}.npz"
            try:
                make_booth_plan(PlanConfig(area=name), settings, incidents=incidents)
            except Built:
                print(f"built {target['path']}")
    finally:
        booth_plan.mclp = real_mclp


def run(
    solve: Callable[..., SitingResult], path: Path, time_limit_s: float, gap: float | None
) -> tuple[SitingResult, float, float]:
    d = np.load(path)
    t0, c0 = time.perf_counter(), time.process_time()
    extra = {} if gap is None else {"mip_rel_gap": gap}
    res = solve(
        d["cost"],
        d["weights"],
        int(d["k"]),
        fixed=d["fixed"].tolist(),
        time_limit_s=time_limit_s,
        **extra,
    )
    return res, time.perf_counter() - t0, time.process_time() - c0


def status_of(res: SitingResult) -> str:
    """``optimal`` (gap <= 1e-4), ``within 0.1 %`` or ``gap x %``, from the gap itself."""
    if res.mip_gap <= 1e-4:
        return "optimal"
    return "within 0.1 %" if res.mip_gap <= 1e-3 else f"gap {res.mip_gap:.3%}"


def line(label: str, area: str, res: SitingResult, wall: float, cpu: float) -> str:
    return (
        f"{label:<14} district {area:>2}  wall {wall:5.1f} s  CPU {cpu:5.1f} s  "
        f"load {os.getloadavg()[0]:4.1f}  {status_of(res):<13} UB {res.objective:12,.1f}  "
        f"LB {res.objective_bound:12,.1f}  HiGHS {res.highs_time_s:4.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    all22 = "1,2,3,4,5,6,7,8,9,10,11,12,14,15,16,17,18,19,20,22,24,25"
    parser.add_argument("--areas", default=all22, help="districts, comma-separated")
    parser.add_argument("--baseline", default="16,8,4,3", help="districts also run as before")
    parser.add_argument("--baseline-rev", default="merge-base", help="git revision")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument(
        "--gaps",
        default="1e-3,1e-4",
        help="stopping gaps of the current code, comma-separated: the first is timed on every "
        "district, the others only where the first run did not already reach them",
    )
    parser.add_argument(
        "--baseline-gap",
        type=float,
        default=None,
        help="stopping gap given to the baseline (default: its own default)",
    )
    parser.add_argument("--cache", type=Path, default=Path("/tmp/pmed-cache"))
    args = parser.parse_args()
    areas = [a.strip() for a in args.areas.split(",") if a.strip()]
    base = [a.strip() for a in args.baseline.split(",") if a.strip()]
    gaps = [float(g) for g in args.gaps.split(",") if g.strip()]
    args.cache.mkdir(parents=True, exist_ok=True)
    build_instances(sorted(set(areas) | set(base), key=int), args.cache)
    old = baseline_module(args.baseline_rev)
    print(f"time limit {args.time_limit:g} s; load at start {os.getloadavg()}")

    # label -> [districts, optimal, within 0.1 %, wall, CPU]
    tally: dict[str, list[float]] = {}
    finish: dict[str, dict[float, float | None]] = {}  # area -> gap -> wall to reach it
    for area in areas:
        path = args.cache / f"district_{int(area):02d}.npz"
        runs: list[tuple[str, Callable[..., SitingResult], float | None]] = []
        runs += [(f"current {g:g}", p_median, g) for g in gaps]
        if area in base:
            runs.append(("baseline", old.p_median, args.baseline_gap))
        reached: dict[float, float | None] = dict.fromkeys(gaps)
        for label, solve, gap in runs:
            if label != "baseline" and gap is not None and reached[gap] is not None:
                continue  # an earlier (looser) run already ended within this gap
            res, wall, cpu = run(solve, path, args.time_limit, gap)
            print(line(label, area, res, wall, cpu), flush=True)
            if label != "baseline" and gap is not None:
                for g in gaps:
                    if reached[g] is None and res.mip_gap <= g:
                        reached[g] = wall
            t = tally.setdefault(label, [0, 0, 0, 0.0, 0.0])
            t[0] += 1
            t[1] += res.mip_gap <= 1e-4
            t[2] += res.mip_gap <= 1e-3
            t[3] += wall
            t[4] += cpu
        finish[area] = reached
    heads = "  ".join(f"to gap {g:g}" for g in gaps)
    print(
        f"\nper district, wall seconds to finish within each gap "
        f"(-: not within {args.time_limit:g} s)"
    )
    print(f"district  {heads}")
    for area, reached in finish.items():
        cells = "  ".join(
            f"{'-' if v is None else f'{v:.1f}':>{len(f'to gap {g:g}')}}"
            for g, v in reached.items()
        )
        print(f"{area:>8}  {cells}")
    for label, (n, opt, within, wall, cpu) in tally.items():
        print(
            f"{label}: {n:.0f} districts, {opt:.0f} optimal (gap <= 1e-4), {within:.0f} within "
            f"0.1 %, wall {wall:.0f} s, CPU {cpu:.0f} s"
        )
    print(f"load at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
