"""Scenario sweeps on dask.distributed: K booths x officers per booth.

Each task makes the booth plan for one K (MCLP on the months before the held-out month,
:func:`xunfang.plan.booth_plan.make_booth_plan`) and simulates the "stations + booths"
scenario for every officers-per-booth value, on the same held-out calls and seeds as every
other task (common random numbers across the sweep). Tasks run on a
:class:`dask.distributed.LocalCluster` by default, or on an existing cluster when a
scheduler address is given.

What a worker needs: the xunfang package, and the public data (road graphs, boundaries,
stations, the held-out month's incidents) at the **stated shared path** ``worker_data_dir``
(default: the client's data directory, at the same path on every machine: a network mount
or a copy). Everything else is shipped: the scenario and the values of the sweep go with
each task, and the training incidents of the booth plans (one Parquet file ingested once
by the client) are scattered to every worker once and written to the worker's own
temporary folder. On a remote cluster the workers keep their network caches in their own
cache folder (``XUNFANG_CACHE_DIR`` on the worker, else its default).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from xunfang.config import Settings
from xunfang.errors import ValidationError
from xunfang.ingest.city import City, default_city
from xunfang.ingest.incidents import ingest
from xunfang.simulate.calls import Period
from xunfang.simulate.runner import months_before, prepare, run_prepared
from xunfang.simulate.scenario import Scenario
from xunfang.simulate.tables import validate_model

SWEEP_FIGURES = (
    "response_median_min",
    "response_p90_min",
    "p1_response_median_min",
    "p1_response_p90_min",
    "share_response_within_1min",
    "share_response_within_3min",
    "share_response_within_5min",
    "mean_queue_s",
    "utilisation",
    "utilisation_booth",
    "unit_hours",
)


def parse_range(text: str, what: str) -> list[int]:
    """``"5:40:5"`` -> 5, 10, ..., 40; ``"3"`` -> [3]; ``"1,2,4"`` -> [1, 2, 4].

    Raises
    ------
    ValidationError
        Naming ``what`` when the text is not a range of non-negative integers.
    """
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            start, stop = parts[0], parts[1]
            step = parts[2] if len(parts) == 3 else 1
            if step <= 0 or stop < start:
                raise ValueError
            values = list(range(start, stop + 1, step))
        else:
            values = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ValidationError(
            f"{what} must be START:STOP[:STEP] or a comma list of integers, got {text!r}"
        ) from None
    if not values or min(values) < 0:
        raise ValidationError(f"{what} must give non-negative integers, got {text!r}")
    return values


def sweep_task(
    scenario_raw: dict[str, Any],
    settings_raw: dict[str, Any],
    booths: int,
    officers: Sequence[int],
    plan_incidents: str | None,
) -> list[dict[str, float]]:
    """One sweep task (runs on a worker): the plan for ``booths``, then one simulation
    per officers-per-booth value. Returns one row per value."""
    start = time.perf_counter()
    base = validate_model(Scenario, scenario_raw, scenario_raw.get("source", "sweep"))
    settings = Settings(**settings_raw)
    scenario = base.with_changes(plan={"booths": booths, "sites_csv": None})
    prep = prepare(
        scenario, settings, plan_incidents=Path(plan_incidents) if plan_incidents else None
    )
    prep_s = time.perf_counter() - start
    rows = []
    for n in officers:
        sc = scenario.with_changes(units={"booth": {"officers_per_booth": n}})
        cmp = run_prepared(dataclasses.replace(prep, scenario=sc), variants=["booths"])
        res = cmp.results.get("booths")
        row: dict[str, float] = {"booths": booths, "officers_per_booth": n}
        if res is None:  # zero booths: only stations
            cmp = run_prepared(dataclasses.replace(prep, scenario=sc), variants=["stations"])
            res = cmp.results["stations"]
        row["units"] = res.n_units
        for key in SWEEP_FIGURES:
            est = res.estimates.get(key)
            row[key] = est.mean if est is not None else float("nan")
            row[f"{key}_ci95"] = est.half_width if est is not None else float("nan")
        row["calls_per_replication"] = res.estimates["calls"].mean
        row["sim_s"] = res.sim_s
        row["prepare_s"] = prep_s
        rows.append(row)
    return rows


def training_parquet(base: Scenario, settings: Settings, out_dir: Path) -> Path:
    """Ingest the months before the held-out month once (client side) into a Parquet file
    that every task's booth plan reads, instead of re-reading the CSV files."""
    period = Period.month(base.scenario.month)
    city = (
        City.from_toml(base.path(base.scenario.city), data_dir=settings.data_dir)
        if base.scenario.city
        else default_city(settings.data_dir)
    )
    files = months_before(settings, period, city=city)
    prof = city.ingest_profile()
    table, _rejected, _report = ingest(files, prof, frame=city.incident_frame(prof))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"training_before_{period.label}.parquet"
    table.write_parquet(path)
    return path


