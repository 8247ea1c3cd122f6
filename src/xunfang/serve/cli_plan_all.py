"""`xunfang plan --area district:all`: every district planned at once (see plan/city_plan)."""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from xunfang.config import Settings
from xunfang.errors import ValidationError
from xunfang.ingest.city import default_city
from xunfang.ingest.incidents import IncidentTable
from xunfang.plan.booth_plan import BoothPlan, PlanConfig, plan_warnings, read_plan_incidents
from xunfang.plan.city_plan import (
    DistrictSummary,
    StationsOutside,
    area_folder,
    city_network,
    city_totals,
    distinct_stations,
    district_areas,
    earlier_run_folders,
    incidents_in_no_area,
    plan_city,
    write_city_summary,
)
from xunfang.serve.city_report import write_city_report
from xunfang.serve.report import render_plan_files, write_plan_files


@dataclass(frozen=True)
class RenderedDistrict:
    """What a worker sends back of a district's plan for the city run: the text of its output
    files (:func:`xunfang.serve.report.render_plan_files`) and its outline (WGS-84)."""

    files: dict[str, str]
    polygon_wgs84: shapely.Geometry
    warnings: tuple[str, ...] = ()
    """:func:`xunfang.plan.booth_plan.plan_warnings` of the plan, for the terminal."""


def render_district(
    plan: BoothPlan, out: Path, lang: str, output_frame: str = "wgs84"
) -> RenderedDistrict:
    """A district's files, rendered where it was planned, for ``out/<area>/``, with
    positions in ``output_frame`` (``--output-frame``) as a single-area plan writes them."""
    folder = out / area_folder(plan.config.area or plan.area.name)
    files = render_plan_files(plan, folder, lang=lang, output_frame=output_frame, city_dir=out)
    return RenderedDistrict(files, plan.area.polygon_wgs84, tuple(plan_warnings(plan, lang)))


def ingest_once(
    config: PlanConfig, settings: Settings, areas: list[str]
) -> tuple[IncidentTable, Any]:
    """The city's incidents, ingested once (an ingested .parquet is read as it is), in the
    projected CRS of the first area (each district plan reprojects to its own)."""
    city = config.city or default_city(settings.data_dir)
    crs = city.study_area(areas[0], crs=config.crs).crs
    return read_plan_incidents(config, city, crs)


LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}
"""dask settings of the local cluster of :func:`dask_client` (its scheduler and nannies live
in this process, its workers get them from their nannies): the event-loop tick every 0.5 s
instead of 20 ms, the system monitor every 2 s instead of 0.5 s, each nanny's look at its
worker's memory every 1 s instead of 0.1 s (a worker over its 4 GiB is still stopped), no
statistical profile of the tasks (for a dashboard that is off; its sampler ran every 10 ms).
Measured with two idle workers for 30 s: this process's CPU 1.1 s -> 0.26 s, each worker's
1.3 s -> 0.5 s; over a city plan of 8 minutes that is about 13 s of this process's CPU and
13 s of each worker's. With the scatter without tokens (:func:`xunfang.plan.city_plan.map_areas`),
``benchmarks/bench_city.py`` (the example city's 22 districts, two workers, load 7-9) measured
the client's
CPU at 29.8 s before and 9.4 s after. The workers keep glibc's own malloc thresholds: dask
sets ``MALLOC_TRIM_THRESHOLD_=65536`` in each worker's environment, which also freezes the
mmap threshold at 128 KiB, so every array over it was mapped fresh and returned to the system
when freed; the planners' temporaries of tens of MB were page-faulted in again each time
(4 districts on two workers: 2.53 million minor page faults and 4.7 s of system CPU before,
0.39 million and 2.2 s after; the whole city: 21.8 million and 45 s of system CPU before).
The tasks' answers do not depend on them."""


class CityRunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a city run's districts: how many were finished (their folders written
    whole) of how many, and whether it came while the city summary was being written
    (``in_summary``). Raised by :func:`district_progress` and :func:`after_districts`; the
    commands turn it into one line and exit code 130 (:func:`interrupted_exit`)."""

    def __init__(self, finished: int, total: int, *, in_summary: bool = False) -> None:
        super().__init__(f"interrupted: {finished} of {total} districts finished")
        self.finished = finished
        self.total = total
        self.in_summary = in_summary


@contextmanager
def after_districts(finished: int, total: int) -> Iterator[None]:
    """Around a city run's last step (the city summary and report, after the districts):
    a Ctrl-C there becomes :class:`CityRunInterrupted` with ``in_summary``."""
    try:
        yield
    except KeyboardInterrupt as exc:
        if isinstance(exc, CityRunInterrupted):
            raise
        raise CityRunInterrupted(finished, total, in_summary=True) from None


@contextmanager
def _sigint_held() -> Iterator[list[int]]:
    """SIGINT blocked in the processes started in the block, and held back for this one
    (main thread only): the list yielded holds the signal when a Ctrl-C came meanwhile,
    for the caller to raise once it can close what the block started.

    The block runs with SIGINT blocked in this thread (:func:`signal.pthread_sigmask`);
    the threads started in it (dask's event loop and process watchers) and the processes
    they start (the LocalCluster's workers, spawned) inherit the mask, which ``exec``
    keeps: a Ctrl-C in the terminal stays pending in the workers, never delivered, and
    reaches this process alone, which closes them, instead of each printing a traceback.
    Here a handler records it (a thread started before the block may take it; else it is
    taken when the mask is restored): before, SIGINT was ignored meanwhile and a Ctrl-C
    pressed while the workers started (about 2 s) was lost. multiprocessing's resource
    tracker is started first, since starting it unblocks SIGINT in the thread that does
    (:func:`multiprocessing.resource_tracker.ensure_running`, Python 3.11)."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    with _sigint_recorded() as held:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield held
        finally:
            # a pending Ctrl-C is handled (recorded) before this call returns
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)


@contextmanager
def _sigint_recorded() -> Iterator[list[int]]:
    """SIGINT recorded in the list yielded instead of raised while the block runs (main
    thread only); the previous handler is put back after it."""
    held: list[int] = []
    old = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield held
    finally:
        signal.signal(signal.SIGINT, old)


@contextmanager
def whole_district() -> Iterator[None]:
    """Hold a Ctrl-C back while a district's files are written and it is counted as
    finished (main thread only), and raise it (``KeyboardInterrupt``) when they are: so a
    district's folder is written whole or, when the run is interrupted before it, not
    touched by this run, and the "interrupted: N of M" line counts every folder written
    (with the count outside the block, a Ctrl-C held back while the files were written
    was raised before it: "0 of 2 finished" beside a complete folder)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _sigint_recorded() as pending:
        yield
    if pending:
        raise KeyboardInterrupt


def _quiet_distributed() -> None:
    """Silence dask.distributed's loggers (and tornado's, asyncio's) for the rest of the
    process: after a Ctrl-C, closing the cluster logs its cancelled tasks and closed
    comms at length, none of it the user's business."""
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in _NOISY]
    for name in (*_NOISY, *names):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


_NOISY = ("distributed", "tornado", "asyncio")


@contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler`` (tcp://HOST:PORT), of a LocalCluster with
    ``workers`` single-threaded worker processes, or None (``workers == 0``: in process).

    The local workers have SIGINT blocked (Ctrl-C reaches this process only; one pressed while
    they start is held back and raised once the cluster is up, :func:`_sigint_held`); on
    Ctrl-C the cluster is closed with dask's loggers silenced
    (:func:`_quiet_distributed`), in this process and in the local workers."""
    if scheduler is None and workers == 0:
        yield None
        return
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            try:
                yield client
            except KeyboardInterrupt:
                _quiet_distributed()
                raise
        return
    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        with _sigint_held() as held:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                memory_limit="4GiB",
            )
        with cluster, Client(cluster) as client:
            try:
                if held:  # Ctrl-C while the workers started: closed as any other
                    raise KeyboardInterrupt
                yield client
            except KeyboardInterrupt:
                _quiet_distributed()
                # the workers are this run's own: their logs of the cancelled tasks too
                with contextlib.suppress(Exception):
                    client.run(_quiet_distributed, on_error="ignore")
                raise


class DistrictBars:
    """One progress bar per district (see :func:`district_progress`)."""

    def __init__(self, progress: Progress, areas: Sequence[str], doing: str) -> None:
        self._progress = progress
        self._doing = doing
        self._tasks = {a: progress.add_task(a, total=1, state="queued", start=False) for a in areas}
        self.finished: list[str] = []
        """The areas finished (their files written), in the order they finished."""

    def started(self, area: str) -> None:
        """The area's task was submitted (or started, in process)."""
        self._progress.start_task(self._tasks[area])
        self._progress.update(self._tasks[area], state=self._doing)

    def done(self, area: str, state: str, *, finished: bool = True) -> None:
        """The area is over; ``state`` is shown on its bar. ``finished``: its files are
        written (False for a district that failed)."""
        self._progress.update(self._tasks[area], completed=1, state=state)
        self._progress.stop_task(self._tasks[area])
        if finished:
            self.finished.append(area)


@contextmanager
def district_progress(console: Console, areas: Sequence[str], doing: str) -> Iterator[DistrictBars]:
    """Progress bars, one per area (the city plan, deploy and simulation share them).

    Raises
    ------
    CityRunInterrupted
        On Ctrl-C in the block (after the blocks inside it, e.g. the cluster, are closed),
        with the number of areas finished (:attr:`DistrictBars.finished`) and of areas.
    """
    bars = None
    try:
        with Progress(
            TextColumn("[bold]{task.description:<14}"),
            BarColumn(),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            console=console,
            # one redraw a second: at rich's 10 the bars of a 22-district plan took 12 s of
            # the client's CPU in 14 minutes, on the cores the workers need
            refresh_per_second=1,
        ) as progress:
            bars = DistrictBars(progress, areas, doing)
            yield bars
    except KeyboardInterrupt as exc:
        if isinstance(exc, CityRunInterrupted):
            raise
        raise CityRunInterrupted(len(bars.finished) if bars else 0, len(areas)) from None


def interrupted_exit(
    exc: KeyboardInterrupt, out: Path, console: Console, lang: str = "en"
) -> typer.Exit:
    """Print the one line of a city run stopped by Ctrl-C (how many districts were finished,
    where they are) and return the exit (code 130, as a shell gives a command ended by
    SIGINT) for the command to raise. ``exc`` is a :class:`CityRunInterrupted` (Ctrl-C while
    the districts ran) or a plain ``KeyboardInterrupt`` (before: nothing written)."""
    if isinstance(exc, CityRunInterrupted) and exc.in_summary:
        n, m = exc.finished, exc.total
        line = (
            f"已中断（正在写城市汇总时）：{m} 个辖区中已完成 {n} 个，写在 {escape(str(out))}"
            "（每个已完成辖区的文件夹是完整的；城市汇总和报告可能缺失或仍是之前运行的）"
            if lang == "zh"
            else f"interrupted while the city summary was written: {n} of {m} districts "
            f"finished, written to {escape(str(out))} (each finished district's folder is "
            "complete; the city summary and report may be missing or from an earlier run)"
        )
    elif isinstance(exc, CityRunInterrupted):
        n, m = exc.finished, exc.total
        line = (
            f"已中断：{m} 个辖区中已完成 {n} 个，写在 {escape(str(out))}（每个已完成辖区的"
            "文件夹是完整的；未写城市汇总）"
            if lang == "zh"
            else f"interrupted: {n} of {m} districts finished, written to {escape(str(out))} "
            "(each finished district's folder is complete; no city summary was written)"
        )
    else:
        line = (
            f"已中断：尚无辖区完成，未向 {escape(str(out))} 写入结果"
            if lang == "zh"
            else f"interrupted: no district finished yet, nothing written to {escape(str(out))}"
        )
    console.print(line, soft_wrap=True)
    return typer.Exit(130)


@contextmanager
def exit_130_on_interrupt(out: Path, console: Console, lang: str = "en") -> Iterator[None]:
    """Around a city run: a Ctrl-C ends it with one line and exit code 130
    (:func:`interrupted_exit`) instead of a traceback.

    Raises
    ------
    typer.Exit
        Code 130, on ``KeyboardInterrupt`` in the block.
    """
    try:
        yield
    except KeyboardInterrupt as exc:
        raise interrupted_exit(exc, out, console, lang) from None


def earlier_folders_line(
    folders: Sequence[str], out: Path, summary: str, lang: str = "en"
) -> str | None:
    """The terminal warning naming the subfolders of a city run's folder ``out`` left by
    an earlier run (:func:`xunfang.plan.city_plan.earlier_run_folders`; at most 10 named,
    then "and N more"), pointing to ``summary`` (the JSON that lists them all); None when
    there are none."""
    if not folders:
        return None
    shown = ", ".join(escape(f) for f in folders[:10])
    rest = len(folders) - 10
    if lang == "zh":
        more = f" 等另 {rest} 个" if rest > 0 else ""
        return (
            f"[yellow]警告：[/]{escape(str(out))} 中有 {len(folders)} 个文件夹来自之前的运行，"
            f"不是本次的结果（未删除；见 {summary} 的 earlier_run_folders）：{shown}{more}"
        )
    more = f" and {rest} more" if rest > 0 else ""
    return (
        f"[yellow]warning:[/] {len(folders)} folder(s) in {escape(str(out))} are from an "
        f"earlier run, not this one (left in place; see earlier_run_folders in {summary}): "
        f"{shown}{more}"
    )


def stations_outside_line(
    outside: Any,
    source: str,
    buffer_m: float,
    output_frame: str = "wgs84",
    lang: str = "en",
) -> str | None:
    """The terminal warning naming the stations of ``source`` (the stations file) that lie
    outside every area of a city run, farther than ``buffer_m`` from each, so in no
    district's plan (``outside``: :meth:`xunfang.ingest.city.City.stations_outside`): name
    and lon/lat in ``output_frame`` (as the run's files), at most 10, then "and N more";
    None when there are none."""
    if outside is None or not len(outside):
        return None
    from xunfang.ingest.coords import to_output_frame

    lon, lat = to_output_frame(
        outside.geometry.x.to_numpy(), outside.geometry.y.to_numpy(), output_frame
    )
    names = [str(n) for n in outside["name"]]
    shown = ", ".join(
        f"{escape(n)} ({x:.6f}, {y:.6f})" for n, x, y in zip(names[:10], lon, lat, strict=False)
    )
    rest = len(names) - 10
    n = len(names)
    if lang == "zh":
        more = f"，另有 {rest} 个" if rest > 0 else ""
        return (
            f"[yellow]警告：[/]{escape(source)} 中有 {n} 个派出所在所有区域之外（距每个区域都超过 "
            f"{buffer_m:.0f} 米），未用于任何辖区的方案（经纬度，{output_frame}）：{shown}{more}"
        )
    more = f", and {rest} more" if rest > 0 else ""
    return (
        f"[yellow]warning:[/] {n} station(s) of {escape(source)} lie outside every area (more "
        f"than {buffer_m:.0f} m from each), so in no district's plan (lon, lat {output_frame}): "
        f"{shown}{more}"
    )


def city_network_line(how: str, n_nodes: int, seconds: float, lang: str = "en") -> str:
    """The terminal line on the city's road network (built once, districts cut from it)."""
    if lang == "zh":
        how_zh = {"loaded": "读自缓存", "built": "新建", "rebuilt": "重建", "off": "未用缓存"}.get(
            how, how
        )
        return (
            f"全市路网（{how_zh}）：{n_nodes:,} 个节点，用时 {seconds:.1f} 秒；各辖区路网由其切出"
        )
    return (
        f"city road network ({how}): {n_nodes:,} nodes in {seconds:.1f} s; "
        "each district's is cut from it"
    )


def run_city_plan(
    config: PlanConfig,
    areas_spec: str,
    settings: Settings,
    out: Path,
    *,
    console: Console,
    scheduler: str | None = None,
    workers: int = 2,
    lang: str = "en",
    cut_from_city: bool = True,
    output_frame: str = "wgs84",
) -> tuple[list[DistrictSummary], dict[str, Any], Any]:
    """Plan every area of ``areas_spec``, write ``out/<area>/`` folders and the city summary.

    ``output_frame`` is the frame of the lon/lat in each district's CSV and GeoJSON files
    (``--output-frame``: ``wgs84``, ``gcj02`` or ``bd09``), recorded in its
    ``plan_summary.json`` as for a single-area plan.

    With ``cut_from_city`` the city's road network is built once (or read from
    ``settings.cache_dir``) and each district's cut from it; else each district builds
    its own (or reads it from the cache).

    A district whose plan fails (e.g. no incidents inside it) does not stop the others:
    it is listed with its reason in the city summary and report, and under ``failed``
    (area -> reason) in the returned totals.

    Returns the district summaries, the city totals and the ingest report (None for a parquet).

    Raises
    ------
    ValidationError
        If every district failed (naming each one's reason).
    """
    areas = district_areas(settings, areas_spec, config.city)
    t0 = time.perf_counter()
    zh = lang == "zh"
    console.print(
        f"为 {len(areas)} 个区域一次性导入警情 ..."
        if zh
        else f"ingesting incidents once for {len(areas)} areas ..."
    )
    incidents, report = ingest_once(config, settings, areas)
    console.print(
        f"{len(incidents):,} 起警情，用时 {time.perf_counter() - t0:.1f} 秒"
        if zh
        else f"{len(incidents):,} incidents in {time.perf_counter() - t0:.1f} s"
    )
    the_city = config.city or default_city(settings.data_dir)
    stations_outside: StationsOutside | None = None
    if config.fixed_sites is None and the_city.stations is not None:
        outside = the_city.stations_outside(
            [the_city.study_area(a, crs=config.crs) for a in areas],
            buffer_m=config.station_buffer_m,
        )
        buffer_m = (
            the_city.station_buffer_m
            if config.station_buffer_m is None
            else config.station_buffer_m
        )
        line = stations_outside_line(outside, the_city.stations.name, buffer_m, output_frame, lang)
        if line:
            console.print(line, soft_wrap=True)
        stations_outside = StationsOutside.from_frame(outside, the_city.stations.name, buffer_m)
    network = None
    if cut_from_city:
        t0 = time.perf_counter()
        network, how = city_network(
            settings,
            config.city,
            areas[0],
            crs=config.crs,
            stitch_threshold_m=config.stitch_threshold_m,
            same_name_threshold_m=config.same_name_threshold_m,
        )
        console.print(city_network_line(how, network.n_nodes, time.perf_counter() - t0, lang))
    polygons: dict[str, shapely.Geometry] = {}
    failed: dict[str, str] = {}
    with (
        district_progress(console, areas, "规划中" if zh else "planning") as bars,
        dask_client(scheduler, workers) as client,
    ):

        def done(rendered: RenderedDistrict, summary: DistrictSummary) -> None:
            with whole_district():
                write_plan_files(rendered.files, out / area_folder(summary.area))
                polygons[summary.area] = rendered.polygon_wgs84
                if zh:
                    pm = (
                        "已证明最优"
                        if summary.pmedian_proven
                        else f"间隙 {summary.pmedian_gap:.3%}"
                    )
                    state = (
                        f"{summary.booths} 个岗亭，"
                        f"{summary.share_before:.0%} -> {summary.share_after:.0%}，p-中位{pm}，"
                        f"{summary.wall_time_s:.0f} 秒"
                    )
                else:
                    pm = (
                        "proven optimal"
                        if summary.pmedian_proven
                        else f"gap {summary.pmedian_gap:.3%}"
                    )
                    state = (
                        f"{summary.booths} booths, "
                        f"{summary.share_before:.0%} -> {summary.share_after:.0%}, p-median {pm}, "
                        f"{summary.wall_time_s:.0f} s"
                    )
                bars.done(summary.area, state)
            label = "警告：" if zh else "warning:"
            for warning in rendered.warnings:
                console.print(
                    f"[bold yellow]{label}[/] {escape(summary.area)}: {escape(warning)}",
                    soft_wrap=True,
                )

        summaries = plan_city(
            config,
            areas,
            settings,
            incidents,
            client=client,
            city_network=network,
            on_start=bars.started,
            on_done=done,
            render=functools.partial(
                render_district, out=out, lang=lang, output_frame=output_frame
            ),
            failed=failed,
        )
        for area in failed:
            bars.done(area, f"[red]{'失败' if zh else 'failed'}[/]", finished=False)
    with after_districts(len(summaries), len(areas)):
        if not summaries:
            raise ValidationError(
                ("每个区域都未能规划：" if zh else "every area failed: ")
                + "; ".join(f"{a}: {r}" for a, r in failed.items())
            )
        counts = {
            "incidents_total": len(incidents),
            "incidents_in_no_area": incidents_in_no_area(
                incidents, config.city or default_city(settings.data_dir), areas, config.crs
            ),
            # a station serving two districts is in both plans: count it once
            "stations_distinct": distinct_stations(
                [out / area_folder(s.area) / "sites.csv" for s in summaries]
            ),
        }
        # before the summary is overwritten: the previous one names its own folders
        earlier = earlier_run_folders(out, "city_summary", [area_folder(s.area) for s in summaries])
        write_city_summary(
            summaries,
            out,
            failed,
            output_frame=output_frame,
            earlier_folders=earlier,
            stations_outside=stations_outside,
            **counts,
        )
        write_city_report(
            summaries,
            polygons,
            out,
            lang=lang,
            failed=failed,
            counts=counts,
            earlier_folders=earlier,
            stations_outside=stations_outside,
        )
        totals = {**city_totals(summaries, **counts), "failed": dict(failed)}
    return summaries, {**totals, "earlier_run_folders": earlier}, report