def materialise(incidents: bytes | str | None) -> str | None:
    """On a worker: the path of the training-incident file, writing shipped bytes once
    to the worker's temporary folder (named by their SHA-1, written atomically)."""
    if incidents is None or isinstance(incidents, str):
        return incidents
    digest = hashlib.sha1(incidents).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "xunfang-sweep"
    path = folder / f"training-{digest}.parquet"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{digest}.{os.getpid()}.tmp"
        tmp.write_bytes(incidents)
        tmp.replace(path)
    return str(path)


def _on_worker(
    task: Callable[..., list[dict[str, float]]],
    scenario_raw: dict[str, Any],
    settings_raw: dict[str, Any],
    booths: int,
    officers: list[int],
    incidents: bytes | str | None,
) -> list[dict[str, float]]:
    return task(scenario_raw, settings_raw, booths, officers, materialise(incidents))


def run_sweep(
    base: Scenario,
    settings: Settings,
    booths: Sequence[int],
    officers: Sequence[int],
    *,
    out_dir: Path,
    scheduler: str | None = None,
    workers: int = 2,
    processes: bool = True,
    on_done: Callable[[int, int, str], None] | None = None,
    on_start: Callable[[str], None] | None = None,
    plan_incidents: Path | None = None,
    task: Callable[..., list[dict[str, float]]] = sweep_task,
    worker_data_dir: Path | str | None = None,
    ship_inputs: bool = True,
) -> pd.DataFrame:
    """Run the sweep on dask.distributed.

    Parameters
    ----------
    base
        The scenario the sweep varies (area, month, units, seeds).
    settings
        Data and cache folders of the client.
    booths, officers
        Values of K and of officers per booth.
    out_dir
        Where the training-incident Parquet file is written.
    scheduler
        Address of an existing scheduler (``tcp://host:8786``); None starts a LocalCluster.
    workers, processes
        LocalCluster size and whether workers are processes (True: parallel Python) or
        threads in this process.
    on_done
        Called as ``on_done(done, total, label)`` when a task finishes (progress).
    on_start
        Called with a message once the cluster is up.
    plan_incidents
        Training incidents for the plans (default: written by :func:`training_parquet`).
    task
        The function run per K (default :func:`sweep_task`; same signature: it receives
        the training file as a path on the worker).
    worker_data_dir
        The data directory as the workers see it (the stated shared path; default the
        client's ``settings.data_dir``).
    ship_inputs
        Ship the training file's bytes to the workers (default); False passes its path,
        which must then be valid on every worker too.

    Returns
    -------
    pandas.DataFrame
        One row per (booths, officers_per_booth), sorted.

    Raises
    ------
    ValidationError
        Without a K or an officers value.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    if not booths or not officers:
        raise ValidationError("the sweep needs at least one K (--booths) and one --officers")
    parquet = plan_incidents or training_parquet(base, settings, out_dir)
    raw = base.model_dump()
    settings_raw: dict[str, Any] = {
        "data_dir": str(worker_data_dir or settings.data_dir),
    }
    if scheduler is None:  # the same machine: share the client's caches
        settings_raw["cache_dir"] = str(settings.cache_dir)
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=":0",  # a free port: never clashes with another cluster
        )
        client = Client(cluster)
    try:
        if on_start is not None:
            n = len(client.scheduler_info().get("workers", {}))
            on_start(f"dask scheduler {client.scheduler_info().get('address')}, {n} worker(s)")
        incidents: Any = str(parquet)
        if ship_inputs:
            incidents = client.scatter(Path(parquet).read_bytes(), broadcast=True)
        futures = {
            client.submit(
                _on_worker,
                task,
                raw,
                settings_raw,
                k,
                list(officers),
                incidents,
                key=f"xunfang-sweep-K{k}",
                pure=False,
            ): k
            for k in booths
        }
        rows: list[dict[str, float]] = []
        for done, fut in enumerate(as_completed(futures), start=1):
            rows.extend(fut.result())
            if on_done is not None:
                on_done(done, len(futures), f"K={futures[fut]}")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return pd.DataFrame(rows).sort_values(["booths", "officers_per_booth"]).reset_index(drop=True)
